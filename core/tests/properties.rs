//! Properties of the whole pipeline (body → beacon → record → line), for any input: it is either
//! refused, or it becomes exactly one line that an independent parser (the `influxdb-line-protocol`
//! crate) accepts, holding only the schema's keys and nothing the privacy rules exclude.

use analytics_core::line_protocol::{write_event, write_page_view, write_unlisted};
use analytics_core::{normalise, Beacon, DomainList, Measurement, Outcome, Policy};
use proptest::prelude::*;

const PAGE_TAGS: &[&str] = &[
    "device",
    "domain",
    "page",
    "platform",
    "referrer_domain",
    "tz",
    "utm_source",
    "utm_medium",
    "utm_campaign",
];
const PAGE_FIELDS: &[&str] = &["hits", "load_ms", "session_pages", "referrer"];

fn policy() -> Policy {
    Policy::for_domains(DomainList::parse(["example.com", "www.example.com"]).unwrap())
}

/// Runs the pipeline; `None` when the body is refused.
fn pipeline(body: &[u8]) -> Option<String> {
    let beacon = Beacon::parse(body).ok()?;
    let outcome = normalise(&beacon, &policy()).ok()?;
    let m = |name| Measurement::parse(name).unwrap();
    let mut out = Vec::new();
    match outcome {
        Outcome::PageView(r) => write_page_view(&mut out, &m("pageview"), &r, 1),
        Outcome::NotFound(r) => write_page_view(&mut out, &m("notfound"), &r, 1),
        Outcome::Event { domain, page, name } => write_event(&mut out, &m("event"), &domain, &page, name, 1),
        Outcome::Unlisted { domain } => write_unlisted(&mut out, &m("unlisted_domain"), &domain, 1),
    }
    Some(String::from_utf8(out).expect("lines are UTF-8"))
}

fn check_line(line: &str) -> Result<(), TestCaseError> {
    prop_assert!(line.ends_with('\n'));
    prop_assert_eq!(line.matches('\n').count(), 1, "one line: {:?}", line);
    prop_assert!(!line.contains('\r'));
    let parsed: Vec<_> = influxdb_line_protocol::parse_lines(line).collect();
    prop_assert_eq!(parsed.len(), 1);
    let parsed = match parsed.into_iter().next().unwrap() {
        Ok(p) => p,
        Err(e) => return Err(TestCaseError::fail(format!("{line:?}: {e}"))),
    };
    let measurement = parsed.series.measurement.as_str().to_owned();
    let tags: Vec<(String, String)> = parsed
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
        .collect();
    for (key, value) in &tags {
        let allowed = match measurement.as_str() {
            "pageview" | "notfound" => PAGE_TAGS,
            "event" => &["domain", "name", "page"][..],
            _ => &["domain"][..],
        };
        prop_assert!(allowed.contains(&key.as_str()), "tag {} in {:?}", key, line);
        prop_assert!(!value.is_empty());
        prop_assert!(
            !value.chars().any(char::is_control),
            "control character in {:?}",
            line
        );
        if key == "page" {
            prop_assert!(
                value.starts_with('/') && !value.contains(['?', '#']),
                "page {:?}",
                value
            );
        }
        if key == "domain" && measurement != "unlisted_domain" {
            prop_assert!(value == "example.com" || value == "www.example.com");
        }
    }
    for (key, value) in parsed.field_set.iter() {
        prop_assert!(PAGE_FIELDS.contains(&key.as_str()), "field {} in {:?}", key, line);
        if key.as_str() == "referrer" {
            let url = value.to_string();
            let host = url
                .split("://")
                .nth(1)
                .unwrap_or("")
                .split('/')
                .next()
                .unwrap_or("");
            prop_assert!(!host.contains(['@', ':']), "userinfo or port in {:?}", url);
            prop_assert!(!url.contains(['?', '#']), "query or fragment in {:?}", url);
        }
    }
    prop_assert_eq!(parsed.timestamp, Some(1));
    Ok(())
}

/// Text that is hard to handle: separators, quotes, escapes, controls, non-ASCII, URL parts.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,30}",
        "[ ,=\"\\\\\n\r\t\u{0}\u{85}a/?#@:%.]{0,30}",
        "(https?|javascript|data|ftp)://[a-zA-Z0-9.:@%-]{0,20}(/[a-zA-Z0-9 .%~@:-]{0,10}){0,3}(\\?[a-z=&_]{0,20})?(#.{0,5})?",
        "(/[^?#]{0,10}){0,4}(\\?(utm_source|utm_medium|token|email)=[^&]{0,10}(&[a-z_]{1,10}=.{0,8}){0,3})?",
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        nasty_text().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        (-900i64..900).prop_map(|n| serde_json::Value::from(n.to_string())),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!([1, {"a": "b"}])),
    ]
}

fn beacon_body() -> impl Strategy<Value = Vec<u8>> {
    let keys = prop::sample::select(vec![
        "domain",
        "d",
        "page",
        "g",
        "referrer",
        "r",
        "platform",
        "p",
        "utcoffset",
        "z",
        "mobile",
        "m",
        "load_ms",
        "l",
        "session_pages",
        "s",
        "type",
        "t",
        "name",
        "n",
        "other",
    ]);
    let domain = prop_oneof![
        Just("example.com".to_owned()),
        Just("WWW.Example.COM.".to_owned()),
        Just("example.com:8080".to_owned()),
        "[a-z.]{1,12}(\\.evil\\.org)?",
        nasty_text(),
    ];
    let kind = prop::sample::select(vec!["pageview", "notfound", "event", "other"]);
    (
        prop::collection::vec((keys, json_value()), 0..8),
        domain,
        nasty_text(),
        kind,
        "[a-z:/_.-]{0,70}",
    )
        .prop_map(|(extra, domain, page, kind, name)| {
            let mut object = serde_json::Map::new();
            object.insert("domain".into(), domain.into());
            object.insert("page".into(), page.into());
            object.insert("type".into(), kind.into());
            object.insert("name".into(), name.into());
            for (k, v) in extra {
                object.insert(k.into(), v);
            }
            serde_json::to_vec(&object).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn any_beacon_is_refused_or_becomes_one_valid_clean_line(body in beacon_body()) {
        if let Some(line) = pipeline(&body) {
            check_line(&line)?;
        }
    }

    #[test]
    fn any_bytes_are_refused_or_become_one_valid_clean_line(body in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Some(line) = pipeline(&body) {
            check_line(&line)?;
        }
    }
}
