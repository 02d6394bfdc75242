//! Browser, OS and device families from the request headers, and the site owner's own tags
//! (`analytics_tag`), end to end: a real nginx loading the real module. Every line written is
//! read back with the independent line-protocol parser.

mod common;

use std::time::Duration;

use common::*;

const FAMILIES: &str = include_str!("../core/tests/data/families.txt");

fn file_nginx(location_extra: &str, http_extra: &str) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink file:{{dir}}/analytics.lp flush=20ms;
    {http_extra}
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; {location_extra} }}
        location = /p.gif {{ analytics_pixel; analytics_domains example.com; {location_extra} }}
        location = /status {{ analytics_status; }}
    }}"#
    ))
}

/// The `n` lines written, parsed, in the order of their `load_ms` (workers write in their own
/// order: the tests number their beacons so).
fn lines_of(nginx: &Nginx, n: usize) -> Vec<ParsedLine> {
    let lines = wait_for_file_lines(&nginx.path("analytics.lp"), n, Duration::from_secs(20));
    assert_eq!(lines.len(), n, "{}", nginx.error_log());
    let mut lines: Vec<ParsedLine> = lines.iter().map(|l| parse_line(l)).collect();
    lines.sort_by_key(|l| {
        l.field("load_ms")
            .map(|v| v.trim_end_matches('i').parse::<u64>().unwrap())
    });
    lines
}

/// A beacon numbered `i` (its load time).
fn numbered(i: usize) -> String {
    format!(r#"{{"d":"example.com","g":"/","l":{i}}}"#)
}

fn beacon_with(nginx: &Nginx, body: &str, headers: &[(&str, &str)]) {
    let r = http(nginx.port, "POST", "/ping", headers, body.as_bytes());
    assert_eq!(r.status, 204, "{}", r.text());
}

/// The expected (browser, platform, device) and User-Agent of every line of families.txt.
fn corpus() -> Vec<([&'static str; 3], &'static str)> {
    FAMILIES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parts: Vec<&str> = l.splitn(4, '\t').collect();
            ([parts[0], parts[1], parts[2]], parts[3])
        })
        .collect()
}

#[test]
fn real_user_agents_give_their_families_and_nothing_of_the_user_agent() {
    let nginx = file_nginx("", "");
    let corpus = corpus();
    assert!(corpus.len() >= 300);
    // The beacon's load time numbers the requests; its own platform must lose to the headers.
    for (i, (_, agent)) in corpus.iter().enumerate() {
        let body = format!(r#"{{"d":"example.com","g":"/","l":{i},"p":"Win32","m":true}}"#);
        beacon_with(&nginx, &body, &[("User-Agent", agent)]);
    }
    let text = std::fs::read_to_string(nginx.path("analytics.lp")).unwrap_or_default();
    let lines = lines_of(&nginx, corpus.len());
    for line in &lines {
        let i: usize = line
            .field("load_ms")
            .unwrap()
            .trim_end_matches('i')
            .parse()
            .unwrap();
        let (expected, agent) = corpus[i];
        // "-": the User-Agent said nothing, and the beacon's own fields decide.
        let fallback = [expected[0], "Windows", "mobile"];
        let expected: Vec<&str> = expected
            .iter()
            .zip(fallback)
            .map(|(e, f)| if *e == "-" { f } else { e })
            .collect();
        let found = [line.tag("browser"), line.tag("platform"), line.tag("device")];
        assert_eq!(
            found.map(Option::unwrap_or_default),
            expected[..],
            "{agent}\n{line:?}"
        );
    }
    for fragment in [
        "Mozilla",
        "AppleWebKit",
        "KHTML",
        "Gecko",
        "Build",
        "Mobile Safari",
    ] {
        assert!(!text.contains(fragment), "{fragment} was stored");
    }
    nginx.assert_log_clean();
}

#[test]
fn client_hints_win_over_the_user_agent_and_hostile_hints_say_nothing() {
    let nginx = file_nginx("", "");
    beacon_with(
        &nginx,
        &numbered(0),
        &[
            (
                "Sec-CH-UA",
                r#""Not)A;Brand";v="8", "Chromium";v="138", "Microsoft Edge";v="138""#,
            ),
            ("Sec-CH-UA-Mobile", "?1"),
            ("Sec-CH-UA-Platform", r#""Android""#),
        ],
    );
    // Only the engine and GREASE: the User-Agent (Chrome on Linux) names the browser.
    beacon_with(
        &nginx,
        &numbered(1),
        &[
            ("Sec-CH-UA", r#""Chromium";v="138", "Not=A?Brand";v="24""#),
            ("Sec-CH-UA-Mobile", "?0"),
            ("Sec-CH-UA-Platform", r#""Chrome OS""#),
        ],
    );
    let long = format!(r#""Microsoft Edge";v="1", {}"#, "\"x\", ".repeat(400));
    beacon_with(
        &nginx,
        &numbered(2),
        &[
            ("Sec-CH-UA", &long),
            ("Sec-CH-UA-Mobile", "?7"),
            ("Sec-CH-UA-Platform", "Windows, \"iOS\""),
        ],
    );
    let lines = lines_of(&nginx, 3);
    let families: Vec<[&str; 3]> = lines
        .iter()
        .map(|l| [l.tag("browser"), l.tag("platform"), l.tag("device")].map(Option::unwrap_or_default))
        .collect();
    assert_eq!(
        families,
        [
            ["Edge", "Android", "mobile"],
            ["Chrome", "ChromeOS", "desktop"],
            ["Chrome", "Linux", "desktop"],
        ]
    );
    nginx.assert_log_clean();
}

#[test]
fn the_pixel_takes_its_families_from_the_headers_too() {
    let nginx = file_nginx("", "");
    let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 \
                  (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1";
    let r = http(
        nginx.port,
        "GET",
        "/p.gif",
        &[("User-Agent", iphone), ("Referer", "https://example.com/a")],
        b"",
    );
    assert_eq!(r.status, 200);
    let line = &lines_of(&nginx, 1)[0];
    assert_eq!(
        [line.tag("browser"), line.tag("platform"), line.tag("device")],
        [Some("Safari"), Some("iOS"), Some("mobile")],
        "{line:?}"
    );
}

#[test]
fn without_a_user_agent_the_beacon_fields_decide() {
    let nginx = file_nginx("analytics_filter_bots off;", "");
    // The test client sends a browser's User-Agent unless given one: an empty one is none.
    beacon_with(
        &nginx,
        r#"{"d":"example.com","g":"/","p":"iPhone","m":true}"#,
        &[("User-Agent", "")],
    );
    let line = &lines_of(&nginx, 1)[0];
    assert_eq!(
        [line.tag("browser"), line.tag("platform"), line.tag("device")],
        [None, Some("iOS"), Some("mobile")],
        "{line:?}"
    );
}

const TAGS: &str = r#"
    map $http_x_country $country {
        default "";
        DE DE;
        FR FR;
        US US;
    }"#;

#[test]
fn analytics_tag_with_a_map_adds_its_tag_and_an_empty_value_adds_none() {
    let nginx = file_nginx(
        "analytics_tag country $country; analytics_tag zz_cdn $http_cf_ipcountry;",
        TAGS,
    );
    beacon_with(
        &nginx,
        &numbered(0),
        &[("X-Country", "DE"), ("CF-IPCountry", "CH")],
    );
    beacon_with(&nginx, &numbered(1), &[("X-Country", "evil")]);
    beacon_with(&nginx, &numbered(2), &[]);
    let lines = lines_of(&nginx, 3);
    assert_eq!(lines[0].tag("country"), Some("DE"));
    assert_eq!(lines[0].tag("zz_cdn"), Some("CH"));
    // Tags stay in key order, the site's among the module's own.
    let keys: Vec<&str> = lines[0].tags.iter().map(|(k, _)| k.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    assert!(keys.contains(&"browser") && keys.contains(&"page"), "{keys:?}");
    for line in &lines[1..] {
        assert_eq!(
            (line.tag("country"), line.tag("zz_cdn")),
            (None, None),
            "{line:?}"
        );
    }
    nginx.assert_log_clean();
}

#[test]
fn hostile_tag_values_are_refused_and_the_hit_is_kept() {
    let nginx = file_nginx("analytics_tag cdn $http_cf_ipcountry;", "");
    let long = "A".repeat(65);
    let hostile = [
        long.as_str(),
        "DE,page=/x",
        "a=b",
        "\"DE\"",
        "x\\",
        "M\u{fc}nchen",
        "\u{202E}DE",
        "DE\tx",
        "'; drop",
        // Identifiers, whatever variable they came from.
        "203.0.113.7",
        "203.0.113.7:443",
        "2001:db8::1",
        "4915123456789",
        "550e8400-e29b-41d4-a716-446655440000",
    ];
    for (i, value) in hostile.iter().enumerate() {
        let body = numbered(i);
        let r = http(
            nginx.port,
            "POST",
            "/ping",
            &[("CF-IPCountry", value)],
            body.as_bytes(),
        );
        assert_eq!(r.status, 204, "{value:?}");
    }
    // Allowed: 64 bytes, and the characters of the closed set (a space is escaped).
    let longest = "B".repeat(64);
    beacon_with(&nginx, &numbered(hostile.len()), &[("CF-IPCountry", &longest)]);
    beacon_with(
        &nginx,
        &numbered(hostile.len() + 1),
        &[("CF-IPCountry", "Sao Paulo-1.a:b/c_d")],
    );
    let lines = lines_of(&nginx, hostile.len() + 2);
    for line in &lines[..hostile.len()] {
        assert_eq!(line.tag("cdn"), None, "{line:?}");
        assert_eq!(line.tag("page"), Some("/"), "{line:?}");
    }
    assert_eq!(lines[hostile.len()].tag("cdn"), Some(longest.as_str()));
    assert_eq!(lines[hostile.len() + 1].tag("cdn"), Some("Sao Paulo-1.a:b/c_d"));
    assert_eq!(nginx.status()["accepted"], (hostile.len() + 2) as u64);
    nginx.assert_log_clean();
}

#[test]
fn many_distinct_tag_values_fall_under_the_budget() {
    let nginx = file_nginx(
        "analytics_tag cdn $http_cf_ipcountry;",
        "analytics_budget custom=3 admit_after=1 open_share=100%;",
    );
    let body = r#"{"d":"example.com","g":"/"}"#;
    for i in 0..20 {
        beacon_with(&nginx, body, &[("CF-IPCountry", &format!("V{i}"))]);
    }
    let lines = lines_of(&nginx, 20);
    let mut values: Vec<&str> = lines.iter().filter_map(|l| l.tag("cdn")).collect();
    assert_eq!(values.len(), 20);
    values.sort_unstable();
    values.dedup();
    assert_eq!(values, ["(other)", "V0", "V1", "V2"]);
    assert_eq!(nginx.status()["budget_overflow_custom"], 17);
}

#[test]
fn a_block_with_its_own_tags_replaces_the_inherited_ones() {
    let nginx = Nginx::start(
        r#"
    analytics_sink file:{dir}/analytics.lp flush=20ms;
    analytics_tag outer outer;
    server {
        listen 127.0.0.1:{port};
        analytics_domains example.com;
        location = /ping { analytics_beacon; }
        location = /own { analytics_beacon; analytics_tag inner inner; }
    }"#,
    );
    assert_eq!(nginx.post("/ping", numbered(0).as_bytes()).status, 204);
    assert_eq!(nginx.post("/own", numbered(1).as_bytes()).status, 204);
    let lines = lines_of(&nginx, 2);
    let tags = |l: &ParsedLine| {
        (
            l.tag("outer").map(str::to_owned),
            l.tag("inner").map(str::to_owned),
        )
    };
    assert_eq!(tags(&lines[0]), (Some("outer".into()), None));
    assert_eq!(tags(&lines[1]), (None, Some("inner".into())));
}

#[test]
fn a_bad_analytics_tag_fails_the_configuration_check() {
    for (directive, error) in [
        ("analytics_tag _x $host;", "starts with a lower-case letter"),
        ("analytics_tag Country $host;", "starts with a lower-case letter"),
        ("analytics_tag a-b $host;", "only a-z, 0-9 and _"),
        ("analytics_tag time $host;", "module's own tags or fields"),
        ("analytics_tag page $host;", "module's own tags or fields"),
        ("analytics_tag browser $host;", "module's own tags or fields"),
        ("analytics_tag utm_source $host;", "is also a campaign parameter"),
        (
            "analytics_tag a $host; analytics_tag a $uri;",
            "set twice in this block",
        ),
        ("analytics_tag a \"\";", "an empty value"),
        ("analytics_tag a;", "invalid number of arguments"),
        ("analytics_tag ip $remote_addr;", "identifies a visitor"),
        ("analytics_tag ip ${binary_remote_addr};", "identifies a visitor"),
        (
            "analytics_tag via x-$http_x_forwarded_for;",
            "identifies a visitor",
        ),
        ("analytics_tag ip $http_cf_connecting_ip;", "identifies a visitor"),
        ("analytics_tag ua $http_user_agent;", "identifies a visitor"),
        ("analytics_tag s $cookie_session;", "identifies a visitor"),
        ("analytics_tag q $arg_user;", "identifies a visitor"),
        ("analytics_tag u $request_uri;", "identifies a visitor"),
    ] {
        let (ok, text) = nginx_test_config(&format!(
            r#"
    analytics_sink udp://127.0.0.1:9;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; {directive} }}
    }}"#
        ));
        assert!(!ok, "{directive}: accepted\n{text}");
        assert!(
            text.contains(error) && text.contains("analytics_tag"),
            "{directive}:\n{text}"
        );
    }
}
