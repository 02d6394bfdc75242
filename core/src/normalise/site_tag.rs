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

/// nginx variables that hold what identifies a visitor or carries it (addresses, the
/// User-Agent, cookies, credentials, query strings, whole request lines): a site tag is a
/// breakdown, never a place for these. Matched by whole name, and by prefix for the families.
const IDENTIFYING_VARIABLES: &[&str] = &[
    "args",
    "binary_remote_addr",
    "document_uri",
    "http_authorization",
    "http_cookie",
    "http_forwarded",
    "http_referer",
    "http_user_agent",
    "http_x_forwarded_for",
    "http_x_real_ip",
    "proxy_add_x_forwarded_for",
    "query_string",
    "realip_remote_addr",
    "realip_remote_port",
    "remote_addr",
    "remote_port",
    "remote_user",
    "request",
    "request_body",
    "request_id",
    "request_uri",
    "uri",
];
const IDENTIFYING_PREFIXES: &[&str] = &["arg_", "cookie_", "sent_http_set_cookie", "ssl_client_"];
/// Header variables whose name says they carry an address or a credential
/// (`$http_cf_connecting_ip`, `$http_true_client_ip`, `$http_x_api_key`...).
/// Compared with whole `_`-separated words of the name, so `$http_cf_ipcountry` is not one.
const IDENTIFYING_HEADER_WORDS: &[&str] = &[
    "addr",
    "address",
    "auth",
    "authorization",
    "cookie",
    "forwarded",
    "ip",
    "key",
    "session",
    "sid",
    "token",
    "user",
];

/// The first variable of a directive's value (`$name` or `${name}`) that identifies a visitor
/// or carries what does, if any.
pub fn identifying_variable(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut at = 0;
    while let Some(offset) = bytes.get(at..)?.iter().position(|&b| b == b'$') {
        let mut start = at + offset + 1;
        let braced = bytes.get(start) == Some(&b'{');
        if braced {
            start += 1;
        }
        let len = bytes
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let name = value.get(start..start + len)?.to_ascii_lowercase();
        at = start + len;
        let identifying = IDENTIFYING_VARIABLES.contains(&name.as_str())
            || IDENTIFYING_PREFIXES.iter().any(|p| name.starts_with(p))
            || (name.starts_with("http_")
                && name
                    .split('_')
                    .any(|word| IDENTIFYING_HEADER_WORDS.contains(&word)));
        if identifying {
            return Some(name);
        }
    }
    None
}

/// Why a value was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    TooLong,
    Character,
    /// An IP address, an e-mail address, a phone number, a long number or a token: what the
    /// module never stores, whatever variable it came from.
    Identifier,
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
    let Ok(value) = std::str::from_utf8(trimmed) else {
        return Err(Refused::Character);
    };
    if crate::normalise::scrub::classify(value).is_some() {
        return Err(Refused::Identifier);
    }
    Ok(Some(value))
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

    #[test]
    fn identifiers_are_refused_whatever_variable_they_came_from() {
        for bad in [
            &b"203.0.113.7"[..],
            b"203.0.113.7:443",
            b"2001:db8::1",
            b"::ffff:10.0.0.1",
            b"10.0.0.0/8",
            b"via 198.51.100.2",
            b"4915123456789",
            b"550e8400-e29b-41d4-a716-446655440000",
            b"d41d8cd98f00b204e9800998ecf8427e",
        ] {
            assert_eq!(site_tag_value(bad), Err(Refused::Identifier), "{bad:?}");
        }
        for ok in [
            &b"DE"[..],
            b"US-CA",
            b"Sao Paulo",
            b"variant-b",
            b"v2",
            b"eu-west-1",
            b"1.2",
        ] {
            assert!(site_tag_value(ok).is_ok_and(|v| v.is_some()), "{ok:?}");
        }
    }

    #[test]
    fn variables_that_identify_a_visitor_are_named() {
        for (value, name) in [
            ("$remote_addr", "remote_addr"),
            ("${binary_remote_addr}", "binary_remote_addr"),
            ("x-$http_x_forwarded_for", "http_x_forwarded_for"),
            ("$http_user_agent", "http_user_agent"),
            ("$cookie_session", "cookie_session"),
            ("$arg_user", "arg_user"),
            ("$request_uri", "request_uri"),
            ("$http_cf_connecting_ip", "http_cf_connecting_ip"),
            ("$http_x_api_key", "http_x_api_key"),
            ("$geo-$Remote_Addr", "remote_addr"),
        ] {
            assert_eq!(identifying_variable(value).as_deref(), Some(name), "{value}");
        }
        for ok in [
            "$geoip2_data_country_iso_code",
            "$http_cf_ipcountry",
            "$variant",
            "$server_name",
            "fixed",
            "$",
            "${",
        ] {
            assert_eq!(identifying_variable(ok), None, "{ok}");
        }
    }
}
