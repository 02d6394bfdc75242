//! An HTTP sink with several upstreams (`balance=failover`, `balance=round-robin`) and several
//! requests in flight (`connections=`), against two real InfluxDB 1.6 servers and a slow
//! programmable write API.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::faulty_upstream::{Behaviour, FaultyUpstream};
use common::influxdb::{distinct_points, InfluxDb};
use common::load::Load;
use common::*;

const BEACON: &str = r#"{"page":"/pool","domain":"example.com","platform":"Linux x86_64","load_ms":3}"#;
const SUM: &str = "SELECT sum(hits) FROM pageview";

fn pool_nginx(sink: &str) -> Nginx {
    pool_nginx_with(sink, 2)
}

fn pool_nginx_with(sink: &str, workers: usize) -> Nginx {
    Nginx::start_with(
        &format!(
            r#"
    analytics_sink {sink};
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#
        ),
        workers,
    )
}

/// Lines stored in `influx` so far.
fn stored(influx: &InfluxDb) -> i64 {
    influx.scalar(SUM).and_then(|v| v.as_i64()).unwrap_or(0)
}

/// Waits until `influx` holds more than `than` lines; false after `within`.
fn wait_for_more(influx: &InfluxDb, than: i64, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if stored(influx) > than {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Waits until both together hold `want` lines, and returns what each holds.
fn wait_for_total(a: &InfluxDb, b: &InfluxDb, want: i64, within: Duration) -> (i64, i64) {
    let deadline = Instant::now() + within;
    loop {
        let (in_a, in_b) = (stored(a), stored(b));
        if in_a + in_b >= want || Instant::now() > deadline {
            return (in_a, in_b);
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn failover_stores_everything_in_the_second_while_the_first_is_down_then_returns_to_it() {
    let mut first = InfluxDb::start("analytics");
    let second = InfluxDb::start("analytics");
    let nginx = pool_nginx(&format!(
        "{} {} balance=failover buffer=32m flush=100ms timeout=1s",
        first.write_url(),
        second.write_url()
    ));
    let load = Load::start(nginx.port, 4, BEACON, Duration::from_millis(1));
    load.wait_for(300);
    assert!(
        wait_for_more(&first, 0, Duration::from_secs(10)),
        "{}",
        nginx.error_log()
    );
    assert_eq!(
        stored(&second),
        0,
        "while the first is up, the second is not used"
    );

    // Killed under load: the batch it was taking, or the first one after, fails there and goes
    // to the second at once, as does every later one.
    first.stop();
    load.wait_for(load.answered() + 500);
    let answered_in_outage = load.finish() as i64;
    assert_eq!(
        nginx.wait_for_written(answered_in_outage, Duration::from_secs(20))["lines_written"].as_i64(),
        Some(answered_in_outage),
        "with the first still down, every line answered is written (to the second)\n{}",
        nginx.error_log()
    );
    assert!(stored(&second) > 0);

    // Back: once its back-off has passed, it is tried again and takes the batches again.
    first.start_again();
    let before_return = stored(&first);
    let mut answered = answered_in_outage;
    let deadline = Instant::now() + Duration::from_secs(40);
    while stored(&first) == before_return && Instant::now() < deadline {
        for _ in 0..20 {
            assert_eq!(nginx.beacon(BEACON).status, 204);
        }
        answered += 20;
        thread::sleep(Duration::from_millis(200));
    }
    assert!(
        stored(&first) > before_return,
        "failover returns to the first upstream once it is back\n{}\n{}",
        nginx.status(),
        nginx.error_log()
    );
    // Both workers' back-offs (a few seconds after a short outage) pass: everything goes to the
    // first again.
    thread::sleep(Duration::from_secs(5));
    for _ in 0..20 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    answered += 20;
    let status = nginx.wait_for_written(answered, Duration::from_secs(20));
    assert_eq!(status["lines_written"].as_i64(), Some(answered), "{status}");
    assert_eq!(
        distinct_points(&[&first, &second]) as i64,
        answered,
        "every answered beacon is stored\n{}",
        nginx.error_log()
    );
    let second_after_return = stored(&second);
    assert_accounted(&status);
    assert!(
        nginx.error_log().contains("is down for"),
        "the failover is logged"
    );
    // The last beacons, sent once both workers were back on the first, are in the first.
    for _ in 0..20 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    answered += 20;
    nginx.wait_for_written(answered, Duration::from_secs(20));
    assert_eq!(distinct_points(&[&first, &second]) as i64, answered);
    assert_eq!(
        stored(&second),
        second_after_return,
        "after its return the first takes everything again"
    );
}

#[test]
fn round_robin_spreads_batches_over_both_and_uses_a_restarted_one_again() {
    let first = InfluxDb::start("analytics");
    let mut second = InfluxDb::start("analytics");
    let nginx = pool_nginx(&format!(
        "{} {} balance=round-robin batch=10 buffer=32m flush=20ms timeout=1s",
        first.write_url(),
        second.write_url()
    ));
    let mut answered = 0;
    let mut send = |n: usize| {
        for _ in 0..n {
            assert_eq!(nginx.beacon(BEACON).status, 204);
        }
        answered += n as i64;
        answered
    };
    let total = send(400);
    let (in_first, in_second) = wait_for_total(&first, &second, total, Duration::from_secs(20));
    assert_eq!(in_first + in_second, total);
    // Batches alternate: neither takes much more than half.
    assert!(
        (100..=300).contains(&in_first) && (100..=300).contains(&in_second),
        "{in_first} / {in_second}"
    );

    second.stop();
    let total = send(200);
    assert!(
        first.wait_for_scalar(SUM, total - in_second, Duration::from_secs(20)) == Some(total - in_second),
        "the first took the rest\n{}",
        nginx.error_log()
    );

    second.start_again();
    assert_eq!(stored(&second), in_second, "the stopped one stored nothing");
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut total = total;
    // Its back-off passes, then it gets its turns again.
    while stored(&second) == in_second && Instant::now() < deadline {
        total = send(20);
        thread::sleep(Duration::from_millis(200));
    }
    assert!(stored(&second) > in_second, "{}", nginx.error_log());
    let (a, b) = wait_for_total(&first, &second, total, Duration::from_secs(20));
    assert_eq!(a + b, total, "{}", nginx.status());
    let status = nginx.wait_for_written(total, Duration::from_secs(20));
    assert_eq!(status["lines_written"].as_i64(), Some(total));
    assert_accounted(&status);
}

/// How many requests the slow upstream has been sent within a moment of 20 beacons of one line
/// each, with `connections` in flight.
fn requests_in_flight(connections: usize) -> usize {
    // 1 byte a second: each answer takes tens of seconds, so each connection holds its request.
    let upstream = FaultyUpstream::start(Behaviour::OneBytePerSecond);
    let nginx = pool_nginx_with(
        &format!(
            "{} batch=1 flush=10ms timeout=60s exit_timeout=1s connections={connections}",
            upstream.url("/write?db=x")
        ),
        1,
    );
    for _ in 0..20 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    thread::sleep(Duration::from_secs(2));
    let seen = upstream.requests_under(Behaviour::OneBytePerSecond);
    // Let the answers finish fast so that nginx stops cleanly.
    upstream.set(Behaviour::Down);
    seen
}

#[test]
fn connections_keeps_that_many_requests_in_flight() {
    assert_eq!(requests_in_flight(4), 4);
    assert_eq!(requests_in_flight(1), 1);
}

#[test]
fn stop_sends_the_batches_in_flight_on_every_connection_in_the_last_attempt() {
    stop_with_batches_in_flight(20);
}

/// With nothing waiting in the worker's buffer, the batches in flight still get their last
/// attempt: a pool that holds batches can still take one more, so "ready" is no sign of "empty".
#[test]
fn stop_sends_the_batches_in_flight_when_nothing_else_waits() {
    stop_with_batches_in_flight(3);
}

/// `beacons` beacons, one per batch, over four connections to an upstream that answers one byte a
/// second, then `nginx -s stop` once the upstream answers at once: every page is delivered.
fn stop_with_batches_in_flight(beacons: usize) {
    let upstream = FaultyUpstream::start(Behaviour::OneBytePerSecond);
    let mut nginx = pool_nginx_with(
        &format!(
            "{} batch=1 flush=10ms timeout=60s connections=4",
            upstream.url("/write?db=x")
        ),
        1,
    );
    for i in 0..beacons {
        let beacon = format!(r#"{{"page":"/stop/{i}","domain":"example.com"}}"#);
        assert_eq!(nginx.post("/ping", beacon.as_bytes()).status, 204);
    }
    thread::sleep(Duration::from_secs(1));
    assert_eq!(
        upstream.requests_under(Behaviour::OneBytePerSecond),
        beacons.min(4)
    );
    // Up to four batches are in flight, the rest wait; from now on requests are answered at once.
    upstream.set(Behaviour::Accept);
    nginx.stop_with("TERM");
    let mut pages: Vec<String> = upstream
        .lines()
        .iter()
        .map(|l| {
            l.split(',')
                .find(|t| t.starts_with("page="))
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    pages.sort();
    pages.dedup();
    assert_eq!(pages.len(), beacons, "{pages:?}\n{}", nginx.error_log());
    let log = nginx.error_log();
    assert!(!log.contains(" dropped: "), "{log}");
}

#[test]
fn connections_over_two_upstreams_deliver_every_line_once() {
    let first = InfluxDb::start("analytics");
    let second = InfluxDb::start("analytics");
    let nginx = pool_nginx(&format!(
        "{} {} balance=round-robin connections=3 batch=7 flush=10ms gzip=on",
        first.write_url(),
        second.write_url()
    ));
    let answered = load::post_concurrently(nginx.port, 8, 250, BEACON) as i64;
    assert_eq!(answered, 2000);
    let (a, b) = wait_for_total(&first, &second, answered, Duration::from_secs(30));
    assert_eq!(a + b, answered, "{}", nginx.error_log());
    assert!(a > 0 && b > 0, "{a} / {b}");
    let status = nginx.wait_for_written(answered, Duration::from_secs(20));
    assert_eq!(status["lines_written"].as_i64(), Some(answered));
    assert_eq!(status["batches_failed"], 0, "{status}");
    assert_accounted(&status);
}

fn server() -> &'static str {
    "server { listen 127.0.0.1:{port}; location = /ping { analytics_beacon; analytics_domains example.com; } }"
}

fn assert_rejected(sink: &str, says: &str) {
    let (ok, output) = nginx_test_config(&format!("analytics_sink {sink};\n{}", server()));
    assert!(!ok, "accepted: {sink}\n{output}");
    assert!(output.contains(says), "expected {says:?} in:\n{output}");
    assert!(
        output.contains("\"analytics_sink\""),
        "names the directive: {output}"
    );
}

#[test]
fn several_upstreams_are_configured_and_checked() {
    let (ok, output) = nginx_test_config(&format!(
        "analytics_sink http://127.0.0.1:8086/write?db=a http://localhost:8087/write?db=b&u=x \
         balance=round-robin connections=4 batch=100;\n{}",
        server()
    ));
    assert!(ok, "{output}");
    assert_rejected(
        "http://127.0.0.1:8086/write?db=a udp://127.0.0.1:8089",
        "all addresses of one sink use one scheme",
    );
    assert_rejected(
        "http://127.0.0.1:8086/write?db=a https://127.0.0.1:8443/write?db=a",
        "all addresses of one sink use one scheme",
    );
    assert_rejected(
        "udp://127.0.0.1:8089 udp://127.0.0.1:8090",
        "several addresses are for http:// sinks",
    );
    assert_rejected(
        "http://127.0.0.1:8086/write balance=random",
        "invalid \"balance=random\": use failover or round-robin",
    );
    assert_rejected(
        "http://127.0.0.1:8086/write connections=0",
        "invalid \"connections=0\": use a number from 1 to 64",
    );
    assert_rejected(
        "http://127.0.0.1:8086/write connections=65",
        "invalid \"connections=65\"",
    );
    assert_rejected(
        "udp://127.0.0.1:8089 connections=2",
        "\"connections=\" is for http:// sinks",
    );
    assert_rejected(
        "file:/tmp/x.lp balance=failover",
        "\"balance=\" is for http:// sinks",
    );
    // A secret in a second address's query never shows in the message.
    let (_, output) = nginx_test_config(&format!(
        "analytics_sink http://127.0.0.1:8086/write?db=a http://:8087/write?db=b&p=hunter2;\n{}",
        server()
    ));
    assert!(output.contains("invalid host"), "{output}");
    assert!(!output.contains("hunter2"), "{output}");
}
