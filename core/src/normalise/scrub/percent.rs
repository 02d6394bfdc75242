//! Percent-encoding, as the scrubber needs it: decoded before classifying (so that `bob%40x.org`,
//! `%62ob@x.org` and a double-encoded `bob%2540x.org` all read `bob@x.org`), and one canonical
//! encoding afterwards, so that one path has one spelling.

use std::borrow::Cow;

/// How many times text is percent-decoded. Browsers encode once; links pasted through mail or
/// redirect chains are sometimes encoded twice; nobody encodes a real page four times. Text that
/// still holds escapes after this many rounds is hostile (or an identifier hiding), and the caller
/// replaces it whole.
pub const MAX_DECODE_ROUNDS: usize = 3;

/// `raw` with `%XX` escapes (either case) decoded up to [`MAX_DECODE_ROUNDS`] times; bytes that are
/// not UTF-8 become U+FFFD. `None` when escapes remain after the last round. A `%` without two hex
/// digits after it is a plain `%`.
pub fn decode_repeatedly(raw: &str) -> Option<Cow<'_, str>> {
    if !has_escape(raw.as_bytes()) {
        return Some(Cow::Borrowed(raw));
    }
    let mut bytes = decode_once(raw.as_bytes());
    for _ in 1..MAX_DECODE_ROUNDS {
        if !has_escape(&bytes) {
            break;
        }
        bytes = decode_once(&bytes);
    }
    if has_escape(&bytes) {
        return None;
    }
    Some(Cow::Owned(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

fn has_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

fn decode_once(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).and_then(hex_value),
            bytes.get(i + 2).and_then(hex_value),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether a byte is written as it is in a canonical path segment: the unreserved characters and
/// the sub-delimiters, `:` and `@` that RFC 3986 allows in a segment, less `;` (which starts path
/// parameters, always dropped). Everything else is percent-encoded.
pub fn literal_in_segment(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
                | b':'
                | b'@'
        )
}

/// Appends `text` to `out` in the canonical encoding: [`literal_in_segment`] bytes as they are,
/// every other byte (of UTF-8) as `%XX` with upper-case hex digits.
pub fn encode_segment(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if literal_in_segment(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once_twice_and_three_times() {
        assert_eq!(decode_repeatedly("bob%40x.org").as_deref(), Some("bob@x.org"));
        assert_eq!(decode_repeatedly("%62ob%40X.org").as_deref(), Some("bob@X.org"));
        assert_eq!(decode_repeatedly("bob%2540x.org").as_deref(), Some("bob@x.org"));
        assert_eq!(decode_repeatedly("bob%252540x.org").as_deref(), Some("bob@x.org"));
        assert_eq!(decode_repeatedly("bob%25252540x.org"), None);
        assert_eq!(decode_repeatedly("caf%c3%a9").as_deref(), Some("café"));
        assert_eq!(decode_repeatedly("100%").as_deref(), Some("100%"));
        assert_eq!(decode_repeatedly("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(decode_repeatedly("%ff").as_deref(), Some("\u{fffd}"));
        assert!(matches!(decode_repeatedly("plain"), Some(Cow::Borrowed("plain"))));
    }

    #[test]
    fn encodes_all_but_the_segment_literals() {
        let mut out = String::new();
        encode_segment("a b/c%d?e#f\"g\\é;~", &mut out);
        assert_eq!(out, "a%20b%2Fc%25d%3Fe%23f%22g%5C%C3%A9%3B~");
    }

    proptest::proptest! {
        #[test]
        fn encoding_then_decoding_gives_the_text_back(text in "\\PC{0,20}") {
            let mut encoded = String::new();
            encode_segment(&text, &mut encoded);
            proptest::prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
            let once = String::from_utf8(decode_once(encoded.as_bytes())).unwrap();
            proptest::prop_assert_eq!(once, text);
        }
    }
}
