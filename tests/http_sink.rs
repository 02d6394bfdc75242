//! The HTTP sink against real write APIs: InfluxDB 1.6 (`/write`) and VictoriaMetrics
//! (`/api/v2/write` with a token header), through outages, refusals, reloads and quits.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::influxdb::InfluxDb;
use common::load::Load;
use common::*;

const BEACON: &str = r#"{"page":"/over-http","domain":"example.com","platform":"Linux x86_64","load_ms":12}"#;

fn http_nginx(sink: &str) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink {sink};
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#
    ))
}

const SUM: &str = "SELECT sum(hits) FROM pageview";

#[test]
fn answered_beacons_become_points_with_their_tags_and_fields() {
    let influx = InfluxDb::start("analytics");
    let nginx = http_nginx(&format!("{} flush=50ms", influx.write_url()));
    for _ in 0..300 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    assert_eq!(
        influx.wait_for_scalar(SUM, 300, Duration::from_secs(20)),
        Some(300),
        "{}",
        nginx.error_log()
    );
    let reply = influx.query("SELECT * FROM pageview LIMIT 1");
    let series = &reply["results"][0]["series"][0];
    let columns: Vec<&str> = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let row = &series["values"][0];
    let value = |name: &str| row[columns.iter().position(|c| *c == name).unwrap()].clone();
    assert_eq!(value("domain"), "example.com");
    assert_eq!(value("page"), "/over-http");
    assert_eq!(value("platform"), "Linux");
    assert_eq!(value("device"), "desktop");
    assert_eq!(value("load_ms"), 12);
    // InfluxDB stores a batch before the worker reads its answer.
    let status = nginx.wait_for_written(300, Duration::from_secs(10));
    assert_eq!(status["lines_written"], 300);
    assert_eq!(status["dropped_refused"], 0);
}

#[test]
fn gzip_bodies_are_accepted_and_a_too_large_batch_is_split() {
    // This InfluxDB refuses bodies over 4 KiB with 413: 100 lines (about 12 KiB) must be split,
    // and gzip bodies of the same lines must be taken as they are.
    let influx = InfluxDb::start_limited("analytics", 4096);
    let nginx = http_nginx(&format!("{} flush=200ms", influx.write_url()));
    let gzipped = http_nginx(&format!("{} flush=200ms gzip=on", influx.write_url()));
    for _ in 0..100 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
        assert_eq!(gzipped.beacon(BEACON).status, 204);
    }
    assert_eq!(
        influx.wait_for_scalar(SUM, 200, Duration::from_secs(30)),
        Some(200),
        "{}",
        nginx.error_log()
    );
    // The plain batches met a 413 and were split; the same lines gzipped fit at once.
    let (plain, gzip) = (
        nginx.status(),
        gzipped.wait_for_written(100, Duration::from_secs(10)),
    );
    assert_eq!(plain["dropped_refused"], 0);
    assert!(plain["batches_failed"].as_u64() >= Some(1), "{plain}");
    assert_eq!(gzip["lines_written"], 100);
    assert_eq!(gzip["batches_failed"], 0, "{gzip}");
}

#[test]
fn an_outage_loses_nothing() {
    let mut influx = InfluxDb::start("analytics");
    // The buffer holds what arrives during the outage (about 12 s at this load).
    let nginx = http_nginx(&format!(
        "{} buffer=32m flush=100ms timeout=1s",
        influx.write_url()
    ));
    let load = Load::start(nginx.port, 4, BEACON, Duration::from_millis(1));
    load.wait_for(200);
    influx.stop();
    let during = load.answered();
    load.wait_for(during + 300);
    thread::sleep(Duration::from_secs(8));
    influx.start_again();
    load.wait_for(load.answered() + 200);
    let answered = load.finish();
    let stored = influx.wait_for_scalar(SUM, answered as i64, Duration::from_secs(60));
    assert_eq!(
        stored,
        Some(answered as i64),
        "{}\n{}",
        nginx.status(),
        nginx.error_log()
    );
    assert!(nginx.error_log().contains("retrying"), "the outage was noticed");
    let status = nginx.wait_for_written(answered as i64, Duration::from_secs(10));
    assert_eq!(status["lines_written"].as_u64(), Some(answered as u64));
}

#[test]
fn a_small_buffer_through_a_long_outage_counts_every_drop() {
    // Nothing listens there: every attempt fails.
    let port = free_port();
    let mut nginx = http_nginx(&format!(
        "http://127.0.0.1:{port}/write?db=x buffer=4k flush=50ms timeout=200ms exit_timeout=1s"
    ));
    let sent = 400;
    for _ in 0..sent {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let status = nginx.status();
    assert_eq!(status["accepted"], sent);
    assert_eq!(status["lines_written"], 0);
    let full = status["dropped_buffer_full"].as_u64().unwrap();
    assert!(full > 0, "{status}");
    nginx.stop_with("QUIT");
    let log = nginx.error_log();
    let counted = dropped_in_log(&log, " dropped: ");
    assert_eq!(counted, sent, "answered = stored (0) + counted drops\n{log}");
}

#[test]
fn a_refused_batch_is_logged_and_counted_and_later_batches_flow() {
    let influx = InfluxDb::start("analytics");
    // `hits` is already a float in this measurement: InfluxDB refuses our integers with a 400.
    assert_eq!(influx.write("pageview,domain=other hits=1.5"), 204);
    let nginx = http_nginx(&format!("{} flush=50ms", influx.write_url()));
    for _ in 0..5 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let status = nginx.wait_for_status(Duration::from_secs(20), |s| s["dropped_refused"] == 5);
    assert_eq!(status["dropped_refused"], 5, "{status}\n{}", nginx.error_log());
    // Each worker sent its own batch; together they hold the 5 lines.
    let log = nginx.error_log();
    assert!(
        log.contains("lines with 400: partial write: field type conflict"),
        "{log}"
    );
    // The next batch (an event, another measurement) is delivered.
    assert_eq!(
        nginx
            .beacon(r#"{"t":"event","n":"play","d":"example.com","g":"/"}"#)
            .status,
        204
    );
    assert_eq!(
        influx.wait_for_scalar("SELECT sum(hits) FROM event", 1, Duration::from_secs(20)),
        Some(1)
    );
    let status = nginx.wait_for_written(1, Duration::from_secs(10));
    assert_eq!(status["lines_written"], 1, "{status}");
    assert_accounted(&status);
}

#[test]
fn reload_and_quit_under_load_lose_nothing() {
    let influx = InfluxDb::start("analytics");
    let mut nginx = http_nginx(&influx.write_url());
    let load = Load::start(nginx.port, 4, BEACON, Duration::from_millis(1));
    load.wait_for(300);
    nginx.signal("HUP");
    load.wait_for(load.answered() + 300);
    nginx.stop_with("QUIT");
    let answered = load.finish();
    let stored = influx.wait_for_scalar(SUM, answered as i64, Duration::from_secs(30));
    assert_eq!(stored, Some(answered as i64), "{}", nginx.error_log());
}

#[test]
fn the_influxdb_2_request_shape_with_a_token_is_accepted_and_the_token_never_shown() {
    let vm = common::victoria::VictoriaMetrics::start();
    let token = "s3cr3t-t0ken";
    let nginx = http_nginx(&format!(
        "http://127.0.0.1:{}/api/v2/write?org=example&bucket=analytics \"header=Authorization: Token {token}\" flush=50ms",
        vm.port
    ));
    for _ in 0..50 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while vm.sum("pageview_hits") != 50.0 {
        assert!(
            Instant::now() < deadline,
            "stored {}: {}",
            vm.sum("pageview_hits"),
            nginx.error_log()
        );
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        nginx.wait_for_written(50, Duration::from_secs(10))["lines_written"],
        50
    );
    let shown = format!("{}{}", nginx.error_log(), nginx.status());
    assert!(!shown.contains(token), "{shown}");
}

#[test]
fn a_reload_does_not_wait_out_a_long_retry_after() {
    // The write API asks for 5 minutes of quiet; a reload must still retire the old worker within
    // exit_timeout= (plus the second its long timers take to notice), counting the lines it drops.
    let upstream =
        common::faulty_upstream::FaultyUpstream::start(common::faulty_upstream::Behaviour::RetryAfter(300));
    let mut nginx = Nginx::start_with(
        &format!(
            r#"
    analytics_sink {} flush=50ms exit_timeout=1s;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#,
            upstream.url("/write?db=x")
        ),
        1,
    );
    let old_worker = nginx.only_worker();
    for _ in 0..10 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let status = nginx.wait_for_status(Duration::from_secs(10), |s| s["batches_failed"] != 0);
    assert_ne!(status["batches_failed"], 0, "the 503 was never answered");
    nginx.signal("HUP");
    let reloaded = Instant::now();
    while common::process::is_running(old_worker) {
        assert!(
            reloaded.elapsed() < Duration::from_secs(6),
            "the old worker is still waiting out Retry-After: 300\n{}",
            nginx.error_log()
        );
        thread::sleep(Duration::from_millis(50));
    }
    let status = nginx.status();
    assert_eq!(status["accepted"], 10, "{status}");
    assert_eq!(
        status["lines_written"].as_u64().unwrap() + status["dropped_at_exit"].as_u64().unwrap(),
        10,
        "{status}"
    );
    nginx.stop_with("QUIT");
}

#[test]
fn a_partial_write_counts_the_stored_lines_as_written() {
    let influx = InfluxDb::start("analytics");
    // `hits` of `event` is a float here: InfluxDB refuses our event line, and stores the others of
    // the same batch.
    assert_eq!(influx.write("event,domain=other hits=1.5"), 204);
    let nginx = Nginx::start_with(
        &format!(
            r#"
    analytics_sink {} flush=700ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#,
            influx.write_url()
        ),
        1,
    );
    for _ in 0..3 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let event = r#"{"t":"event","n":"play","d":"example.com","g":"/"}"#;
    assert_eq!(nginx.beacon(event).status, 204);
    let status = nginx.wait_for_status(Duration::from_secs(20), |s| {
        s["lines_written"].as_u64().unwrap() + s["dropped_refused"].as_u64().unwrap() >= 4
    });
    assert_eq!(status["lines_written"], 3, "{status}\n{}", nginx.error_log());
    assert_eq!(status["dropped_refused"], 1, "{status}");
    assert_eq!(status["batches_failed"], 1, "one batch, answered once: {status}");
    assert_accounted(&status);
    assert_eq!(influx.wait_for_scalar(SUM, 3, Duration::from_secs(10)), Some(3));
    let log = nginx.error_log();
    assert!(
        log.contains("refused 1 of 4 lines with 400: partial write: field type conflict"),
        "{log}"
    );
}

#[test]
fn stop_delivers_what_is_pending_in_a_last_bounded_attempt() {
    let influx = InfluxDb::start("analytics");
    // A long flush interval: the lines are still pending when nginx is told to stop.
    let mut nginx = http_nginx(&format!("{} flush=60s", influx.write_url()));
    for _ in 0..20 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    nginx.stop_with("TERM");
    assert_eq!(
        influx.wait_for_scalar(SUM, 20, Duration::from_secs(10)),
        Some(20),
        "{}",
        nginx.error_log()
    );
    let log = nginx.error_log();
    assert_eq!(dropped_in_log(&log, " dropped: "), 0, "{log}");
}

#[test]
fn stop_with_an_upstream_that_does_not_answer_counts_and_logs_every_line() {
    // The answer comes a byte a second: the last attempt gives up within its second, before the
    // master kills the worker (the log check fails the test on "exited on signal").
    let upstream =
        common::faulty_upstream::FaultyUpstream::start(common::faulty_upstream::Behaviour::OneBytePerSecond);
    let mut nginx = http_nginx(&format!("{} flush=60s", upstream.url("/write?db=x")));
    for _ in 0..20 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let stopped = Instant::now();
    nginx.stop_with("TERM");
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopped.elapsed()
    );
    let log = nginx.error_log();
    assert_eq!(
        dropped_in_log(&log, "within the last attempt"),
        20,
        "every line counted and logged as dropped at stop:\n{log}"
    );
    assert!(
        log.contains("the last attempt before nginx stops failed"),
        "{log}"
    );
}

#[test]
fn the_buffer_bounds_every_line_a_worker_holds_with_the_batch_in_flight() {
    let upstream = common::faulty_upstream::FaultyUpstream::start(common::faulty_upstream::Behaviour::Accept);
    let buffer = 4096;
    let mut nginx = Nginx::start_with(
        &format!(
            r#"
    analytics_sink {} buffer={buffer} flush=300ms timeout=200ms exit_timeout=300ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#,
            upstream.url("/write?db=x")
        ),
        1,
    );
    // One line through, to learn its length.
    assert_eq!(nginx.beacon(BEACON).status, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream.lines().is_empty() {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(10));
    }
    let line_bytes = upstream.lines()[0].len() as u64 + 1;
    upstream.set(common::faulty_upstream::Behaviour::Down);
    // Beacons over several flush intervals: the sink takes a batch and keeps it while it retries,
    // and the buffer fills again behind it.
    for _ in 0..150 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
        thread::sleep(Duration::from_millis(10));
    }
    let worker = nginx.only_worker();
    nginx.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::process::is_running(worker) {
        assert!(Instant::now() < deadline, "{}", nginx.error_log());
        thread::sleep(Duration::from_millis(20));
    }
    let status = nginx.status();
    assert_accounted(&status);
    // What the worker held when it had to exit: its pending lines and the batch in flight.
    let held = status["dropped_at_exit"].as_u64().unwrap();
    assert!(status["dropped_buffer_full"].as_u64() > Some(0), "{status}");
    assert!(
        held * line_bytes <= buffer,
        "{held} lines of {line_bytes} bytes held, buffer={buffer}: {status}"
    );
    nginx.stop_with("QUIT");
}
