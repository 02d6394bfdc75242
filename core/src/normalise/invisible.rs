//! Characters that must never reach a stored line because nobody can see them: control characters,
//! line and paragraph separators, format characters (bidi controls, zero-width characters, the soft
//! hyphen, ...) and the other default-ignorable code points (variation selectors, Hangul fillers).
//!
//! Hidden text lets one stored value look like another (`/admin` and `/adm\u{200B}in`), reorder what
//! a reader of a dashboard sees (bidi overrides), or carry a covert identifier. The line-protocol
//! encoder drops these characters from every value it writes, and the normalisers drop them before
//! classifying text, so that an identifier cannot hide behind them.

/// Unicode general category Cf (format characters), Unicode 15.1, as inclusive ranges.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Default-ignorable code points that are not format characters (Unicode's
/// `Default_Ignorable_Code_Point` less Cf): rendered as nothing, so just as invisible.
const OTHER_IGNORABLE: &[(u32, u32)] = &[
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180D),
    (0x180F, 0x180F),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
];

/// Whether `c` is invisible: a control character (C0, DEL, C1), U+2028/U+2029, a format character
/// or another default-ignorable code point.
pub fn is_invisible(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    let code = c as u32;
    // Everything listed lies at or above U+0080; most non-ASCII text is letters below U+00AD or in
    // blocks far from the listed ranges, so the range scans below are rarely reached.
    if code <= 0x9F {
        return true;
    }
    if code < 0xAD {
        return false;
    }
    code == 0x2028
        || code == 0x2029
        || FORMAT.iter().any(|&(low, high)| (low..=high).contains(&code))
        || OTHER_IGNORABLE
            .iter()
            .any(|&(low, high)| (low..=high).contains(&code))
}

/// `text` without its invisible characters; borrowed when it has none.
pub fn without_invisible(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().all(|b| (b' '..0x7f).contains(&b)) || !text.chars().any(is_invisible) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.chars().filter(|&c| !is_invisible(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

    /// An independent oracle: the general category from the `unicode-properties` tables.
    fn hidden_by_category(c: char) -> bool {
        matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
    }

    #[test]
    fn every_control_format_and_separator_character_is_invisible() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if hidden_by_category(c) {
                assert!(is_invisible(c), "U+{:04X} ({:?})", c as u32, c.general_category());
            }
        }
    }

    #[test]
    fn nothing_else_is_invisible_but_the_listed_default_ignorables() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if is_invisible(c) && !hidden_by_category(c) {
                let code = c as u32;
                assert!(
                    OTHER_IGNORABLE
                        .iter()
                        .any(|&(low, high)| (low..=high).contains(&code)),
                    "U+{code:04X} ({:?}) is visible",
                    c.general_category()
                );
            }
        }
    }

    #[test]
    fn the_named_characters_are_invisible_and_ordinary_text_is_not() {
        for c in [
            '\u{2028}',
            '\u{2029}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{0}',
            '\n',
            '\u{7f}',
            '\u{85}',
            '\u{9f}',
            '\u{FE0F}',
            '\u{E0041}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
        }
        for c in [
            'a', ' ', '~', '\u{a0}', 'é', 'ß', '中', '😀', '\u{301}', '\u{3000}',
        ] {
            assert!(!is_invisible(c), "U+{:04X}", c as u32);
        }
        assert_eq!(without_invisible("a\u{200B}b\u{202E}c\nd"), "abcd");
        assert!(matches!(without_invisible("café"), std::borrow::Cow::Borrowed(_)));
    }
}
