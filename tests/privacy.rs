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
            "Chrome",
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
            ("domain".into(), "www.example.com".into()),
            ("page".into(), "/docs".into()),
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
