//! Host name normalisation, shared by the beacon's `domain`, the allow-list and CORS origins.

use std::borrow::Cow;

/// Longest host name DNS allows.
pub const MAX_HOST_LEN: usize = 253;

/// Lower-cases a host, removes a port and a trailing dot, and accepts only the characters a host
/// name can hold (ASCII letters, digits, `-`, `_`, `.`; browsers report IDNs in punycode).
/// Returns `None` for anything else, so a forged value can never reach a tag unescaped.
pub fn normalise_host(raw: &str) -> Option<Cow<'_, str>> {
    let raw = raw.trim();
    let without_port = match raw.bytes().rposition(|b| b == b':') {
        Some(colon) if raw.as_bytes()[colon + 1..].iter().all(u8::is_ascii_digit) => &raw[..colon],
        _ => raw,
    };
    let host = without_port.strip_suffix('.').unwrap_or(without_port);
    let valid = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !host.starts_with('.')
        && !host.as_bytes().windows(2).any(|pair| pair == b"..");
    if !valid {
        return None;
    }
    Some(if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_and_strips_port_and_trailing_dot() {
        assert_eq!(
            normalise_host("WWW.Example.COM").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(normalise_host("example.com.").as_deref(), Some("example.com"));
        assert_eq!(normalise_host("example.com:8080").as_deref(), Some("example.com"));
        assert_eq!(
            normalise_host(" example.com.:443 ").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalise_host("xn--bcher-kva.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
    }

    #[test]
    fn refuses_non_hosts() {
        for bad in [
            "",
            ".",
            "a b",
            "a,b",
            "a=b",
            "a\nb",
            "bücher.de",
            "a/b",
            "a..b",
            ".a",
            "a:b:c",
            "user@host",
            "[::1]",
            &"a".repeat(254),
        ] {
            assert_eq!(normalise_host(bad), None, "{bad:?}");
        }
    }
}
