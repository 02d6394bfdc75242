//! Identifier scrubbing: text taken from a URL (a path segment, a campaign value, a host name) that
//! looks like it names or tracks a person is replaced by a fixed placeholder, so that it is never
//! stored, and so that `/order/123456789012` and `/order/987654321098` count as one page,
//! `/order/:id`.
//!
//! Text is percent-decoded (up to three times) and stripped of invisible characters before it is
//! classified, so that `bob%40example.com`, `%62ob@example.com`, `bob%2540example.com` and
//! `bob\u{200B}@example.com` are all seen as `bob@example.com`. A segment is classified whole,
//! and the detectors look inside it: when any part of a segment is an identifier, the whole
//! segment becomes the placeholder (`profile-bob@example.com` → `:email`).
//!
//! The placeholders, checked in this order (the first that matches wins):
//!
//! | placeholder | what |
//! |---|---|
//! | `:email` | an e-mail address (`@`, or its full-width forms, between a local part and a domain) |
//! | `:ip` | an IPv4 address in decimal, octal or hex notation, or an IPv6 address |
//! | `:uuid` | a UUID written `8-4-4-4-12` |
//! | `:phone` | a phone number: 7 digits or more, international (`+49…`) or in groups (`555-123-4567`) |
//! | `:id` | a run of 6 digits or more |
//! | `:token` | a long hex run, a JWT, a random-looking base64/base32/base36 word, or text still percent-encoded after three rounds of decoding |
//!
//! The thresholds and why they are what they are: see [`detect`].

pub mod detect;
pub mod ip;
pub mod percent;

use std::borrow::Cow;

use crate::normalise::invisible::without_invisible;

/// The fixed text that stands in for an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Email,
    Ip,
    Uuid,
    Phone,
    Id,
    Token,
}

impl Placeholder {
    pub const ALL: [Placeholder; 6] = [
        Placeholder::Email,
        Placeholder::Ip,
        Placeholder::Uuid,
        Placeholder::Phone,
        Placeholder::Id,
        Placeholder::Token,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::Email => ":email",
            Placeholder::Ip => ":ip",
            Placeholder::Uuid => ":uuid",
            Placeholder::Phone => ":phone",
            Placeholder::Id => ":id",
            Placeholder::Token => ":token",
        }
    }
}

/// The class of the first identifier found in `text` (already decoded), if any.
pub fn classify(text: &str) -> Option<Placeholder> {
    // The cheap shape of the text decides which detectors can match at all: most segments are
    // short plain words, for which this one pass is all the work.
    let mut at_signs = 0;
    let mut colons = 0;
    let mut dots = 0;
    let mut dashes = 0;
    let mut digits = 0;
    let mut non_ascii = false;
    for b in text.bytes() {
        match b {
            b'@' => at_signs += 1,
            b':' => colons += 1,
            b'.' => dots += 1,
            b'-' => dashes += 1,
            b'0'..=b'9' => digits += 1,
            0x80.. => non_ascii = true,
            _ => {}
        }
    }
    if (at_signs > 0 || non_ascii) && detect::contains_email(text) {
        return Some(Placeholder::Email);
    }
    if (dots >= 3 && digits >= 4 && ip::contains_ipv4(text)) || (colons >= 2 && ip::contains_ipv6(text)) {
        return Some(Placeholder::Ip);
    }
    if dashes >= 4 && detect::contains_uuid(text) {
        return Some(Placeholder::Uuid);
    }
    if digits >= detect::MIN_PHONE_DIGITS && detect::contains_phone(text) {
        return Some(Placeholder::Phone);
    }
    // Before digit runs: hashes hold them too, and are tokens. (`0x` and 8 hex digits is the
    // shortest hex token.)
    // Both of its shapes hold a digit (a run with digits and letters, or `0x`).
    if text.len() >= 10 && digits > 0 && detect::contains_hex_token(text) {
        return Some(Placeholder::Token);
    }
    if (digits >= detect::MIN_ID_DIGITS || non_ascii)
        && detect::longest_digit_run(text) >= detect::MIN_ID_DIGITS
    {
        return Some(Placeholder::Id);
    }
    if text.len() >= 12 && detect::contains_random_token(text) {
        return Some(Placeholder::Token);
    }
    None
}

/// A path segment as it will be stored: the canonical spelling of the segment (percent-decoded,
/// path parameters after `;` dropped, invisible characters dropped, re-encoded, see
/// [`percent::encode_segment`]), or the placeholder of the identifier it holds. Empty when nothing
/// is left. Borrowed when `raw` is already canonical and holds no identifier.
pub fn scrub_segment(raw: &str) -> Cow<'_, str> {
    // `/cart;jsessionid=…`: path parameters are session ids more often than anything else.
    let raw = raw.split(';').next().unwrap_or_default();
    if raw.bytes().all(percent::literal_in_segment) {
        return match classify(raw) {
            Some(placeholder) => Cow::Borrowed(placeholder.as_str()),
            None => Cow::Borrowed(raw),
        };
    }
    let Some(decoded) = percent::decode_repeatedly(raw) else {
        return Cow::Borrowed(Placeholder::Token.as_str());
    };
    let decoded = decoded.split(';').next().unwrap_or_default();
    let visible = without_invisible(decoded);
    if let Some(placeholder) = classify(&visible) {
        return Cow::Borrowed(placeholder.as_str());
    }
    let mut canonical = String::with_capacity(visible.len() + 8);
    percent::encode_segment(&visible, &mut canonical);
    Cow::Owned(canonical)
}

/// A value that was already percent-decoded once (a query parameter), decoded further, without
/// invisible characters; or the placeholder of the identifier it holds.
pub fn scrub_value(value: &str) -> Result<Cow<'_, str>, Placeholder> {
    let decoded = percent::decode_repeatedly(value).ok_or(Placeholder::Token)?;
    let visible = match without_invisible(&decoded) {
        Cow::Borrowed(_) => decoded,
        Cow::Owned(visible) => Cow::Owned(visible),
    };
    match classify(&visible) {
        Some(placeholder) => Err(placeholder),
        None => Ok(visible),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `classify` asks for hex tokens only in text with a digit: without one, none is found.
        #[test]
        fn text_without_digits_holds_no_hex_token(
            text in proptest::prop_oneof!["[a-fA-FxX._-]{0,40}", "[^0-9]{0,40}", "0?[xX][a-fA-F]{8,20}"]
        ) {
            proptest::prop_assume!(!text.bytes().any(|b| b.is_ascii_digit()));
            proptest::prop_assert!(!detect::contains_hex_token(&text));
        }
    }

    /// Ordinary segments that must come through as they are.
    const ORDINARY: &[&str] = &[
        "2024",
        "05",
        "hello-world",
        "page",
        "2",
        "products",
        "shoes-42",
        "about",
        "blog",
        "rust-1.80-released",
        "index.html",
        "README.md",
        "2023-annual-report-final-v2.pdf",
        "how-to-install-python-3-12-on-windows-11",
        "2024-05-17-launch",
        "@alice",
        "en-US",
        "v2",
        "iPhone15ProMax",
        "dQw4w9WgXcQ",
        "List_of_Apollo_11_astronauts",
        "Special:Search",
        "top-100-movies-of-2023",
        "12345",
        "caf%C3%A9",
        "50%25-off",
        "~user",
    ];

    #[test]
    fn ordinary_segments_are_kept_as_they_are() {
        for segment in ORDINARY {
            assert_eq!(scrub_segment(segment), *segment, "{segment}");
        }
    }

    #[test]
    fn ordinary_segments_get_one_spelling() {
        for (raw, canonical) in [
            ("C%2B%2B", "C++"),
            ("caf%c3%a9", "caf%C3%A9"),
            ("café", "caf%C3%A9"),
            ("%62%6C%6fg", "blog"),
            ("a%2fb", "a%2Fb"),
            ("a b", "a%20b"),
            ("100%", "100%25"),
            ("%zz", "%25zz"),
        ] {
            assert_eq!(scrub_segment(raw), canonical, "{raw}");
        }
    }

    /// Identifiers of every class, each with the placeholder it must become.
    pub(crate) const IDENTIFIERS: &[(&str, Placeholder)] = &[
        ("bob@example.com", Placeholder::Email),
        ("a.b+tag@sub.example.co.uk", Placeholder::Email),
        ("profile-bob@example.com", Placeholder::Email),
        ("192.168.1.1", Placeholder::Ip),
        ("0300.0250.1.1", Placeholder::Ip),
        ("0xC0.0xA8.0x1.0x1", Placeholder::Ip),
        ("2001:db8::1", Placeholder::Ip),
        ("::1", Placeholder::Ip),
        ("fe80::1ff:fe23:4567:890a", Placeholder::Ip),
        ("123e4567-e89b-12d3-a456-426614174000", Placeholder::Uuid),
        ("+49-151-2345678", Placeholder::Phone),
        ("(555) 123-4567", Placeholder::Phone),
        ("+4915123456789", Placeholder::Phone),
        ("555-123-4567", Placeholder::Phone),
        ("123456789012", Placeholder::Id),
        ("id=123456789", Placeholder::Id),
        ("order-123456", Placeholder::Id),
        ("d41d8cd98f00b204e9800998ecf8427e", Placeholder::Token),
        ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", Placeholder::Token),
        ("dGhpcyBpcyBhIHNlY3JldCB0b2tlbg==", Placeholder::Token),
        ("FMfcgzGwHLfxkjhSjtDqLKBhZrFGpQhX", Placeholder::Token),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", Placeholder::Token),
    ];

    /// Percent-encodes every byte of `text` that is not alphanumeric (`upper`: hex digits case).
    pub(crate) fn encode_all(text: &str, upper: bool) -> String {
        text.bytes()
            .map(|b| match (b.is_ascii_alphanumeric(), upper) {
                (true, _) => char::from(b).to_string(),
                (false, true) => format!("%{b:02X}"),
                (false, false) => format!("%{b:02x}"),
            })
            .collect()
    }

    #[test]
    fn identifiers_become_their_placeholder_raw_and_encoded() {
        for &(identifier, placeholder) in IDENTIFIERS {
            let once = encode_all(identifier, true);
            let every_byte: String = identifier.bytes().map(|b| format!("%{b:02x}")).collect();
            let twice = once.replace('%', "%25");
            let hidden: String = identifier.chars().flat_map(|c| [c, '\u{200B}']).collect();
            for spelling in [identifier.to_owned(), once, every_byte, twice, hidden] {
                assert_eq!(scrub_segment(&spelling), placeholder.as_str(), "{spelling}");
                assert_eq!(scrub_value(&spelling), Err(placeholder), "{spelling}");
            }
        }
    }

    #[test]
    fn identifiers_inside_a_longer_segment_take_the_whole_segment() {
        for (segment, placeholder) in [
            ("profile-bob@example.com-settings", Placeholder::Email),
            ("user_id=123456789&x", Placeholder::Id),
            ("host-10.0.0.1", Placeholder::Ip),
            ("file-123e4567-e89b-12d3-a456-426614174000.pdf", Placeholder::Uuid),
            ("tel:+4915123456789", Placeholder::Phone),
            ("reset-d41d8cd98f00b204e9800998ecf8427e", Placeholder::Token),
        ] {
            assert_eq!(scrub_segment(segment), placeholder.as_str(), "{segment}");
        }
    }

    #[test]
    fn path_parameters_and_invisible_characters_are_dropped() {
        assert_eq!(scrub_segment("cart;jsessionid=ABC123"), "cart");
        assert_eq!(scrub_segment("cart%3Bjsessionid%3DABC"), "cart");
        assert_eq!(scrub_segment(";jsessionid=ABC"), "");
        assert_eq!(scrub_segment("adm%E2%80%8Bin"), "admin");
        assert_eq!(scrub_segment("a\u{202E}b\u{FEFF}"), "ab");
    }

    #[test]
    fn text_still_encoded_after_three_decodings_is_a_token() {
        assert_eq!(scrub_segment("bob%25252540x.org"), ":token");
    }

    #[test]
    fn plain_segments_are_borrowed() {
        assert!(matches!(
            scrub_segment("hello-world"),
            Cow::Borrowed("hello-world")
        ));
    }
}
