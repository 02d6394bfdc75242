//! Who is recorded, in a real nginx: people on phones whose model reads like a robot's name, in
//! in-app browsers and text browsers are recorded; robots are answered but counted apart; and
//! `analytics_skip` lets `map` and `geo` skip requests the nginx way, counted as `ignored_skip`.

mod common;

use std::time::Duration;

use common::*;

const PAGE: &[u8] = br#"{"domain":"example.com","page":"/people"}"#;

/// Waits for `n` lines, then a little longer to see that no more come.
fn exactly(udp: &UdpCollector, n: usize) -> Vec<ParsedLine> {
    udp.wait_for_lines(n, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    udp.lines().iter().map(|line| parse_line(line)).collect()
}

#[test]
fn people_whose_user_agent_reads_like_a_robot_are_recorded_and_robots_are_not() {
    let udp = UdpCollector::start();
    let nginx = Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    server {{
        listen 127.0.0.1:{{port}};
        analytics_domains example.com;
        location = /ping {{ analytics_beacon; }}
        location = /status {{ analytics_status; }}
    }}"#,
        udp = udp.port
    ));
    let people = [
        "Mozilla/5.0 (Linux; Android 14; Cubot X50) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 7.0; M bot 54) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.96 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 15; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/144.0.7559.132 Safari/537.36 Telegram-Android/12.4.1 (Xiaomi 2405CRPFDG; Android 15; SDK 35; HIGH)",
        "Mozilla/5.0 (Linux; arm_64; Android 15; BV4800 SE) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.2435 BroPP/1.0 YaSearchApp/24.40.1 SA/3 Mobile Safari/537.36 YandexSearch/7.54 YandexSearchBrowser/7.54",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 26_5_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/432.9.954074404 Mobile/15E148 Safari/604.1",
        "Lynx/2.8.5dev.16 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/0.9.6b",
    ];
    let robots = [
        "Mozilla/5.0 (Linux; Android 8.0; Pixel 2 Build/OPD3.170816.012; Storebot-Google/1.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Mobile Safari/537.36",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Amzn-User/0.1) Chrome/119.0.6045.214 Safari/537.36",
        "node",
        "imgproxy/3.27.2",
    ];
    for agent in people.iter().chain(&robots) {
        let r = http(nginx.port, "POST", "/ping", &[("User-Agent", agent)], PAGE);
        assert_eq!(r.status, 204, "{agent}");
    }
    let lines = exactly(&udp, people.len());
    assert_eq!(lines.len(), people.len(), "{lines:#?}");
    let status = nginx.status();
    assert_eq!(status["accepted"], people.len());
    assert_eq!(status["rejected_bot"], robots.len());
}

fn skip_site(udp: &UdpCollector) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    map $http_x_analytics_skip $skip_by_header {{
        default 0;
        office  1;
    }}
    geo $skip_by_address {{
        default      0;
        127.0.0.1/32 1;
    }}
    server {{
        listen 127.0.0.1:{{port}};
        analytics_domains example.com;
        analytics_skip $skip_by_header;
        location = /ping {{ analytics_beacon; }}
        location = /ping-from-office {{ analytics_beacon; analytics_skip $skip_by_address; }}
        location = /ping-never-skipped {{ analytics_beacon; analytics_skip 0; }}
        location = /p.gif {{ analytics_pixel; analytics_skip $skip_by_header $skip_by_address; }}
        location = /status {{ analytics_status; }}
        location = /metrics {{ analytics_status prometheus; }}
    }}"#,
        udp = udp.port
    ))
}

fn beacon(page: &str) -> Vec<u8> {
    format!(r#"{{"domain":"example.com","page":"{page}"}}"#).into_bytes()
}

#[test]
fn a_map_on_a_header_skips_requests_which_are_answered_and_counted() {
    let udp = UdpCollector::start();
    let nginx = skip_site(&udp);
    let office = [("X-Analytics-Skip", "office")];
    for _ in 0..3 {
        let r = http(nginx.port, "POST", "/ping", &office, &beacon("/skipped"));
        assert_eq!(r.status, 204);
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
    }
    // Another value of the header, and none at all, are recorded.
    for headers in [&[("X-Analytics-Skip", "home")][..], &[]] {
        assert_eq!(
            http(nginx.port, "POST", "/ping", headers, &beacon("/recorded")).status,
            204
        );
    }
    // `analytics_skip 0;` switches off what the server level set.
    let r = http(
        nginx.port,
        "POST",
        "/ping-never-skipped",
        &office,
        &beacon("/recorded"),
    );
    assert_eq!(r.status, 204);

    let lines = exactly(&udp, 3);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines.iter().all(|l| l.tag("page") == Some("/recorded")),
        "{lines:#?}"
    );
    let status = nginx.status();
    assert_eq!(status["ignored_skip"], 3);
    assert_eq!(status["accepted"], 3);
    let metrics = http(nginx.port, "GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("\nnginx_analytics_ignored_skip_total 3\n"),
        "{metrics}"
    );
}

#[test]
fn a_geo_on_the_client_address_skips_beacons_and_pixels() {
    let udp = UdpCollector::start();
    let nginx = skip_site(&udp);
    for _ in 0..2 {
        let r = http(nginx.port, "POST", "/ping-from-office", &[], &beacon("/skipped"));
        assert_eq!(r.status, 204);
    }
    // The pixel still answers its image to a skipped request.
    let r = http(
        nginx.port,
        "GET",
        "/p.gif",
        &[("Referer", "https://example.com/skipped")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("image/gif"));
    // The same client in a location without the geo condition is recorded.
    assert_eq!(
        http(nginx.port, "POST", "/ping", &[], &beacon("/recorded")).status,
        204
    );

    let lines = exactly(&udp, 1);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0].tag("page"), Some("/recorded"));
    let status = nginx.status();
    assert_eq!(status["ignored_skip"], 3);
    assert_eq!(status["accepted"], 1);
}

#[test]
fn a_bad_analytics_skip_fails_nginx_t_with_a_clear_error() {
    let site = |skip: &str| {
        format!(
            "analytics_sink udp://127.0.0.1:8089;\nserver {{ listen 127.0.0.1:{{port}}; \
             location = /ping {{ analytics_beacon; analytics_domains example.com; {skip} }} }}"
        )
    };
    for (skip, says) in [
        (
            "analytics_skip;",
            "invalid number of arguments in \"analytics_skip\" directive",
        ),
        (
            "analytics_skip $a; analytics_skip $b;",
            "\"analytics_skip\" directive is duplicate",
        ),
        (
            "analytics_skip \"\";",
            "\"analytics_skip\": an empty value never skips anything",
        ),
        (
            "analytics_skip $no_such_variable;",
            "unknown \"no_such_variable\" variable",
        ),
    ] {
        let (ok, output) = nginx_test_config(&site(skip));
        assert!(!ok, "accepted: {skip}\n{output}");
        assert!(
            output.contains(says),
            "expected {says:?} for {skip} in:\n{output}"
        );
    }
    let (ok, output) = nginx_test_config(&site("analytics_skip $remote_addr 0;"));
    assert!(ok, "{output}");
}
