//! IP address literals inside text, in every spelling a URL parser accepts for IPv4 (decimal,
//! octal `0300`, hex `0xC0`) and in the textual forms of IPv6.

use std::net::Ipv6Addr;

/// Whether `text` holds four dot-separated numbers of at most 255 each, as a URL parser reads
/// them (decimal, `0x` hex, or `0`-prefixed octal). Version numbers of four parts (`1.2.3.4`)
/// are caught too: they cannot be told apart, and are rare in page paths.
pub fn contains_ipv4(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | 'x' | 'X')))
        .filter(|run| run.bytes().filter(|&b| b == b'.').count() >= 3)
        .any(|run| {
            let parts: Vec<&str> = run.split('.').collect();
            parts.windows(4).any(|w| {
                let first = numeric_suffix(w[0]);
                let last = numeric_prefix(w[3]);
                [first, w[1], w[2], last].iter().all(|p| byte_part(p))
            })
        })
}

/// Whether `part` is one number of at most 255, in decimal, `0x` hex or `0`-prefixed octal, as the
/// WHATWG URL parser reads the parts of an IPv4 host.
pub fn byte_part(part: &str) -> bool {
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        (hex, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        // `0x` alone is zero for a URL parser; an empty part is not a number.
        return radix == 16;
    }
    let digits = digits.trim_start_matches('0');
    digits.len() <= 3 && (digits.is_empty() || u32::from_str_radix(digits, radix).is_ok_and(|v| v <= 255))
}

/// The longest end of `part` that can be a number: from its last `0x`, or its trailing digits.
fn numeric_suffix(part: &str) -> &str {
    if let Some(at) = part.rfind("0x").or_else(|| part.rfind("0X")) {
        if part[at + 2..].bytes().all(|b| b.is_ascii_hexdigit()) {
            return &part[at..];
        }
    }
    let digits = part.bytes().rev().take_while(u8::is_ascii_digit).count();
    &part[part.len() - digits..]
}

/// The longest start of `part` that can be a number: `0x` and hex digits, or leading digits.
fn numeric_prefix(part: &str) -> &str {
    if part.starts_with("0x") || part.starts_with("0X") {
        let hex = part[2..].bytes().take_while(u8::is_ascii_hexdigit).count();
        return &part[..2 + hex];
    }
    let digits = part.bytes().take_while(u8::is_ascii_digit).count();
    &part[..digits]
}

/// Whether `text` holds an IPv6 address (`2001:db8::1`, `::1`, `fe80::1`, `::ffff:1.2.3.4`). A
/// candidate glued to letters or digits (`std::vector` holds `d::`) must have three groups or
/// more, so that C++ names and `a::b` in documentation paths are not taken for addresses.
pub fn contains_ipv6(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|&&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                .count();
        if end == start {
            start += 1;
            continue;
        }
        let run = text[start..end].trim_matches('.');
        if run.bytes().filter(|&b| b == b':').count() >= 2 {
            let glued = (start > 0 && bytes[start - 1].is_ascii_alphanumeric())
                || bytes.get(end).is_some_and(u8::is_ascii_alphanumeric);
            if is_ipv6(run, glued) {
                return true;
            }
        }
        start = end;
    }
    false
}

fn is_ipv6(run: &str, glued: bool) -> bool {
    let groups = || run.split(':').filter(|g| !g.is_empty()).count();
    if run.parse::<Ipv6Addr>().is_ok() {
        return !glued || groups() >= 3;
    }
    // `xfe80::1`: letters before the address make its first group too long; try it without them.
    let Some((first, rest)) = run.split_once(':') else {
        return false;
    };
    first.len() > 4
        && format!("{}:{rest}", &first[first.len() - 4..])
            .parse::<Ipv6Addr>()
            .is_ok()
        && groups() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ipv4_in_every_spelling() {
        for text in [
            "1.2.3.4",
            "192.168.1.1",
            "host-10.0.0.1-x",
            "v255.255.255.255",
            "0300.0250.01.01",
            "0xC0.0xA8.0x1.0x1",
            "0x7f.0.0.1",
            "at127.0.0.1now",
        ] {
            assert!(contains_ipv4(text), "{text}");
        }
        for text in [
            "rust-1.80-released",
            "1.2.3",
            "256.1.1.1",
            "a.b.c.d",
            "cafe.babe.dead.beef",
            "1..2.3",
            "index.html",
        ] {
            assert!(!contains_ipv4(text), "{text}");
        }
    }

    #[test]
    fn finds_ipv6() {
        for text in [
            "::1",
            "2001:db8::1",
            "fe80::1",
            "ip-2001:db8:0:0:0:0:2:1",
            "::ffff:1.2.3.4",
            "[::1]",
        ] {
            assert!(contains_ipv6(text), "{text}");
        }
        for text in ["std::vector", "12:30:45", "Special:Search", "x:y", "10:00"] {
            assert!(!contains_ipv6(text), "{text}");
        }
    }
}
