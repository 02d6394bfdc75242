//! Where lines go: the address given to `analytics_sink`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkAddress {
    /// `udp://host:port`: datagrams of whole lines (Telegraf `socket_listener`, InfluxDB 1.x UDP,
    /// VictoriaMetrics).
    Udp { host: String, port: u16 },
    /// `file:/absolute/path`: appended, reopened with `nginx -s reopen`.
    File { path: String },
    /// `http://host[:port]/path?query`: batches POSTed to a write API (InfluxDB 1.x `/write`,
    /// 2.x `/api/v2/write`, 3 `/api/v3/write_lp`, Telegraf, VictoriaMetrics); `https://` (`tls`)
    /// the same over TLS, on port 443 unless another is given.
    Http {
        host: String,
        port: u16,
        path_and_query: String,
        tls: bool,
    },
}

impl SinkAddress {
    pub fn parse(s: &str) -> Result<SinkAddress, String> {
        if let Some(rest) = s.strip_prefix("udp://") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| format!("\"{s}\": a UDP sink needs a port, as in udp://127.0.0.1:8089"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = parse_port(s, port)?;
            if host.is_empty() || host.contains(['/', '@', '?', '#']) {
                return Err(format!("\"{s}\": invalid host \"{host}\""));
            }
            return Ok(SinkAddress::Udp {
                host: host.to_owned(),
                port,
            });
        }
        if let Some(path) = s.strip_prefix("file:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if !path.starts_with('/') {
                return Err(format!(
                    "\"{s}\": a file sink needs an absolute path, as in file:/var/log/nginx/analytics.lp"
                ));
            }
            return Ok(SinkAddress::File {
                path: path.to_owned(),
            });
        }
        let http = s.strip_prefix("http://").map(|rest| (rest, false));
        if let Some((rest, tls)) = http.or_else(|| s.strip_prefix("https://").map(|rest| (rest, true))) {
            let split = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, path_and_query) = rest.split_at(split);
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) if !authority.ends_with(']') => (host, parse_port(s, port)?),
                _ => (authority, if tls { 443 } else { 80 }),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() || host.contains(['@', ' ', '/']) {
                return Err(format!("\"{s}\": invalid host \"{host}\""));
            }
            if path_and_query.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(format!("\"{s}\": the path has spaces or control characters"));
            }
            let path_and_query = if path_and_query.starts_with('/') {
                path_and_query.to_owned()
            } else {
                format!("/{path_and_query}")
            };
            return Ok(SinkAddress::Http {
                host: host.to_owned(),
                port,
                path_and_query,
                tls,
            });
        }
        Err(format!(
            "\"{s}\": unknown sink; use udp://host:port, http(s)://host:port/path or file:/path"
        ))
    }
}

fn parse_port(sink: &str, port: &str) -> Result<u16, String> {
    port.parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("\"{sink}\": invalid port \"{port}\""))
}

impl fmt::Display for SinkAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkAddress::Udp { host, port } if host.contains(':') => write!(f, "udp://[{host}]:{port}"),
            SinkAddress::Udp { host, port } => write!(f, "udp://{host}:{port}"),
            SinkAddress::File { path } => write!(f, "file:{path}"),
            // The query string is left out: it may hold credentials (InfluxDB 1.x `u=` and `p=`).
            SinkAddress::Http {
                host,
                port,
                path_and_query,
                tls,
            } => {
                let path = path_and_query.split('?').next().unwrap_or("/");
                let scheme = if *tls { "https" } else { "http" };
                if host.contains(':') {
                    write!(f, "{scheme}://[{host}]:{port}{path}")
                } else {
                    write!(f, "{scheme}://{host}:{port}{path}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_udp_and_file_sinks() {
        assert_eq!(
            SinkAddress::parse("udp://127.0.0.1:8089"),
            Ok(SinkAddress::Udp {
                host: "127.0.0.1".into(),
                port: 8089
            })
        );
        assert_eq!(
            SinkAddress::parse("udp://[::1]:9").unwrap().to_string(),
            "udp://[::1]:9"
        );
        assert_eq!(
            SinkAddress::parse("file:/tmp/a.lp"),
            Ok(SinkAddress::File {
                path: "/tmp/a.lp".into()
            })
        );
        assert_eq!(
            SinkAddress::parse("file:///tmp/a.lp"),
            Ok(SinkAddress::File {
                path: "/tmp/a.lp".into()
            })
        );
    }

    #[test]
    fn parses_http_sinks_and_never_shows_their_query() {
        let a = SinkAddress::parse("http://127.0.0.1:8086/write?db=analytics&u=me&p=secret").unwrap();
        assert_eq!(
            a,
            SinkAddress::Http {
                host: "127.0.0.1".into(),
                port: 8086,
                path_and_query: "/write?db=analytics&u=me&p=secret".into(),
                tls: false
            }
        );
        assert_eq!(a.to_string(), "http://127.0.0.1:8086/write");
        assert_eq!(
            SinkAddress::parse("http://influx.local?db=x").unwrap(),
            SinkAddress::Http {
                host: "influx.local".into(),
                port: 80,
                path_and_query: "/?db=x".into(),
                tls: false
            }
        );
        assert_eq!(
            SinkAddress::parse("http://[::1]:8428/write").unwrap().to_string(),
            "http://[::1]:8428/write"
        );
    }

    #[test]
    fn parses_https_sinks_with_port_443_by_default() {
        let a = SinkAddress::parse("https://influx.example.com/api/v2/write?org=o&bucket=b").unwrap();
        assert_eq!(
            a,
            SinkAddress::Http {
                host: "influx.example.com".into(),
                port: 443,
                path_and_query: "/api/v2/write?org=o&bucket=b".into(),
                tls: true
            }
        );
        assert_eq!(a.to_string(), "https://influx.example.com:443/api/v2/write");
        assert_eq!(
            SinkAddress::parse("https://[::1]:8443/write?db=x")
                .unwrap()
                .to_string(),
            "https://[::1]:8443/write"
        );
    }

    #[test]
    fn refuses_bad_sinks_with_a_reason() {
        for (bad, says) in [
            ("udp://127.0.0.1", "needs a port"),
            ("udp://127.0.0.1:0", "invalid port"),
            ("udp://127.0.0.1:99999", "invalid port"),
            ("udp://:8089", "invalid host"),
            ("file:relative.lp", "absolute path"),
            ("tcp://x:1", "unknown sink"),
            ("https://x:0/write", "invalid port"),
            ("https://u:p@x/write", "invalid"),
            ("ftp://x/write", "unknown sink"),
            ("http://x:0/write", "invalid port"),
            ("http://u:p@x:8086/write", "invalid"),
            ("http://:8086/write", "invalid host"),
        ] {
            let e = SinkAddress::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
