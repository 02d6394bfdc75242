//! Reading the HTTP/1.1 response of a write API (InfluxDB, Telegraf, VictoriaMetrics), as the
//! bytes arrive: enough of HTTP for a status, a short body, and whether the connection stays open.

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The connection may carry the next request.
    pub keep_alive: bool,
    /// `Retry-After` in seconds, when given as a number.
    pub retry_after_s: Option<u64>,
    /// The body (the upstream's error message, for a 4xx), at most [`MAX_BODY`] bytes kept.
    pub body: Vec<u8>,
}

/// Longest body kept: write APIs answer with a short JSON message at most.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// More bytes are needed.
    Incomplete,
    Done(Response),
    /// Not an HTTP/1.x response, or one this reader refuses.
    Invalid(String),
}

/// Parses `buf`, all that has arrived so far; `closed` says the peer closed the connection, which
/// ends a body that has neither a length nor chunks.
pub fn parse_response(buf: &[u8], closed: bool) -> Parse {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > 16 * 1024 {
            Parse::Invalid("response headers too long".into())
        } else {
            Parse::Incomplete
        };
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return Parse::Invalid("response headers are not UTF-8".into());
    };
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let Some(status) = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..600).contains(s))
    else {
        return Parse::Invalid(format!("bad status line {status_line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Parse::Invalid(format!("bad status line {status_line:?}"));
    }
    let mut keep_alive = version == "HTTP/1.1";
    let (mut length, mut chunked, mut retry_after_s) = (None, false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => keep_alive = !value.eq_ignore_ascii_case("close"),
            "retry-after" => retry_after_s = value.parse().ok(),
            _ => {}
        }
    }
    let body = &buf[head_end + 4..];
    let done = |body: &[u8], keep_alive| {
        Parse::Done(Response {
            status,
            keep_alive,
            retry_after_s,
            body: body[..body.len().min(MAX_BODY)].to_vec(),
        })
    };
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return done(&[], keep_alive);
    }
    if chunked {
        return match dechunk(body) {
            Some(Ok(content)) => done(&content, keep_alive),
            Some(Err(e)) => Parse::Invalid(e),
            None if closed => Parse::Invalid("connection closed inside a chunked body".into()),
            None => Parse::Incomplete,
        };
    }
    match length {
        Some(n) if body.len() >= n => done(&body[..n], keep_alive),
        Some(_) if closed => Parse::Invalid("connection closed before the end of the body".into()),
        Some(_) => Parse::Incomplete,
        None if closed => done(body, false),
        None => Parse::Incomplete,
    }
}

/// `None` while the last chunk has not arrived.
fn dechunk(mut body: &[u8]) -> Option<Result<Vec<u8>, String>> {
    let mut content = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end])
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return Some(Err(format!("bad chunk size {size_text:?}")));
        };
        let rest = &body[line_end + 2..];
        if size == 0 {
            return Some(Ok(content));
        }
        if rest.len() < size + 2 {
            return None;
        }
        if content.len() < MAX_BODY {
            content.extend_from_slice(&rest[..size]);
        }
        body = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(raw: &str) -> Response {
        match parse_response(raw.as_bytes(), false) {
            Parse::Done(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_no_content_answers() {
        let r = done("HTTP/1.1 204 No Content\r\nX-Influxdb-Version: 1.6.7\r\n\r\n");
        assert_eq!((r.status, r.keep_alive, r.body.is_empty()), (204, true, true));
    }

    #[test]
    fn reads_bodies_by_length_and_by_chunks() {
        let r = done("HTTP/1.1 400 Bad Request\r\nContent-Length: 17\r\n\r\n{\"error\":\"bad\"}\r\n");
        assert_eq!(
            (r.status, r.body.as_slice()),
            (400, &b"{\"error\":\"bad\"}\r\n"[..])
        );
        let r =
            done("HTTP/1.1 500 X\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn waits_for_what_has_not_arrived() {
        for partial in [
            "HTTP/1.1 204 No",
            "HTTP/1.1 400 X\r\nContent-Length: 10\r\n\r\nabc",
            "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
        ] {
            assert_eq!(
                parse_response(partial.as_bytes(), false),
                Parse::Incomplete,
                "{partial}"
            );
        }
        let r = parse_response(b"HTTP/1.0 500 X\r\n\r\nuntil close", true);
        assert!(
            matches!(
                r,
                Parse::Done(Response {
                    status: 500,
                    keep_alive: false,
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[test]
    fn reads_connection_and_retry_after() {
        let r = done("HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((r.keep_alive, r.retry_after_s), (false, Some(7)));
        assert!(!done("HTTP/1.0 204 OK\r\n\r\n").keep_alive);
    }

    #[test]
    fn refuses_what_is_not_http() {
        for bad in [
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 abc\r\n\r\n",
            "HTTP/2 200\r\n\r\n",
            "HTTP/1.1 999 X\r\n\r\n",
        ] {
            assert!(
                matches!(parse_response(bad.as_bytes(), false), Parse::Invalid(_)),
                "{bad}"
            );
        }
    }
}
