//! Campaign parameters: the only part of a query string that is kept.
//!
//! `utm_source`, `utm_medium` and `utm_campaign` tell which campaign brought a visit; a site may
//! allow more parameter names. Every other parameter (tokens, e-mail addresses, session ids) is
//! dropped. Values are decoded, limited to a plain character set and capped, so they stay
//! low-cardinality tags that identify a campaign, never a person.

use crate::normalise::scrub::{classify, scrub_value};

/// Parameters always kept.
pub const DEFAULT_CAMPAIGN_PARAMS: [&str; 3] = ["utm_source", "utm_medium", "utm_campaign"];
/// Longest campaign value kept, in characters.
pub const MAX_CAMPAIGN_VALUE_LEN: usize = 64;
/// Keys the module writes itself (tags and fields), which a parameter may not shadow: a tag and a
/// field of the same name make every query on it ambiguous, and two tags of one name make InfluxDB
/// refuse the line.
pub const RESERVED_KEYS: [&str; 12] = [
    "browser",
    "device",
    "domain",
    "name",
    "page",
    "platform",
    "referrer_domain",
    "tz",
    "hits",
    "load_ms",
    "session_pages",
    "referrer",
];

/// Checks a parameter name from the configuration: 1–32 of `a-z`, `0-9`, `_`, starting with a
/// letter or digit, not a key the module writes itself, and not a key that a write API refuses
/// later: InfluxDB refuses every line with a `time` key, and 2.x and later reserve keys that start
/// with `_` (`_measurement`, `_field`, ...). Refusing them here turns lost lines into an
/// `nginx -t` error.
pub fn valid_param_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !plain {
        return Err(format!("\"{name}\": use 1 to 32 of a-z, 0-9 and _"));
    }
    if name.starts_with('_') {
        return Err(format!(
            "\"{name}\": a key may not start with \"_\" (InfluxDB reserves such keys)"
        ));
    }
    if name == "time" {
        return Err("\"time\": InfluxDB refuses \"time\" as a tag key".to_owned());
    }
    if RESERVED_KEYS.contains(&name) {
        return Err(format!("\"{name}\" is a key the module writes itself"));
    }
    Ok(())
}

/// The allowed parameters of `query`, in name order (the order tags are written in), each at most
/// once (its first occurrence), with cleaned values; parameters whose value cleans to nothing are
/// left out.
pub fn campaign_tags(query: &str, allowed: &[String]) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if let Some(name) = allowed.iter().find(|a| **a == key) {
            if tags.iter().any(|(k, _)| k == name) {
                continue;
            }
            let clean = clean_value(&value);
            if !clean.is_empty() {
                tags.push((name.clone(), clean));
            }
        }
    }
    tags.sort_by(|(a, _), (b, _)| a.cmp(b));
    tags
}

/// A campaign value as stored: decoded, without invisible characters, limited to a plain
/// character set and capped; or, when it holds an identifier (`utm_source=bob@example.com`,
/// `utm_term=+49-151-2345678`), that identifier's placeholder (`:email`, `:phone`, ...), so the
/// visit still shows that its campaign link carried one.
fn clean_value(value: &str) -> String {
    let visible = match scrub_value(value) {
        Ok(visible) => visible,
        Err(placeholder) => return placeholder.as_str().to_owned(),
    };
    let mut kept = String::new();
    for c in visible.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '+' | ':' | '/' | '@') {
            kept.push(c);
        }
    }
    // Dropping characters can join an identifier's parts (`bob<@>x.org`): check what is kept too.
    if let Some(placeholder) = classify(&kept) {
        return placeholder.as_str().to_owned();
    }
    // Only ASCII is kept, so bytes are characters.
    kept.truncate(MAX_CAMPAIGN_VALUE_LEN);
    kept.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_CAMPAIGN_PARAMS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_allowed_parameters_only() {
        let tags = campaign_tags(
            "token=abc&utm_campaign=spring%20sale&email=a%40b.c&utm_source=news",
            &defaults(),
        );
        assert_eq!(
            tags,
            [
                ("utm_campaign".into(), "spring sale".into()),
                ("utm_source".into(), "news".into())
            ]
        );
    }

    #[test]
    fn cleans_and_caps_values_and_keeps_the_first_occurrence() {
        let tags = campaign_tags(
            &format!(
                "utm_source=a%0Ab%22c&utm_source=second&utm_medium={}&utm_campaign=%00",
                "x".repeat(100)
            ),
            &defaults(),
        );
        assert_eq!(tags[0].1.len(), MAX_CAMPAIGN_VALUE_LEN);
        assert_eq!(tags[1], ("utm_source".into(), "abc".into()));
        assert_eq!(tags.len(), 2);
    }

    #[test]
    fn identifiers_in_values_become_placeholders() {
        let mut params = defaults();
        params.push("utm_term".to_owned());
        params.push("ref".to_owned());
        let tags = campaign_tags(
            "utm_source=bob@example.com&utm_medium=bob%2540example.com&utm_campaign=spring%20sale\
             &utm_term=+49-151-2345678&ref=d41d8cd98f00b204e9800998ecf8427e",
            &params,
        );
        assert_eq!(
            tags,
            [
                ("ref".into(), ":token".into()),
                ("utm_campaign".into(), "spring sale".into()),
                ("utm_medium".into(), ":email".into()),
                ("utm_source".into(), ":email".into()),
                ("utm_term".into(), ":phone".into()),
            ]
        );
        for (query, kept) in [
            ("utm_source=a%E2%80%8Bb", "ab"),
            ("utm_source=news\u{2028}letter", "newsletter"),
            ("utm_source=order-123456", ":id"),
            ("utm_source=newsletter-2024-05", "newsletter-2024-05"),
            ("utm_source=bob<@>x.org", ":email"),
        ] {
            assert_eq!(
                campaign_tags(query, &params),
                [("utm_source".into(), kept.into())],
                "{query}"
            );
        }
    }

    #[test]
    fn checks_configured_names() {
        assert!(valid_param_name("ref").is_ok());
        assert!(valid_param_name("utm_term").is_ok());
        let long = "x".repeat(33);
        for bad in [
            "",
            "Ref",
            "a-b",
            "a b",
            "page",
            "domain",
            "load_ms",
            "hits",
            "referrer",
            "time",
            "_field",
            "_measurement",
            &long,
        ] {
            assert!(valid_param_name(bad).is_err(), "{bad}");
        }
    }
}
