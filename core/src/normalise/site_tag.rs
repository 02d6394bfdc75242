//! The site owner's own tags (`analytics_tag <name> <value>`): what a name may be, and which
//! values are written.
//!
//! A value comes from any nginx variable, often one a client sets (`$http_cf_ipcountry`, a
//! header the CDN may not have overwritten), so it is checked like any other input: a closed set
//! of characters and a length limit. A value outside them is refused whole, never cut or
//! cleaned: a cut value would be a new, made-up value, and a cleaned one could smuggle text
//! through. Each name has its own cardinality budget (`analytics_budget custom=`), so even
//! valid values cannot flood the store.

/// The longest value written, in bytes.
pub const MAX_VALUE_LEN: usize = 64;

/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 32;

/// Keys the module writes itself (tags and fields of every measurement), and `time`, which
/// InfluxDB reserves: a site tag of one of these names would clash.
pub const RESERVED_NAMES: &[&str] = &[
    "browser",
    "device",
    "domain",
    "hits",
    "load_ms",
    "name",
    "page",
    "platform",
    "referrer",
    "referrer_domain",
    "session_pages",
    "time",
    "tz",
];

/// Whether `name` may name a site tag: `a-z`, `0-9` and `_`, starting with a letter, at most
/// [`MAX_NAME_LEN`] bytes, none of [`RESERVED_NAMES`]. The error says why not.
pub fn check_site_tag_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err("a tag name has 1 to 32 characters");
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        return Err("a tag name starts with a lower-case letter (a-z)");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("a tag name has only a-z, 0-9 and _");
    }
    if RESERVED_NAMES.contains(&name) {
        return Err("this name is one of the module's own tags or fields, or \"time\"");
    }
    Ok(())
}

/// Why a value was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    TooLong,
    Character,
}

/// The value to write for `raw`: `Ok(None)` for an empty value (no tag, as nginx's own
/// directives treat an empty variable), `Ok(Some(value))` when every byte is an ASCII letter or
/// digit or one of `-_.:/` and space, and there are at most [`MAX_VALUE_LEN`] of them; an
/// error otherwise (no tag either; the page view is still recorded). Leading and trailing space
/// is no part of the value.
pub fn site_tag_value(raw: &[u8]) -> Result<Option<&str>, Refused> {
    let trimmed = raw.trim_ascii();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.len() > MAX_VALUE_LEN {
        return Err(Refused::TooLong);
    }
    if !trimmed
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b' '))
    {
        return Err(Refused::Character);
    }
    // Only ASCII is left.
    Ok(std::str::from_utf8(trimmed).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["country", "ab_test", "v2", "x"] {
            assert_eq!(check_site_tag_name(ok), Ok(()), "{ok}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "", "_x", "1x", "Country", "a-b", "a b", "a=b", "a,b", "time", "page", "domain", "tz", "browser",
            "hits", "é", &long,
        ] {
            assert!(check_site_tag_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_name_of_the_module_or_a_campaign_key_is_allowed() {
        for key in crate::normalise::campaign::RESERVED_KEYS {
            assert!(check_site_tag_name(key).is_err(), "{key}");
        }
    }

    #[test]
    fn values() {
        assert_eq!(site_tag_value(b"DE"), Ok(Some("DE")));
        assert_eq!(site_tag_value(b" Sao Paulo "), Ok(Some("Sao Paulo")));
        assert_eq!(site_tag_value(b"a-b_c.d:e/f"), Ok(Some("a-b_c.d:e/f")));
        assert_eq!(site_tag_value(b""), Ok(None));
        assert_eq!(site_tag_value(b"  "), Ok(None));
        assert_eq!(
            site_tag_value(&[b'x'; MAX_VALUE_LEN]).map(|v| v.map(str::len)),
            Ok(Some(64))
        );
        assert_eq!(site_tag_value(&[b'x'; MAX_VALUE_LEN + 1]), Err(Refused::TooLong));
        for bad in [
            &b"a,b"[..],
            b"a=b",
            b"a\"b",
            b"a\nb",
            b"a\\",
            b"'",
            "M\u{fc}nchen".as_bytes(),
            b"a\x00",
            b"\xff",
            "\u{200B}".as_bytes(),
        ] {
            assert_eq!(site_tag_value(bad), Err(Refused::Character), "{bad:?}");
        }
    }
}
