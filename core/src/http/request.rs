//! The HTTP/1.1 request that carries one batch of lines to a write API.

/// Writes a complete `POST` of `body` (lines of line protocol) into `out`. `headers` are the
/// configured extra headers (such as `Authorization: Token ...`), already checked.
pub fn write_request(
    out: &mut Vec<u8>,
    host: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) {
    write_request_head(out, host, path_and_query, headers, body.len());
    out.extend_from_slice(body);
}

/// Writes the head of the `POST` of a body of `body_len` bytes into `out`: the request line and
/// the headers, up to and with the blank line. The body is sent after it from where it lies.
pub fn write_request_head(
    out: &mut Vec<u8>,
    host: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body_len: usize,
) {
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    out.extend_from_slice(body_len.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Checks a configured `Name: value` header: a token name, and a value without line breaks (a
/// header must not be able to add headers or end the request).
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once(':').ok_or("a header is \"Name: value\"")?;
    let name = name.trim();
    let value = value.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("invalid header name \"{name}\""));
    }
    if value.bytes().any(|b| b < b' ' && b != b'\t' || b == 0x7f) {
        return Err(format!("the value of header \"{name}\" has control characters"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_complete_post() {
        let mut out = Vec::new();
        let headers = vec![("Authorization".to_owned(), "Token abc".to_owned())];
        write_request(
            &mut out,
            "127.0.0.1:8086",
            "/api/v2/write?org=o&bucket=b",
            &headers,
            b"m f=1i 1\n",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /api/v2/write?org=o&bucket=b HTTP/1.1\r\nHost: 127.0.0.1:8086\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 9\r\n\
             Authorization: Token abc\r\n\r\nm f=1i 1\n"
        );
    }

    #[test]
    fn checks_configured_headers() {
        assert_eq!(
            parse_header("Authorization: Token abc"),
            Ok(("Authorization".into(), "Token abc".into()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("Bad Name: x").is_err());
        assert!(parse_header("X: a\r\nInjected: b").is_err());
    }
}
