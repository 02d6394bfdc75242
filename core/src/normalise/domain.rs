//! Host name normalisation, shared by the beacon's `domain`, the allow-list and CORS origins.

use std::borrow::Cow;

use crate::normalise::scrub::classify;

/// Longest host name DNS allows.
pub const MAX_HOST_LEN: usize = 253;

/// Lower-cases a host, removes a port and a trailing dot, and accepts only the characters a host
/// name can hold (ASCII letters, digits, `-`, `_`, `.`; browsers report IDNs in punycode).
/// Returns `None` for anything else, so a forged value can never reach a tag unescaped.
pub fn normalise_host(raw: &str) -> Option<Cow<'_, str>> {
    host_core(raw).map(lower_case)
}

/// A [`host_core`] in lower case.
pub fn lower_case(core: &str) -> Cow<'_, str> {
    if core.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(core.to_ascii_lowercase())
    } else {
        Cow::Borrowed(core)
    }
}

/// [`normalise_host`] before lower-casing: the case still shows, which tells random tokens from
/// words.
pub fn host_core(raw: &str) -> Option<&str> {
    let raw = raw.trim();
    let without_port = match raw.bytes().rposition(|b| b == b':') {
        Some(colon) if raw.as_bytes()[colon + 1..].iter().all(u8::is_ascii_digit) => &raw[..colon],
        _ => raw,
    };
    let host = without_port.strip_suffix('.').unwrap_or(without_port);
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return None;
    }
    // One pass (every beacon's domain and referrer come here): only host characters, and no
    // empty label (a leading dot, or two dots in a row; a dot before the first byte counts).
    let mut previous = b'.';
    for &b in host.as_bytes() {
        let allowed =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_') || (b == b'.' && previous != b'.');
        if !allowed {
            return None;
        }
        previous = b;
    }
    Some(host)
}

/// Whether a host (as [`normalise_host`] returns it) is an IP address rather than a name. A URL
/// parser reads a host whose last label is a number (`1.2.3.4`, `3232235777`, `0x7f.1`,
/// `0300.0250.0.1`) as an IPv4 address, whatever the other labels; IPv6 hosts hold `:` or `[`.
pub fn is_ip_literal(host: &str) -> bool {
    // Bytes, not chars: `:`, `[`, `]` and `.` are ASCII, which no byte of a multi-byte UTF-8
    // character can be; searching for a set of chars costs ten times as much per beacon.
    let bytes = host.as_bytes();
    if bytes.iter().any(|&b| matches!(b, b':' | b'[' | b']')) {
        return true;
    }
    let last = match bytes.iter().rposition(|&b| b == b'.') {
        Some(dot) => &bytes[dot + 1..],
        None => bytes,
    };
    let hex = last.strip_prefix(b"0x").or_else(|| last.strip_prefix(b"0X"));
    (!last.is_empty() && last.iter().all(u8::is_ascii_digit))
        || hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
}

/// The host recorded for a beacon of a site not on the allow-list: `host` (lower case) when no
/// label holds an identifier; otherwise the identifier's placeholder followed by the last two
/// labels, when those are clean (`4915123456789.evil.org` → `:phone.evil.org`), or the
/// placeholder alone. `core` is the same host before lower-casing ([`host_core`]).
pub fn host_without_identifiers(core: &str, host: &str) -> String {
    debug_assert!(core.eq_ignore_ascii_case(host));
    let Some(placeholder) = classify(core) else {
        return host.to_owned();
    };
    // Labels are checked as sent (case tells tokens from words) and written in lower case.
    let mut labels = core.rsplitn(3, '.');
    match (labels.next(), labels.next(), labels.next()) {
        (Some(top), Some(second), Some(_)) if classify(second).is_none() && classify(top).is_none() => {
            format!("{}.{second}.{top}", placeholder.as_str()).to_ascii_lowercase()
        }
        _ => placeholder.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The versions before the one-pass rewrites, kept as the oracles of the current ones.
    fn host_core_before(raw: &str) -> Option<&str> {
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
        valid.then_some(host)
    }

    fn is_ip_literal_before(host: &str) -> bool {
        if host.contains([':', '[', ']']) {
            return true;
        }
        let last = host.rsplit('.').next().unwrap_or(host);
        let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
        (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
            || hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// Host-like text: the characters hosts, ports, addresses and their forgeries are made of,
    /// with dots and colons often enough to make empty labels, ports and IPv6 forms.
    fn host_like() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            "[a-zA-Z0-9._:\\-\\[\\] ]{0,24}",
            "[.]{0,2}[a-z0-9]{0,6}[.]{0,3}[a-z0-9]{0,6}[.:]{0,2}[0-9]{0,6}[. ]{0,2}",
            "(0[xX])?[0-9a-fA-F]{0,8}([.](0[xX])?[0-9a-fA-F]{0,8}){0,4}",
            "\\PC{0,12}",
            "[a-z]{1,63}([.][a-z]{1,63}){3,5}",
        ]
    }

    proptest::proptest! {
        #[test]
        fn host_core_agrees_with_its_previous_version(raw in host_like()) {
            proptest::prop_assert_eq!(host_core(&raw), host_core_before(&raw));
        }

        #[test]
        fn is_ip_literal_agrees_with_its_previous_version(host in host_like()) {
            proptest::prop_assert_eq!(is_ip_literal(&host), is_ip_literal_before(&host));
        }
    }

    #[test]
    fn the_rewrites_agree_on_edge_cases() {
        for raw in [
            "",
            ".",
            "..",
            "a..b",
            ".a",
            "a.",
            "a..",
            "a.:1",
            ":",
            "a:",
            "a:b",
            "[::1]",
            "1.2.3.4",
            "0x7f.1",
            "0X",
            "0x",
            "a.0x",
            "a.0xg",
            "é.com",
            "a.b.",
            "a.b.:80",
            " a.b ",
            "a_b-c.d",
            "a\u{3000}",
            "\u{3000}a.b\u{3000}",
        ] {
            assert_eq!(host_core(raw), host_core_before(raw), "{raw:?}");
            assert_eq!(is_ip_literal(raw), is_ip_literal_before(raw), "{raw:?}");
        }
        let long = "a.".repeat(127);
        assert_eq!(host_core(&long), host_core_before(&long));
        assert_eq!(host_core(&long[..253]), host_core_before(&long[..253]));
    }

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

    #[test]
    fn tells_ip_literals_from_names() {
        for ip in [
            "1.2.3.4",
            "3232235777",
            "0x7f.1",
            "0300.0250.0.1",
            "127.1",
            "0xc0a80101",
            "a.b.0x",
            "[::1]",
        ] {
            assert!(is_ip_literal(ip), "{ip}");
        }
        for name in [
            "example.com",
            "1.2.3.4.nip.io",
            "x1",
            "0xbad.example",
            "localhost",
            "123.example.org",
        ] {
            assert!(!is_ip_literal(name), "{name}");
        }
    }

    #[test]
    fn identifiers_in_unlisted_hosts_are_replaced() {
        for (raw, kept) in [
            ("evil.org", "evil.org"),
            ("www.Evil.org", "www.evil.org"),
            ("4915123456789.evil.org", ":id.evil.org"),
            ("123e4567-e89b-12d3-a456-426614174000.evil.org", ":uuid.evil.org"),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                ":token",
            ),
            ("10.0.0.1.evil.org", ":ip.evil.org"),
            ("a.FMfcgzGwHLfxkjhSjtDqLKBhZrFGpQhX.com", ":token"),
        ] {
            let core = host_core(raw).unwrap();
            let host = normalise_host(raw).unwrap();
            assert_eq!(host_without_identifiers(core, &host), kept, "{raw}");
        }
    }
}
