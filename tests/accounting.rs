//! Every request of a beacon location is counted exactly once, including those nginx answers
//! before the module runs: a body over `client_max_body_size`, a malformed chunked body, a client
//! that goes away in the middle of its body.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const COUNTERS: [&str; 17] = [
    "accepted",
    "not_found",
    "events",
    "unlisted",
    "preflight",
    "ignored_dnt",
    "ignored_skip",
    "rejected_method",
    "rejected_size",
    "rejected_json",
    "rejected_type",
    "rejected_range",
    "rejected_invalid",
    "rejected_origin",
    "rejected_bot",
    "rejected_by_nginx",
    "internal_errors",
];

fn answered(status: &serde_json::Value) -> u64 {
    COUNTERS.iter().map(|c| status[c].as_u64().unwrap()).sum()
}

fn raw_request(port: u16, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn requests_nginx_refuses_first_are_counted_once() {
    let udp = UdpCollector::start();
    let nginx = Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    server {{
        listen 127.0.0.1:{{port}};
        client_max_body_size 200;
        client_body_timeout 1s;
        analytics_domains example.com;
        location = /ping {{ analytics_beacon; }}
        location = /status {{ analytics_status; }}
    }}"#,
        udp = udp.port
    ));
    assert_eq!(nginx.beacon(r#"{"d":"example.com","g":"/"}"#).status, 204);
    // Over client_max_body_size: nginx answers 413 before the module reads the body.
    let big = format!(r#"{{"d":"example.com","g":"/{}"}}"#, "x".repeat(500));
    assert_eq!(nginx.beacon(&big).status, 413);
    // A malformed chunked body.
    let answer = raw_request(
        nginx.port,
        b"POST /ping HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // A client that goes away halfway through its body.
    {
        let mut stream = TcpStream::connect(("127.0.0.1", nginx.port)).unwrap();
        stream
            .write_all(b"POST /ping HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0\r\nContent-Length: 100\r\n\r\n{\"d\":")
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = nginx.status();
    while answered(&status) < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        status = nginx.status();
    }
    assert_eq!(status["accepted"], 1, "{status}");
    assert_eq!(status["rejected_by_nginx"], 3, "{status}");
    assert_eq!(answered(&status), 4, "{status}");
}
