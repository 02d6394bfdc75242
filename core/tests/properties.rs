//! Properties of the whole pipeline (body → beacon → record → line), for any input: it is either
//! refused, or it becomes exactly one line that an independent parser (the `influxdb-line-protocol`
//! crate) accepts, holding only the schema's keys and nothing the privacy rules exclude; and an
//! identifier of any class, anywhere in any URL-derived field, in any encoding, never reaches the
//! line.

use analytics_core::normalise::client::{client_families, ClientHeaders};
use analytics_core::normalise::site_tag::site_tag_value;
use analytics_core::outcome_line::{write_outcome, Measurements};
use analytics_core::pixel::beacon_from_referer;
use analytics_core::{normalise, normalise_for_client, Beacon, DomainList, Outcome, Policy};
use proptest::prelude::*;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// The only values the `platform` tag may take.
const PLATFORMS: &[&str] = &[
    "Windows", "macOS", "Linux", "Android", "iOS", "ChromeOS", "BSD", "other",
];

const PAGE_TAGS: &[&str] = &[
    "browser",
    "device",
    "domain",
    "page",
    "platform",
    "referrer_domain",
    "tz",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "aaa",
    "ref",
    "zz",
    // Site tags (`analytics_tag`) of the test below.
    "a_site",
    "country",
    "zzz_last",
];
/// Campaign parameters allowed beyond `utm_*`, chosen to sort before, among and after the
/// module's own tag keys.
const EXTRA_PARAMS: &[&str] = &["aaa", "ref", "zz"];
const PAGE_FIELDS: &[&str] = &["hits", "load_ms", "session_pages", "referrer"];

fn policy() -> Policy {
    let extra: Vec<String> = EXTRA_PARAMS.iter().map(|p| p.to_string()).collect();
    Policy::new(
        DomainList::parse(["example.com", "www.example.com"]).unwrap(),
        &extra,
        true,
    )
}

/// Runs the pipeline; `None` when the body is refused.
fn pipeline(body: &[u8]) -> Option<String> {
    write(&Beacon::parse(body).ok()?)
}

/// Normalises and writes a beacon; `None` when it is refused.
fn write(beacon: &Beacon) -> Option<String> {
    let outcome = normalise(beacon, &policy()).ok()?;
    let mut out = Vec::new();
    // The same step the beacon and pixel handlers use.
    write_outcome(&mut out, &outcome, &Measurements::default(), 1);
    Some(String::from_utf8(out).expect("lines are UTF-8"))
}

/// Invisible by Unicode's own tables: control, format, line and paragraph separator characters.
fn invisible_by_category(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

fn check_line(line: &str) -> Result<(), TestCaseError> {
    prop_assert!(line.ends_with('\n'));
    prop_assert_eq!(line.matches('\n').count(), 1, "one line: {:?}", line);
    prop_assert!(!line.contains('\r'));
    prop_assert!(
        !line[..line.len() - 1].chars().any(invisible_by_category),
        "invisible character in {:?}",
        line
    );
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
    // InfluxDB prefers tags in key order (byte order), and docs/line-protocol.md promises it.
    prop_assert!(
        tags.windows(2).all(|w| w[0].0 < w[1].0),
        "tags out of key order in {:?}",
        line
    );
    for (key, value) in &tags {
        let allowed = match measurement.as_str() {
            "pageview" | "notfound" => PAGE_TAGS,
            "event" => &["domain", "extension", "file", "name", "page", "target_domain"][..],
            _ => &["domain"][..],
        };
        prop_assert!(allowed.contains(&key.as_str()), "tag {} in {:?}", key, line);
        prop_assert!(!value.is_empty());
        prop_assert!(
            !value.chars().any(char::is_control),
            "control character in {:?}",
            line
        );
        if key == "file" {
            prop_assert!(
                value.starts_with('/')
                    && !value.contains(['?', '#'])
                    && value.bytes().all(|b| b.is_ascii_graphic()),
                "file {:?}",
                value
            );
        }
        if key == "extension" {
            prop_assert!(
                value.len() <= 10
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "extension {:?}",
                value
            );
        }
        if key == "target_domain" {
            prop_assert!(
                value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b)),
                "target_domain {:?}",
                value
            );
        }
        if key == "page" {
            prop_assert!(
                value.starts_with('/') && !value.contains(['?', '#']),
                "page {:?}",
                value
            );
            prop_assert!(value.bytes().all(|b| b.is_ascii_graphic()), "page {:?}", value);
        }
        if key == "platform" {
            prop_assert!(PLATFORMS.contains(&value.as_str()), "platform {:?}", value);
        }
        if key == "tz" {
            let tz: i32 = value
                .parse()
                .map_err(|_| TestCaseError::fail(format!("tz {value:?}")))?;
            prop_assert!(tz % 15 == 0 && (-840..=840).contains(&tz), "tz {}", tz);
        }
        if key == "domain" && measurement != "unlisted_domain" {
            prop_assert!(value == "example.com" || value == "www.example.com");
        }
    }
    for (key, value) in parsed.field_set.iter() {
        let allowed = match measurement.as_str() {
            "event" => &["hits", "engaged_ms"][..],
            _ => PAGE_FIELDS,
        };
        prop_assert!(allowed.contains(&key.as_str()), "field {} in {:?}", key, line);
        if key.as_str() == "engaged_ms" {
            let ms = value.to_string();
            let ms: u64 = ms
                .trim_end_matches('i')
                .parse()
                .map_err(|_| TestCaseError::fail(format!("engaged_ms {ms:?}")))?;
            prop_assert!(ms <= 86_400_000, "engaged_ms {}", ms);
        }
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
        "[a-z/%\u{2028}\u{2029}\u{200B}-\u{200F}\u{202A}-\u{202E}\u{2066}-\u{2069}\u{FEFF}\u{AD}\u{61C}\u{E0001}]{0,30}",
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
        "target",
        "h",
        "file",
        "f",
        "engaged_ms",
        "e",
        "other",
    ]);
    let domain = prop_oneof![
        Just("example.com".to_owned()),
        Just("WWW.Example.COM.".to_owned()),
        Just("example.com:8080".to_owned()),
        "[a-z.]{1,12}(\\.evil\\.org)?",
        nasty_text(),
    ];
    let kind = prop::sample::select(vec![
        "pageview",
        "notfound",
        "event",
        "outbound",
        "download",
        "engagement",
        "other",
    ]);
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

/// A beacon carrying every tag at once, with campaign parameters in any order.
fn full_beacon_with_campaign() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::subsequence(
        vec!["utm_source", "utm_medium", "utm_campaign", "aaa", "ref", "zz"],
        0..=6,
    )
    .prop_shuffle();
    (names, "[a-z]{1,8}", any::<bool>()).prop_map(|(names, value, mobile)| {
        let query: Vec<String> = names.iter().map(|n| format!("{n}={value}")).collect();
        serde_json::to_vec(&serde_json::json!({
            "d": "example.com",
            "g": format!("/p?{}", query.join("&")),
            "r": "https://news.example.org/item",
            "p": "Linux x86_64",
            "m": mobile,
            "z": -60,
            "l": 300,
            "s": 2,
        }))
        .unwrap()
    })
}

proptest! {
    #[test]
    fn tags_are_written_in_key_order_whatever_the_query_order(body in full_beacon_with_campaign()) {
        let line = pipeline(&body).expect("a valid beacon");
        check_line(&line)?;
    }
}

/// Header values a client may send, real and hostile.
fn header_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36".to_owned())),
        Just(Some(r#""Chromium";v="138", "Microsoft Edge";v="138", "Not)A;Brand";v="8""#.to_owned())),
        Just(Some("?1".to_owned())),
        Just(Some("\"macOS\"".to_owned())),
        any::<String>().prop_map(Some),
        "[ -~]{0,80}".prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Families from any headers, and site tags with any values, among campaign tags: the line
    /// stays one valid line in key order, with nothing of the headers but the families.
    #[test]
    fn families_and_site_tags_keep_lines_valid_and_in_key_order(
        body in full_beacon_with_campaign(),
        agent in header_value(),
        brands in header_value(),
        mobile in header_value(),
        platform in header_value(),
        values in prop::collection::vec(prop_oneof![any::<String>(), "[a-zA-Z0-9 ._:/-]{0,70}"], 3),
    ) {
        let beacon = Beacon::parse(&body).expect("a valid beacon");
        let families = client_families(&ClientHeaders {
            user_agent: agent.as_deref(),
            brands: brands.as_deref(),
            mobile: mobile.as_deref(),
            platform: platform.as_deref(),
        });
        let mut outcome = normalise_for_client(&beacon, &policy(), &families).expect("allowed");
        let Outcome::PageView(record) = &mut outcome else { panic!() };
        for (name, value) in ["a_site", "country", "zzz_last"].iter().zip(&values) {
            if let Ok(Some(value)) = site_tag_value(value.as_bytes()) {
                record.site_tags.push(((*name).to_owned(), value.to_owned()));
            }
        }
        let mut out = Vec::new();
        write_outcome(&mut out, &outcome, &Measurements::default(), 1);
        let line = String::from_utf8(out).expect("lines are UTF-8");
        check_line(&line)?;
        for header in [&agent, &brands].into_iter().flatten().filter(|h| h.len() > 12) {
            prop_assert!(!line.contains(header.as_str()), "{:?} in {:?}", header, line);
        }
    }
}

const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Standard base64 without `/`, which would split a path segment.
const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+";

fn random_text(alphabet: &'static str, len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet.chars().collect();
    prop::collection::vec(prop::sample::select(chars), len).prop_map(|cs| cs.into_iter().collect())
}

/// An identifier of one of the classes the scrubber must catch.
fn identifier() -> impl Strategy<Value = String> {
    prop_oneof![
        // e-mail addresses
        "[a-zA-Z][a-zA-Z0-9._+-]{0,12}[a-zA-Z0-9]@[a-zA-Z0-9][a-zA-Z0-9-]{0,10}\\.[a-zA-Z]{2,6}",
        // phone numbers
        "\\+[1-9][0-9]{1,2}[- ]?[0-9]{2,4}[- ]?[0-9]{4,8}",
        "\\([0-9]{3}\\) ?[0-9]{3}-[0-9]{4}",
        "[0-9]{3}[-. ][0-9]{3}[-. ][0-9]{4}",
        // long numbers
        "[0-9]{6,16}",
        // UUIDs
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        // hex tokens (hashes): digits and letters
        "[0-9a-f]{16,64}".prop_filter("digits and letters", |h| h.bytes().any(|b| b.is_ascii_digit())
            && h.bytes().any(|b| b.is_ascii_alphabetic())),
        // base64url and base64 tokens, each character drawn from the whole alphabet (a regex class
        // would draw `-` and `_` as often as all letters together)
        random_text(BASE64URL, 32..64),
        (random_text(BASE64, 32..60), "={0,2}").prop_map(|(t, pad)| t + &pad),
        // JWTs
        (
            random_text(BASE64URL, 10..40),
            random_text(BASE64URL, 10..60),
            random_text(BASE64URL, 20..43)
        )
            .prop_map(|(header, payload, signature)| format!("eyJ{header}.eyJ{payload}.{signature}")),
        // IP addresses
        any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
        any::<[u16; 8]>().prop_map(|s| std::net::Ipv6Addr::from(s).to_string()),
    ]
}

/// `text` percent-encoded: every byte that is not a letter or digit (`all`: every byte), with
/// upper- or lower-case hex digits.
fn percent_encode(text: &str, all: bool, upper: bool) -> String {
    text.bytes()
        .map(|b| match (b.is_ascii_alphanumeric() && !all, upper) {
            (true, _) => char::from(b).to_string(),
            (false, true) => format!("%{b:02X}"),
            (false, false) => format!("%{b:02x}"),
        })
        .collect()
}

/// How an identifier is written into a URL.
fn spelling(identifier: &str, how: u8) -> String {
    match how % 5 {
        0 => identifier.to_owned(),
        1 => percent_encode(identifier, false, true),
        2 => percent_encode(identifier, false, false),
        3 => percent_encode(identifier, true, true),
        _ => percent_encode(identifier, false, true).replace('%', "%25"),
    }
}

/// Whether `needle` shows in `line` as it is, in lower case, or percent-decoded (up to 3 times).
fn leaks(line: &str, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    let mut text = line.to_lowercase();
    for _ in 0..4 {
        if text.contains(&needle) {
            return true;
        }
        let bytes = text.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) if bytes[i] == b'%' => {
                    decoded.push(b);
                    i += 3;
                }
                _ => {
                    decoded.push(bytes[i]);
                    i += 1;
                }
            }
        }
        text = String::from_utf8_lossy(&decoded).to_lowercase();
    }
    false
}

/// A path of plain words with `segment` at `at` (0 = first).
fn path_with(words: &[String], at: usize, segment: &str) -> String {
    let mut segments: Vec<&str> = words.iter().map(String::as_str).collect();
    segments.insert(at.min(segments.len()), segment);
    format!("/{}", segments.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn identifiers_never_reach_a_line(
        identifier in identifier(),
        how in any::<u8>(),
        prefix in "([a-z]{1,6}[-_=])?",
        suffix in "([-_=][a-z]{1,6})?",
        words in prop::collection::vec("[a-z]{1,8}", 0..4),
        at in 0usize..5,
        kind in prop::sample::select(vec!["pageview", "notfound", "event", "outbound", "download", "engagement"]),
    ) {
        let written = spelling(&identifier, how);
        let segment = format!("{prefix}{written}{suffix}");
        let path = path_with(&words, at, &segment);
        // Campaign values are form-encoded in a query string, on top of the spelling's encoding.
        let value: String = url::form_urlencoded::byte_serialize(written.as_bytes()).collect();
        let page = format!("{path}?utm_source={value}&utm_campaign={value}");
        let body = serde_json::json!({
            "domain": "example.com",
            "page": page,
            "referrer": format!("https://other.org{path}"),
            "type": kind,
            "name": "play",
            "platform": identifier,
            "target": format!("{segment}.other.org"),
            "file": format!("{path}/f.pdf"),
            "engaged_ms": 5,
        });
        let Some(line) = pipeline(body.to_string().as_bytes()) else {
            // Only an outbound link whose host is no host name at all is refused.
            prop_assert_eq!(kind, "outbound", "a valid beacon refused: {}", body);
            return Ok(());
        };
        check_line(&line)?;
        prop_assert!(!leaks(&line, &identifier), "{:?} in {:?}", identifier, line);
        // The no-JS pixel takes the page from the Referer of the image request.
        let pixel = beacon_from_referer(Some(&format!("https://example.com{page}"))).expect("a web page");
        let line = write(&pixel).expect("an allowed page");
        check_line(&line)?;
        prop_assert!(!leaks(&line, &identifier), "{:?} in {:?}", identifier, line);
    }

    #[test]
    fn identifiers_never_reach_an_unlisted_domain(
        identifier in identifier(),
        prefix in "([a-z]{1,6}-)?",
        parent in "(evil\\.org|[a-z]{1,8}\\.example\\.net)",
    ) {
        let body = serde_json::json!({"domain": format!("{prefix}{identifier}.{parent}"), "page": "/"});
        // Most identifiers cannot be host names (`@`, `+`, spaces, `:`) and are refused.
        if let Some(line) = pipeline(body.to_string().as_bytes()) {
            check_line(&line)?;
            prop_assert!(!leaks(&line, &identifier), "{:?} in {:?}", identifier, line);
        }
    }
}
