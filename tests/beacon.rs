//! The beacon location end to end: a real nginx loading the real module, real sockets and files.

mod common;

use std::time::Duration;

use common::load::post_concurrently;
use common::*;

const VALID: &str = r#"{"page":"/blog/x?token=secret#top","domain":"WWW.Example.com","referrer":"https://user:pw@news.example.org/a/b?q=1#f","utcoffset":"-60","platform":"Linux x86_64","load_ms":"532","session_pages":3}"#;
const EXPECTED_TAGS_AND_FIELDS: &str = "pageview,device=desktop,domain=www.example.com,page=/blog/x,\
     platform=Linux,referrer_domain=news.example.org,tz=-60 \
     hits=1i,load_ms=532i,session_pages=3i,referrer=\"https://news.example.org/a/b\"";

fn udp_nginx(udp_port: u16, extra: &str) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp_port} flush=50ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com www.example.com; {extra} }}
        location = /status {{ analytics_status; }}
    }}"#
    ))
}

fn assert_expected_line(line: &str) {
    let (series, fields, timestamp) = split_line(line);
    assert_eq!(format!("{series} {fields}"), EXPECTED_TAGS_AND_FIELDS, "{line}");
    let ts: u128 = timestamp.parse().expect("numeric timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    assert!(now - ts < 60_000_000_000, "timestamp {ts} is not now ({now})");
}

#[test]
fn a_valid_beacon_becomes_exactly_the_expected_line_over_udp() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "");
    let r = nginx.beacon(VALID);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert!(r.body.is_empty());
    let lines = udp.wait_for_lines(1, Duration::from_secs(10));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_expected_line(&lines[0]);
}

#[test]
fn a_valid_beacon_becomes_exactly_the_expected_line_in_the_file_sink() {
    let nginx = Nginx::start(
        r#"
    analytics_sink file:{dir}/analytics.lp flush=50ms;
    server {
        listen 127.0.0.1:{port};
        location = /ping { analytics_beacon; analytics_domains example.com www.example.com; }
    }"#,
    );
    assert_eq!(nginx.beacon(VALID).status, 204);
    let lines = wait_for_file_lines(&nginx.path("analytics.lp"), 1, Duration::from_secs(10));
    assert_eq!(lines.len(), 1, "{lines:?}\n{}", nginx.error_log());
    assert_expected_line(&lines[0]);
}

#[test]
fn numbers_may_be_json_numbers_and_the_original_payload_is_accepted() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "");
    let original = r#"{"page":"/foo/bar","domain":"www.example.com","referrer":"","utcoffset":"0","platform":"Linux x86_64"}"#;
    assert_eq!(nginx.beacon(original).status, 204);
    let typed = r#"{"page":"/foo/bar","domain":"www.example.com","utcoffset":0,"platform":"Linux x86_64","load_ms":12.6,"session_pages":1,"unknown":{"x":[1]}}"#;
    assert_eq!(nginx.beacon(typed).status, 204);
    let mut lines = udp.wait_for_lines(2, Duration::from_secs(10));
    lines.sort();
    let series: Vec<String> = lines
        .iter()
        .map(|l| {
            let (s, f, _) = split_line(l);
            format!("{s} {f}")
        })
        .collect();
    assert_eq!(
        series,
        [
            "pageview,device=desktop,domain=www.example.com,page=/foo/bar,platform=Linux,tz=0 hits=1i",
            "pageview,device=desktop,domain=www.example.com,page=/foo/bar,platform=Linux,tz=0 hits=1i,load_ms=13i,session_pages=1i",
        ]
    );
}

#[test]
fn each_bad_input_gets_its_status_and_writes_nothing() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "analytics_unlisted_measurement off;");
    let cases: &[(&str, &[u8], u16, &str)] = &[
        ("GET", b"", 405, ""),
        ("PUT", VALID.as_bytes(), 405, ""),
        ("DELETE", b"", 405, ""),
        ("POST", b"not json", 400, "not valid JSON"),
        ("POST", b"", 400, "not valid JSON"),
        ("POST", b"[1,2]", 400, "not a JSON object"),
        ("POST", b"{\"page\":\"/\"}", 400, "\"domain\" is required"),
        (
            "POST",
            br#"{"page":5,"domain":"example.com"}"#,
            400,
            "\"page\" must be a string",
        ),
        (
            "POST",
            br#"{"page":"/","domain":"example.com","load_ms":"fast"}"#,
            400,
            "\"load_ms\" must be a number",
        ),
        (
            "POST",
            br#"{"page":"/","domain":"example.com","utcoffset":900}"#,
            400,
            "between -840 and 840",
        ),
        (
            "POST",
            br#"{"page":"/","domain":"example.com","load_ms":600001}"#,
            400,
            "between 0 and 600000",
        ),
        (
            "POST",
            br#"{"page":"/","domain":"example.com","session_pages":0}"#,
            400,
            "between 1 and 1000000",
        ),
        (
            "POST",
            br#"{"page":"/","domain":"exa mple.com"}"#,
            400,
            "\"domain\" is not a host name",
        ),
        (
            "POST",
            b"{\"page\":\"/\",\"domain\":\"example.com\",\"x\":\"\xff\"}",
            400,
            "not valid JSON",
        ),
        (
            "POST",
            br#"{"page":"/","domain":"example.com.evil.org"}"#,
            403,
            "not accepted",
        ),
    ];
    for (method, body, status, says) in cases {
        let r = http(nginx.port, method, "/ping", &[], body);
        assert_eq!(
            r.status,
            *status,
            "{method} {}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        assert!(
            r.text().contains(says),
            "{method} {}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        if *status == 405 {
            assert_eq!(r.header("Allow"), Some("POST, OPTIONS"));
        }
    }
    let big = format!(
        r#"{{"page":"/","domain":"example.com","pad":"{}"}}"#,
        "x".repeat(5000)
    );
    let r = nginx.post("/ping", big.as_bytes());
    assert_eq!(r.status, 413, "{}", r.text());
    let r = http(
        nginx.port,
        "POST",
        "/ping",
        &[("Transfer-Encoding", "chunked")],
        big.as_bytes(),
    );
    assert_eq!(r.status, 413, "chunked: {}", r.text());

    // A valid beacon afterwards proves the sink works; it must be the only line.
    assert_eq!(nginx.beacon(VALID).status, 204);
    let lines = udp.wait_for_lines(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let lines_after = udp.lines();
    assert_eq!(lines_after.len(), 1, "{lines:?} / {lines_after:?}");
    assert_expected_line(&lines_after[0]);

    let status = nginx.status();
    assert_eq!(status["accepted"], 1);
    assert_eq!(status["rejected_method"], 3);
    assert_eq!(status["rejected_json"], 4);
    assert_eq!(status["rejected_type"], 3);
    assert_eq!(status["rejected_range"], 3);
    assert_eq!(status["rejected_invalid"], 1);
    assert_eq!(status["rejected_size"], 2);
    assert_eq!(status["unlisted"], 1);
    assert_eq!(status["lines_written"], 1);
}

#[test]
fn unlisted_domains_go_to_their_own_measurement_with_only_the_domain() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "");
    let r = nginx.beacon(r#"{"page":"/secret?x","domain":"Example.com.Evil.org:8080","referrer":"https://a.b/c","platform":"Win32"}"#);
    assert_eq!(r.status, 403);
    let lines = udp.wait_for_lines(1, Duration::from_secs(10));
    assert_eq!(lines.len(), 1);
    let (series, fields, _) = split_line(&lines[0]);
    assert_eq!(
        format!("{series} {fields}"),
        "unlisted_domain,domain=example.com.evil.org hits=1i"
    );
}

#[test]
fn a_body_spooled_to_a_temp_file_is_read() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "client_body_in_file_only on;");
    assert_eq!(nginx.beacon(VALID).status, 204);
    let lines = udp.wait_for_lines(1, Duration::from_secs(10));
    assert_eq!(lines.len(), 1);
    assert_expected_line(&lines[0]);
}

#[test]
fn chunked_bodies_are_read() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "");
    let r = http(
        nginx.port,
        "POST",
        "/ping",
        &[("Transfer-Encoding", "chunked")],
        VALID.as_bytes(),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let lines = udp.wait_for_lines(1, Duration::from_secs(10));
    assert_expected_line(&lines[0]);
}

#[test]
fn cors_preflight_is_answered_for_allowed_origins_only() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "");
    let r = http(
        nginx.port,
        "OPTIONS",
        "/ping",
        &[("Origin", "https://www.example.com")],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://www.example.com")
    );
    assert_eq!(r.header("Access-Control-Allow-Methods"), Some("POST, OPTIONS"));
    assert_eq!(r.header("Access-Control-Allow-Headers"), Some("Content-Type"));
    let r = http(
        nginx.port,
        "OPTIONS",
        "/ping",
        &[("Origin", "https://evil.org")],
        b"",
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
    let r = http(
        nginx.port,
        "POST",
        "/ping",
        &[("Origin", "https://example.com")],
        VALID.as_bytes(),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://example.com")
    );
    let r = http(
        nginx.port,
        "POST",
        "/ping",
        &[("Origin", "https://evil.org")],
        VALID.as_bytes(),
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
}

#[test]
fn identical_beacons_get_distinct_timestamps_across_workers() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "");
    let port = nginx.port;
    let answered = post_concurrently(port, 8, 50, VALID);
    assert_eq!(answered, 400);
    let lines = udp.wait_for_lines(400, Duration::from_secs(10));
    assert_eq!(lines.len(), 400);
    let mut stamps: Vec<String> = lines.iter().map(|l| split_line(l).2).collect();
    stamps.sort();
    stamps.dedup();
    assert_eq!(stamps.len(), 400, "timestamps must all differ");
}

/// Writes `raw` on one connection in pieces (`pause` between them) and reads until the server
/// closes it.
fn raw_exchange(port: u16, pieces: &[&[u8]], pause: Duration) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr(port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        stream.write_all(piece).unwrap();
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn beacon_request(page: &str, last: bool) -> Vec<u8> {
    let body = format!(r#"{{"page":"{page}","domain":"example.com","platform":"Linux x86_64"}}"#);
    let connection = if last { "close" } else { "keep-alive" };
    format!(
        "POST /ping HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\r\n\
         Content-Type: text/plain\r\nConnection: {connection}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn recorded_pages(lines: &[String]) -> Vec<String> {
    let mut pages: Vec<String> = lines
        .iter()
        .map(|l| parse_line(l).tag("page").unwrap_or_default().to_owned())
        .collect();
    pages.sort();
    pages
}

/// A beacon's body usually arrives with its headers and is taken straight from nginx's header
/// buffer: what follows it (the next pipelined request) must stay the next request.
#[test]
fn pipelined_beacons_on_one_connection_are_each_answered_and_recorded() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "");
    let mut all = Vec::new();
    for (i, page) in ["/one", "/two", "/three"].iter().enumerate() {
        all.extend(beacon_request(page, i == 2));
    }
    let answer = raw_exchange(nginx.port, &[&all], Duration::ZERO);
    assert_eq!(answer.matches("HTTP/1.1 204 No Content").count(), 3, "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 3, "{answer}");
    let lines = udp.wait_for_lines(3, Duration::from_secs(10));
    assert_eq!(recorded_pages(&lines), ["/one", "/three", "/two"], "{lines:?}");

    let status = nginx.status();
    assert_eq!(status["accepted"], 3, "{status}");
    assert_eq!(status["rejected_by_nginx"], 0, "{status}");
    assert_eq!(status["rejected_json"], 0, "{status}");
}

/// A body that comes after its headers (a second packet) goes through nginx's body reading, and
/// so does one split across both.
#[test]
fn a_body_sent_after_its_headers_is_read() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(udp.port, "");
    let request = beacon_request("/late", true);
    let split = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let answer = raw_exchange(
        nginx.port,
        &[&request[..split], &request[split..]],
        Duration::from_millis(100),
    );
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    let request = beacon_request("/halves", true);
    let answer = raw_exchange(
        nginx.port,
        &[&request[..split + 10], &request[split + 10..]],
        Duration::from_millis(100),
    );
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    let lines = udp.wait_for_lines(2, Duration::from_secs(10));
    assert_eq!(recorded_pages(&lines), ["/halves", "/late"], "{lines:?}");
}
