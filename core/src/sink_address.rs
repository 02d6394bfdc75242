//! Where lines go: the address given to `analytics_sink`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkAddress {
    /// `udp://host:port`: datagrams of whole lines (Telegraf `socket_listener`, InfluxDB 1.x UDP,
    /// VictoriaMetrics).
    Udp { host: String, port: u16 },
    /// `file:/absolute/path`: appended, reopened with `nginx -s reopen`.
    File { path: String },
}

impl SinkAddress {
    pub fn parse(s: &str) -> Result<SinkAddress, String> {
        if let Some(rest) = s.strip_prefix("udp://") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| format!("\"{s}\": a UDP sink needs a port, as in udp://127.0.0.1:8089"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port: u16 = port
                .parse()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("\"{s}\": invalid port \"{port}\""))?;
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
        if s.starts_with("http://") || s.starts_with("https://") {
            return Err(format!(
                "\"{s}\": HTTP sinks are not supported by this version; use udp:// or file:"
            ));
        }
        Err(format!(
            "\"{s}\": unknown sink; use udp://host:port or file:/path"
        ))
    }
}

impl fmt::Display for SinkAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkAddress::Udp { host, port } if host.contains(':') => {
                write!(f, "udp://[{host}]:{port}")
            }
            SinkAddress::Udp { host, port } => write!(f, "udp://{host}:{port}"),
            SinkAddress::File { path } => write!(f, "file:{path}"),
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
    fn refuses_bad_sinks_with_a_reason() {
        for (bad, says) in [
            ("udp://127.0.0.1", "needs a port"),
            ("udp://127.0.0.1:0", "invalid port"),
            ("udp://127.0.0.1:99999", "invalid port"),
            ("udp://:8089", "invalid host"),
            ("file:relative.lp", "absolute path"),
            ("tcp://x:1", "unknown sink"),
            ("http://x:8086/write", "not supported"),
        ] {
            let e = SinkAddress::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
