//! Hostile and sloppy input, end to end through a real nginx: every line that reaches the sink is
//! valid line protocol (read back by an independent parser) and holds nothing that identifies a
//! person; robots and visitors who opt out are answered but not recorded; campaign parameters
//! survive and nothing else from a query string does; the no-JS pixel; and the status counters
//! add up exactly after a mixed load.

mod common;

use std::time::Duration;

use common::*;

fn site(udp: &UdpCollector, extra: &str) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    server {{
        listen 127.0.0.1:{{port}};
        analytics_domains example.com www.example.com;
        location = /ping {{ analytics_beacon; {extra} }}
        location = /ping-dnt-off {{ analytics_beacon; analytics_respect_dnt off; analytics_filter_bots off; }}
        location = /p.gif {{ analytics_pixel; }}
        location = /status {{ analytics_status; }}
        location = /metrics {{ analytics_status prometheus; }}
    }}"#,
        udp = udp.port
    ))
}

/// Tag keys and field keys a line of each measurement may have.
fn allowed_keys(measurement: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match measurement {
        "pageview" | "notfound" => (
            &[
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
            ],
            &["hits", "load_ms", "session_pages", "referrer"],
        ),
        "event" => (&["domain", "name", "page"], &["hits"]),
        "unlisted_domain" => (&["domain"], &["hits"]),
        other => panic!("unexpected measurement {other}"),
    }
}

/// Every line parses on its own, uses only the schema's keys, and carries none of `secrets`.
fn assert_clean(lines: &[String], secrets: &[&str]) {
    for line in lines {
        let parsed = parse_line(line);
        let (tags, fields) = allowed_keys(&parsed.measurement);
        for (k, _) in &parsed.tags {
            assert!(tags.contains(&k.as_str()), "tag {k} in {line}");
        }
        for (k, _) in &parsed.fields {
            assert!(fields.contains(&k.as_str()), "field {k} in {line}");
        }
        assert_eq!(parsed.field("hits"), Some("1i"), "{line}");
        for secret in secrets {
            assert!(!line.contains(secret), "{secret:?} leaked into {line}");
        }
    }
}

#[test]
fn injection_through_every_string_field_is_neutralised() {
    let udp = UdpCollector::start();
    let nginx = site(&udp, "");
    let payloads = [
        "x\nevil,domain=example.com hits=100i 0\n",
        "a\r\nb",
        "c,d=e f\\",
        "q\"uo\\\"te",
        "nul\u{0}byte",
        "c1\u{85}\u{9b}control",
        "\u{202e}bidi",
    ];
    let mut sent = 0;
    for p in payloads {
        let json = serde_json::to_string(p).unwrap();
        for body in [
            format!(r#"{{"domain":"example.com","page":{json}}}"#),
            format!(r#"{{"domain":"example.com","page":"/","referrer":{json}}}"#),
            format!(
                r#"{{"domain":"example.com","page":"/","referrer":"https://o.org/{}"}}"#,
                &json[1..json.len() - 1]
            ),
            format!(r#"{{"domain":"example.com","page":"/","platform":{json}}}"#),
            format!(r#"{{"domain":"example.com","page":{json},"type":"notfound"}}"#),
        ] {
            let r = nginx.beacon(&body);
            assert_eq!(r.status, 204, "{body}: {}", r.text());
            sent += 1;
        }
        for body in [
            format!(r#"{{"domain":{json},"page":"/"}}"#),
            format!(r#"{{"domain":"example.com","page":"/","type":"event","name":{json}}}"#),
        ] {
            let r = nginx.beacon(&body);
            assert_eq!(r.status, 400, "{body}: {}", r.text());
        }
    }
    let lines = udp.wait_for_lines(sent, Duration::from_secs(10));
    assert_eq!(lines.len(), sent, "{lines:#?}");
    // The injected text may remain inside a value, escaped or quoted; it must never become
    // structure: each beacon is one line, of the schema's keys, with one hit for example.com.
    assert_clean(&lines, &[]);
    for line in &lines {
        assert_eq!(parse_line(line).tag("domain"), Some("example.com"), "{line}");
    }
}

#[test]
fn hostile_bodies_are_refused_and_write_nothing() {
    let udp = UdpCollector::start();
    let nginx = site(&udp, "analytics_unlisted_measurement off;");
    let huge = format!(
        r#"{{"domain":"example.com","page":"/","x":"{}"}}"#,
        "a".repeat(100_000)
    );
    let deep_known = format!(
        r#"{{"domain":"example.com","page":{}{}}}"#,
        "[".repeat(1500),
        "]".repeat(1500)
    );
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (huge.into_bytes(), 413),
        (deep_known.into_bytes(), 400),
        (
            b"{\"domain\":\"example.com\",\"page\":\"/\xff\xfe\"}".to_vec(),
            400,
        ),
        (b"\0\0\0\0".to_vec(), 400),
        (br#"{"domain":"example.com.evil.org","page":"/"}"#.to_vec(), 403),
        (br#"{"domain":"EXAMPLE.COM.evil.org.","page":"/"}"#.to_vec(), 403),
        (br#"{"domain":"example.com@evil.org","page":"/"}"#.to_vec(), 400),
        (br#"{"domain":"evil.org#example.com","page":"/"}"#.to_vec(), 400),
        (br#"{"domain":"example.com/","page":"/"}"#.to_vec(), 400),
        (
            br#"{"domain":"example.com","page":"/","utcoffset":"1e9"}"#.to_vec(),
            400,
        ),
        (
            br#"{"domain":"example.com","domain":"example.com","page":"/"}"#.to_vec(),
            400,
        ),
        (br#"["example.com","/"]"#.to_vec(), 400),
    ];
    for (body, status) in &cases {
        let r = nginx.post("/ping", body);
        assert_eq!(
            r.status,
            *status,
            "{}: {}",
            String::from_utf8_lossy(&body[..body.len().min(80)]),
            r.text()
        );
    }
    // A valid beacon after them is the only line.
    assert_eq!(
        nginx.beacon(r#"{"domain":"example.com","page":"/ok"}"#).status,
        204
    );
    let lines = udp.wait_for_lines(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let lines_after = udp.lines();
    assert_eq!(lines_after.len(), 1, "{lines:?} {lines_after:?}");
    assert_eq!(parse_line(&lines_after[0]).tag("page"), Some("/ok"));
}

#[test]
fn secrets_in_query_strings_and_referrers_never_reach_the_sink() {
    let udp = UdpCollector::start();
    let nginx = site(&udp, "");
    let bodies = [
        r#"{"domain":"example.com","page":"/reset/?token=SECRET1&email=alice%40mail.org&utm_source=Newsletter&utm_campaign=spring%20sale#SECRET2"}"#,
        r#"{"domain":"example.com","page":"https://bob:SECRET3@example.com/a?session=SECRET4&utm_medium=email"}"#,
        r#"{"domain":"example.com","page":"/","referrer":"https://carol:SECRET5@other.org:8443/path?q=SECRET6#SECRET7"}"#,
        r#"{"domain":"example.com","page":"/","referrer":"javascript:alert('SECRET8')"}"#,
        r#"{"domain":"example.com","page":"/","referrer":"data:text/html,SECRET9"}"#,
        r#"{"domain":"example.com","page":"/","referrer":"https://www.example.com/private?SECRET10"}"#,
    ];
    for body in bodies {
        assert_eq!(nginx.beacon(body).status, 204, "{body}");
    }
    let lines = udp.wait_for_lines(bodies.len(), Duration::from_secs(10));
    assert_eq!(lines.len(), bodies.len());
    assert_clean(
        &lines,
        &[
            "SECRET",
            "alice",
            "mail.org",
            "bob",
            "carol",
            "session",
            "token",
            "8443",
            "javascript",
            "data:",
            "127.0.0.1",
            // The User-Agent: only its family (`browser=Chrome`) is stored.
            "Chrome/",
            "Mozilla",
            "KHTML",
            "x86_64",
        ],
    );
    let parsed: Vec<ParsedLine> = lines.iter().map(|l| parse_line(l)).collect();
    let by_page = |p: &str| {
        parsed
            .iter()
            .find(|l| l.tag("page") == Some(p))
            .unwrap_or_else(|| panic!("{p}: {lines:#?}"))
    };
    let reset = by_page("/reset");
    assert_eq!(reset.tag("utm_source"), Some("Newsletter"));
    assert_eq!(reset.tag("utm_campaign"), Some("spring sale"));
    assert_eq!(by_page("/a").tag("utm_medium"), Some("email"));
    let with_referrer: Vec<&ParsedLine> = parsed
        .iter()
        .filter(|l| l.tag("referrer_domain").is_some())
        .collect();
    assert_eq!(
        with_referrer.len(),
        1,
        "only the external http(s) referrer is kept: {lines:#?}"
    );
    assert_eq!(with_referrer[0].tag("referrer_domain"), Some("other.org"));
    assert_eq!(with_referrer[0].field("referrer"), Some("https://other.org/path"));
}

#[test]
fn robots_and_visitors_who_opt_out_are_answered_but_not_recorded() {
    let udp = UdpCollector::start();
    let nginx = site(&udp, "");
    let body = br#"{"domain":"example.com","page":"/skipped"}"#;
    let skipped: [&[(&str, &str)]; 6] = [
        &[("User-Agent", "curl/8.5.0")],
        &[(
            "User-Agent",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        )],
        &[(
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0.0.0 Safari/537.36",
        )],
        &[("User-Agent", "")],
        &[("DNT", "1")],
        &[("Sec-GPC", "1")],
    ];
    for headers in skipped {
        let r = http(nginx.port, "POST", "/ping", headers, body);
        assert_eq!(r.status, 204, "{headers:?}");
    }
    // The same visitor where the site chose not to honour DNT, and not to filter robots.
    let r = http(
        nginx.port,
        "POST",
        "/ping-dnt-off",
        &[("DNT", "1"), ("User-Agent", "curl/8.5.0")],
        br#"{"domain":"example.com","page":"/counted"}"#,
    );
    assert_eq!(r.status, 204);
    udp.wait_for_lines(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let lines = udp.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(parse_line(&lines[0]).tag("page"), Some("/counted"));
    let status = nginx.status();
    assert_eq!(status["rejected_bot"], 4);
    assert_eq!(status["ignored_dnt"], 2);
}

#[test]
fn the_pixel_records_the_referring_page_and_always_answers_an_image() {
    let udp = UdpCollector::start();
    let nginx = site(&udp, "");
    let gif = |headers: &[(&str, &str)]| {
        let r = http(nginx.port, "GET", "/p.gif", headers, b"");
        assert_eq!(r.status, 200, "{headers:?}");
        assert_eq!(r.header("Content-Type"), Some("image/gif"));
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
        assert_eq!(r.body.len(), 43);
        assert!(r.body.starts_with(b"GIF89a"));
    };
    gif(&[(
        "Referer",
        "https://www.example.com/docs/?utm_source=qr&key=SECRET",
    )]);
    gif(&[]);
    gif(&[("Referer", "not a url")]);
    gif(&[("Referer", "https://evil.org/x")]);
    gif(&[
        ("Referer", "https://www.example.com/bot"),
        ("User-Agent", "Googlebot/2.1"),
    ]);
    gif(&[("Referer", "https://www.example.com/dnt"), ("DNT", "1")]);
    assert_eq!(http(nginx.port, "POST", "/p.gif", &[], b"").status, 405);

    udp.wait_for_lines(2, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let mut lines: Vec<ParsedLine> = udp.lines().iter().map(|l| parse_line(l)).collect();
    lines.sort_by_key(|l| l.measurement.clone());
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[0].measurement, "pageview");
    assert_eq!(
        lines[0].tags,
        [
            // The families come from the image request's headers (the test client's Chrome on
            // Linux), as for a beacon.
            ("browser".into(), "Chrome".into()),
            ("device".into(), "desktop".into()),
            ("domain".into(), "www.example.com".into()),
            ("page".into(), "/docs".into()),
            ("platform".into(), "Linux".into()),
            ("utm_source".into(), "qr".into())
        ]
    );
    assert_eq!(lines[1].measurement, "unlisted_domain");
    assert_eq!(lines[1].tag("domain"), Some("evil.org"));
    let status = nginx.status();
    assert_eq!(
        (
            status["accepted"].as_u64(),
            status["unlisted"].as_u64(),
            status["rejected_invalid"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(
        (status["rejected_bot"].as_u64(), status["ignored_dnt"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn the_counters_add_up_after_a_mixed_load() {
    let udp = UdpCollector::start();
    let nginx = site(&udp, "");
    /// The counter a request should land in, and the request: method, headers, body.
    type Kind<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [u8]);
    let kinds: [Kind; 12] = [
        ("accepted", "POST", &[], br#"{"domain":"example.com","page":"/"}"#),
        (
            "not_found",
            "POST",
            &[],
            br#"{"d":"example.com","g":"/gone","t":"notfound"}"#,
        ),
        (
            "events",
            "POST",
            &[],
            br#"{"d":"example.com","g":"/","t":"event","n":"play"}"#,
        ),
        ("unlisted", "POST", &[], br#"{"domain":"evil.org","page":"/"}"#),
        ("rejected_json", "POST", &[], b"{"),
        (
            "rejected_type",
            "POST",
            &[],
            br#"{"domain":"example.com","page":7}"#,
        ),
        (
            "rejected_range",
            "POST",
            &[],
            br#"{"domain":"example.com","page":"/","load_ms":-5}"#,
        ),
        ("rejected_invalid", "POST", &[], br#"{"domain":"a b","page":"/"}"#),
        ("rejected_method", "GET", &[], b""),
        (
            "rejected_bot",
            "POST",
            &[("User-Agent", "Wget/1.21")],
            br#"{"domain":"example.com","page":"/"}"#,
        ),
        (
            "ignored_dnt",
            "POST",
            &[("Sec-GPC", "1")],
            br#"{"domain":"example.com","page":"/"}"#,
        ),
        ("preflight", "OPTIONS", &[("Origin", "https://example.com")], b""),
    ];
    let rounds = 7;
    let mut answered = 0;
    for round in 0..rounds {
        for (i, (_, method, headers, body)) in kinds.iter().enumerate() {
            // Vary how many of each kind, so that a counter counting the wrong kind shows.
            for _ in 0..=((round + i) % 3) {
                http(nginx.port, method, "/ping", headers, body);
                answered += 1;
            }
        }
    }
    let status = nginx.status();
    let mut total = 0;
    let mut recorded = 0;
    for (i, (name, ..)) in kinds.iter().enumerate() {
        let expected: u64 = (0..rounds).map(|round| ((round + i) % 3 + 1) as u64).sum();
        assert_eq!(status[*name].as_u64(), Some(expected), "{name}: {status}");
        total += expected;
        if ["accepted", "not_found", "events", "unlisted"].contains(name) {
            recorded += expected;
        }
    }
    assert_eq!(total, answered);
    let lines = udp.wait_for_lines(recorded as usize, Duration::from_secs(10));
    assert_eq!(lines.len() as u64, recorded);
    assert_clean(&lines, &[]);
    let status = nginx.status();
    assert_eq!(status["lines_written"].as_u64(), Some(recorded));
    let metrics = http(nginx.port, "GET", "/metrics", &[], b"");
    assert_eq!(
        metrics.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        metrics.text().contains(&format!(
            "# TYPE nginx_analytics_accepted_total counter\nnginx_analytics_accepted_total {}\n",
            status["accepted"]
        )),
        "{}",
        metrics.text()
    );
}

#[test]
fn an_event_allow_list_records_only_its_names() {
    let udp = UdpCollector::start();
    let nginx = site(&udp, "analytics_event_names video-play newsletter:signup;");
    let event = |name: &str| {
        nginx.beacon(&format!(
            r#"{{"t":"event","n":"{name}","d":"example.com","g":"/"}}"#
        ))
    };
    assert_eq!(event("video-play").status, 204);
    let r = event("spam-8c1f2e");
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("is not an event name this site records"),
        "{}",
        r.text()
    );
    assert_eq!(event("newsletter:signup").status, 204);
    let lines = udp.wait_for_lines(2, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let names: Vec<String> = udp
        .lines()
        .iter()
        .map(|l| parse_line(l).tag("name").unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2, "{lines:?}");
    assert!(names.contains(&"video-play".to_owned()) && names.contains(&"newsletter:signup".to_owned()));
    assert_eq!(nginx.status()["rejected_invalid"], 1);
}

/// Identifiers of every class the module scrubs, as a hostile or careless page would carry them.
const NEEDLES: &[&str] = &[
    "bob@example.com",
    "Alice.Smith+news@mail.example.org",
    "+49-151-2345678",
    "(555) 123-4567",
    "+4915123456789",
    "123456789012",
    "123e4567-e89b-12d3-a456-426614174000",
    "d41d8cd98f00b204e9800998ecf8427e",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "dGhpcyBpcyBhIHNlY3JldCB0b2tlbg",
    "FMfcgzGwHLfxkjhSjtDqLKBhZrFGpQhX",
    "192.168.13.37",
    "2001:db8::1",
];

/// Characters nobody sees: separators, bidi controls, zero-width characters, a soft hyphen, a BOM,
/// controls.
const INVISIBLE: &[char] = &[
    '\u{2028}',
    '\u{2029}',
    '\u{202A}',
    '\u{202B}',
    '\u{202C}',
    '\u{202D}',
    '\u{202E}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{200E}',
    '\u{200F}',
    '\u{061C}',
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{2060}',
    '\u{FEFF}',
    '\u{AD}',
    '\u{180E}',
    '\u{E0041}',
    '\u{1}',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9b}',
];

/// Percent-encodes every byte that is not a letter or digit (`all`: every byte).
fn percent_encode(text: &str, all: bool, upper: bool) -> String {
    text.bytes()
        .map(|b| match (b.is_ascii_alphanumeric() && !all, upper) {
            (true, _) => char::from(b).to_string(),
            (false, true) => format!("%{b:02X}"),
            (false, false) => format!("%{b:02x}"),
        })
        .collect()
}

/// The ways a needle is written into a URL: as it is, encoded (upper- and lower-case hex), every
/// byte encoded, encoded twice.
fn spellings(needle: &str) -> [String; 5] {
    let once = percent_encode(needle, false, true);
    [
        needle.to_owned(),
        once.clone(),
        percent_encode(needle, false, false),
        percent_encode(needle, true, false),
        once.replace('%', "%25"),
    ]
}

/// A query-string value: `spelling` form-encoded, as a browser would put it in a link.
fn query_value(spelling: &str) -> String {
    spelling
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The forms of the sink's bytes a reader could find a needle in: as received, lower-cased, and
/// percent-decoded (up to three times, each lower-cased too).
fn readable_forms(raw: &[u8]) -> Vec<String> {
    let mut forms = vec![String::from_utf8_lossy(raw).into_owned()];
    let mut bytes = raw.to_vec();
    for _ in 0..3 {
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
        bytes = decoded;
        forms.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    let lower: Vec<String> = forms.iter().map(|f| f.to_lowercase()).collect();
    forms.extend(lower);
    forms
}

/// Fails when nginx logged a message of level `alert`, `crit` or `emerg`, or a worker died.
fn assert_no_alerts(nginx: &Nginx) {
    let log = nginx.error_log();
    for bad in ["[alert]", "[crit]", "[emerg]", "exited on signal"] {
        assert!(!log.contains(bad), "{bad} in the error log:\n{log}");
    }
}

fn scrubbing_site(udp: &UdpCollector) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    server {{
        listen 127.0.0.1:{{port}};
        analytics_domains example.com www.example.com;
        analytics_query_params utm_term ref;
        analytics_filter_bots off;
        location = /ping {{ analytics_beacon; }}
        location = /p.gif {{ analytics_pixel; }}
        location = /status {{ analytics_status; }}
    }}"#,
        udp = udp.port
    ))
}

#[test]
fn identifiers_in_every_url_field_never_reach_the_sink() {
    let udp = UdpCollector::start();
    let nginx = scrubbing_site(&udp);
    let mut recorded = 0;
    let beacon = |body: serde_json::Value, status: u16| {
        let r = nginx.beacon(&body.to_string());
        assert_eq!(r.status, status, "{body}: {}", r.text());
    };
    for needle in NEEDLES {
        for s in spellings(needle) {
            let q = query_value(&s);
            let campaign = format!("utm_source={q}&utm_medium={q}&utm_campaign={q}&utm_term={q}&ref={q}");
            let page = format!("/user/{s}/settings?{campaign}");
            let referrer = format!("https://other.org/{s}/more");
            beacon(
                serde_json::json!({"d": "example.com", "g": page, "r": referrer}),
                204,
            );
            let deep_referrer = format!("https://mail.other.org/u/0/{s}/inbox");
            beacon(
                serde_json::json!({"d": "example.com", "g": format!("/{s}"), "r": deep_referrer, "t": "notfound"}),
                204,
            );
            beacon(
                serde_json::json!({"d": "example.com", "g": format!("/v/{s};jsessionid={s}"), "t": "event", "n": "play"}),
                204,
            );
            // The pixel: the page is the image request's Referer.
            let referer = format!("https://www.example.com/acct/{s}?{campaign}");
            let r = http(nginx.port, "GET", "/p.gif", &[("Referer", referer.as_str())], b"");
            assert_eq!(r.status, 200, "{referer}");
            recorded += 4;
        }
        // A host name holding an identifier, for a site not on the allow-list.
        if needle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            beacon(
                serde_json::json!({"d": format!("{needle}.evil.org"), "g": "/"}),
                403,
            );
            recorded += 1;
        }
    }
    // IP addresses as the site, and as the referring site, in every spelling a URL parser reads.
    for ip in [
        "192.168.13.37",
        "3232238885",
        "0xC0A80D25",
        "0300.0250.015.045",
        "192.168.13.37:8080",
    ] {
        beacon(serde_json::json!({"d": ip, "g": "/"}), 400);
    }
    for referrer in [
        "https://192.168.13.37/x",
        "http://3232238885/",
        "http://0xC0A80D25/",
        "http://0300.0250.015.045/",
        "https://[2001:db8::1]/x",
    ] {
        beacon(
            serde_json::json!({"d": "example.com", "g": "/from-an-address", "r": referrer}),
            204,
        );
        recorded += 1;
    }
    let lines = udp.wait_for_lines(recorded, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(200));
    let datagrams = udp.datagrams();
    assert_eq!(udp.lines().len(), recorded, "{lines:#?}");
    for datagram in &datagrams {
        let forms = readable_forms(datagram);
        for needle in NEEDLES
            .iter()
            .chain(["3232238885", "0xc0a80d25", "0300.0250"].iter())
        {
            for form in &forms {
                assert!(
                    !form.contains(needle) && !form.contains(&needle.to_lowercase()),
                    "{needle:?} reached the sink: {}",
                    String::from_utf8_lossy(datagram)
                );
            }
        }
    }
    assert_clean_lines(&lines);
    let parsed: Vec<ParsedLine> = lines.iter().map(|l| parse_line(l)).collect();
    // What is left is the shape of the page, with placeholders where the identifiers were.
    let pages: std::collections::BTreeSet<&str> = parsed.iter().filter_map(|l| l.tag("page")).collect();
    assert!(
        pages.contains("/user/:email/settings") && pages.contains("/user/:phone/settings"),
        "{pages:?}"
    );
    assert!(
        pages.contains("/acct/:id") && pages.contains("/v/:uuid") && pages.contains("/:ip"),
        "{pages:?}"
    );
    assert!(
        parsed
            .iter()
            .all(|l| l.tag("page") != Some("/from-an-address") || l.tag("referrer_domain").is_none()),
        "a referrer from an IP address was kept: {lines:#?}"
    );
    assert_no_alerts(&nginx);
}

/// Every line parses, and no tag or field holds an invisible character (by Unicode's tables).
fn assert_clean_lines(lines: &[String]) {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    for line in lines {
        parse_line(line);
        let invisible = line.chars().find(|c| {
            matches!(
                c.general_category(),
                GeneralCategory::Control
                    | GeneralCategory::Format
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
            )
        });
        assert_eq!(invisible, None, "{line:?}");
    }
}

#[test]
fn invisible_characters_never_reach_the_sink() {
    let udp = UdpCollector::start();
    let nginx = scrubbing_site(&udp);
    let mut recorded = 0;
    for &c in INVISIBLE {
        let hidden = |word: &str| -> String {
            let mut chars: Vec<char> = word.chars().collect();
            chars.insert(chars.len() / 2, c);
            chars.into_iter().collect()
        };
        let encoded = percent_encode(&c.to_string(), true, true);
        let bodies = [
            serde_json::json!({"d": "example.com", "g": hidden("/admin"), "r": format!("https://other.org{}", hidden("/path")),
                "p": hidden("Win32"), "z": 60}),
            serde_json::json!({"d": "example.com", "g": format!("/adm{encoded}in?utm_source=news{encoded}letter&ref={}",
                hidden("friend")), "r": format!("https://other.org/pa{encoded}th")}),
            serde_json::json!({"d": "example.com", "g": hidden("/gone"), "t": "notfound"}),
            serde_json::json!({"d": "example.com", "g": hidden("/video"), "t": "event", "n": "play"}),
        ];
        for body in bodies {
            let r = nginx.beacon(&body.to_string());
            assert_eq!(r.status, 204, "{body}: {}", r.text());
            recorded += 1;
        }
        // Where a field must be plain (domain, event name), the beacon is refused whole.
        for body in [
            serde_json::json!({"d": hidden("example.com"), "g": "/"}),
            serde_json::json!({"d": "example.com", "g": "/", "t": "event", "n": hidden("play")}),
        ] {
            assert_eq!(nginx.beacon(&body.to_string()).status, 400, "{body}");
        }
    }
    let lines = udp.wait_for_lines(recorded, Duration::from_secs(20));
    assert_eq!(lines.len(), recorded);
    assert_clean_lines(&lines);
    for datagram in udp.datagrams() {
        for form in readable_forms(&datagram) {
            let found = form.chars().find(|c| INVISIBLE.contains(c) && *c != '\n');
            assert_eq!(found, None, "{:?}", String::from_utf8_lossy(&datagram));
        }
    }
    for line in &lines {
        let l = parse_line(line);
        if let Some(page) = l.tag("page") {
            assert!(["/admin", "/gone", "/video"].contains(&page), "{line}");
        }
        if let Some(source) = l.tag("utm_source") {
            assert_eq!(source, "newsletter", "{line}");
        }
        if let Some(referrer) = l.field("referrer") {
            assert_eq!(referrer, "https://other.org/path", "{line}");
        }
    }
    assert_no_alerts(&nginx);
}

#[test]
fn the_platform_tag_is_a_closed_list_and_the_time_zone_a_quarter_hour() {
    let udp = UdpCollector::start();
    let nginx = scrubbing_site(&udp);
    let user_agent = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240505.004) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36";
    let cases = [
        ("Win32", "Windows", "desktop"),
        ("MacIntel", "macOS", "desktop"),
        ("Linux x86_64", "Linux", "desktop"),
        ("Linux armv8l", "Android", "mobile"),
        ("iPhone", "iOS", "mobile"),
        ("CrOS x86_64", "ChromeOS", "desktop"),
        ("FreeBSD amd64", "BSD", "desktop"),
        (user_agent, "other", "mobile"),
    ];
    for (i, (raw, _, _)) in cases.iter().enumerate() {
        let body =
            serde_json::json!({"d": "example.com", "g": format!("/p{i}"), "p": raw, "z": -67 + i as i64});
        // A `User-Agent` that names no system or device: the beacon's platform decides.
        let headers = [("User-Agent", "Mozilla/5.0")];
        let r = http(nginx.port, "POST", "/ping", &headers, body.to_string().as_bytes());
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let lines = udp.wait_for_lines(cases.len(), Duration::from_secs(10));
    assert_eq!(lines.len(), cases.len());
    for line in &lines {
        for fragment in [
            "Mozilla",
            "Pixel",
            "AppleWebKit",
            "Chrome/",
            "x86",
            "armv8l",
            "Win32",
            "MacIntel",
        ] {
            assert!(!line.contains(fragment), "{fragment} in {line}");
        }
        let l = parse_line(line);
        let i: usize = l.tag("page").unwrap()[2..].parse().unwrap();
        assert_eq!(l.tag("platform"), Some(cases[i].1), "{line}");
        assert_eq!(l.tag("device"), Some(cases[i].2), "{line}");
        // -67 .. -60 round to -60 (-67 + 7 = -60); none of the raw minute values shows.
        assert_eq!(l.tag("tz"), Some("-60"), "{line}");
    }
}

#[test]
fn ordinary_pages_come_through_unchanged() {
    let udp = UdpCollector::start();
    let nginx = scrubbing_site(&udp);
    let pages = [
        "/",
        "/about",
        "/2024/05/hello-world",
        "/page/2",
        "/products/shoes-42",
        "/blog/rust-1.80-released",
        "/docs/getting-started/installation",
        "/wiki/List_of_Apollo_11_astronauts",
        "/news/2024-05-17-launch-day",
        "/questions/12345/how-to-parse-json",
    ];
    for page in pages {
        let body = serde_json::json!({"d": "example.com", "g": format!("{page}?utm_source=newsletter&utm_campaign=spring-sale-2024"),
            "r": "https://news.ycombinator.com/item?id=40000000"});
        assert_eq!(nginx.beacon(&body.to_string()).status, 204);
    }
    let lines = udp.wait_for_lines(pages.len(), Duration::from_secs(10));
    let mut got: Vec<String> = lines
        .iter()
        .map(|l| parse_line(l).tag("page").unwrap().to_owned())
        .collect();
    got.sort();
    let mut want: Vec<&str> = pages.to_vec();
    want.sort();
    assert_eq!(got, want);
    for line in &lines {
        let l = parse_line(line);
        assert_eq!(l.tag("utm_source"), Some("newsletter"));
        assert_eq!(l.tag("utm_campaign"), Some("spring-sale-2024"));
        assert_eq!(l.field("referrer"), Some("https://news.ycombinator.com/item"));
    }
}

#[test]
fn the_configuration_refuses_an_ip_address_as_a_site() {
    let (ok, output) = nginx_test_config(
        "analytics_sink udp://127.0.0.1:9;
    server { listen 127.0.0.1:1; location = /ping { analytics_beacon; analytics_domains example.com 127.0.0.1; } }",
    );
    assert!(!ok, "{output}");
    assert!(
        output.contains("\"127.0.0.1\" is an IP address: list host names"),
        "{output}"
    );
}
