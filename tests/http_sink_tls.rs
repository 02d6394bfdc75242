//! The HTTP sink over TLS (`https://`), against a real InfluxDB 1.6 serving HTTPS and, for mutual
//! TLS, a real nginx that asks for a client certificate; every certificate is made by the test's
//! own CA (`common::pki`).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::influxdb::InfluxDb;
use common::load::post_concurrently;
use common::pki::{Pair, Pki};
use common::*;

const BEACON: &str =
    r#"{"page":"/over-https","domain":"example.com","platform":"Linux x86_64","load_ms":12}"#;
const SUM: &str = "SELECT sum(hits) FROM pageview";
const TOKEN: &str = "s3cr3t-tls-t0ken";

fn https_nginx(sink: &str) -> Nginx {
    Nginx::start(&body(sink))
}

fn body(sink: &str) -> String {
    format!(
        r#"
    analytics_sink {sink};
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#
    )
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Waits until `counter` of the status page reaches `at_least`.
fn wait_for_counter(nginx: &Nginx, counter: &str, at_least: u64, within: Duration) {
    let status = nginx.wait_for_status(within, |s| s[counter].as_u64().unwrap() >= at_least);
    assert!(
        status[counter].as_u64().unwrap() >= at_least,
        "{counter} stayed below {at_least}: {status}\n{}",
        nginx.error_log()
    );
}

/// Error-level lines of the log that contain `text`.
fn errors_with(log: &str, text: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("[error]") && l.contains(text))
        .count()
}

#[test]
fn beacons_are_stored_over_https_gzipped_and_the_token_is_never_logged() {
    let pki = Pki::new("Analytics Test CA");
    let server = pki.server("server", "DNS:localhost,IP:127.0.0.1", 2);
    let influx = InfluxDb::start_tls("analytics", &server.cert, &server.key);
    let nginx = https_nginx(&format!(
        "{} tls_ca={} \"header=Authorization: Token {TOKEN}\" gzip=on flush=50ms",
        influx.https_write_url(),
        path(&pki.ca)
    ));
    for _ in 0..300 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    assert_eq!(
        influx.wait_for_scalar(SUM, 300, Duration::from_secs(20)),
        Some(300),
        "{}",
        nginx.error_log()
    );
    // InfluxDB stores a batch before the worker reads its answer.
    let status = nginx.wait_for_written(300, Duration::from_secs(10));
    assert_eq!(status["lines_written"], 300, "{status}");
    assert_eq!(status["batches_failed"], 0, "{status}");
    let shown = format!("{}{}", nginx.error_log(), status);
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[test]
fn a_quit_right_after_a_burst_stores_every_answered_beacon_over_https() {
    let pki = Pki::new("Analytics Test CA");
    let server = pki.server("server", "DNS:localhost,IP:127.0.0.1", 2);
    let influx = InfluxDb::start_tls("analytics", &server.cert, &server.key);
    // flush=5s: the lines are still in the workers when the quit comes.
    // By address: the certificate's IP address is what is verified.
    let mut nginx = https_nginx(&format!(
        "https://127.0.0.1:{}/write?db=analytics tls_ca={} flush=5s batch=100",
        influx.http_port,
        path(&pki.ca)
    ));
    let answered = post_concurrently(nginx.port, 4, 250, BEACON);
    assert_eq!(answered, 1000);
    nginx.stop_with("QUIT");
    assert_eq!(
        influx.wait_for_scalar(SUM, answered as i64, Duration::from_secs(30)),
        Some(answered as i64),
        "{}",
        nginx.error_log()
    );
}

#[test]
fn tls_name_is_the_name_verified_and_sent() {
    let pki = Pki::new("Analytics Test CA");
    // A certificate for a name only, reached by address.
    let server = pki.server("server", "DNS:influx.example.com", 2);
    let influx = InfluxDb::start_tls("analytics", &server.cert, &server.key);
    let nginx = https_nginx(&format!(
        "https://127.0.0.1:{}/write?db=analytics tls_ca={} tls_name=influx.example.com flush=50ms",
        influx.http_port,
        path(&pki.ca)
    ));
    for _ in 0..10 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    assert_eq!(
        influx.wait_for_scalar(SUM, 10, Duration::from_secs(20)),
        Some(10),
        "{}\n{}",
        nginx.status(),
        nginx.error_log()
    );
    assert_eq!(nginx.status()["batches_failed"], 0);
}

#[test]
fn a_stop_right_after_a_burst_makes_its_last_attempt_over_tls() {
    let pki = Pki::new("Analytics Test CA");
    let server = pki.server("server", "DNS:localhost,IP:127.0.0.1", 2);
    let influx = InfluxDb::start_tls("analytics", &server.cert, &server.key);
    // flush=5s: the lines are still in the workers when the stop comes; the event loop is over
    // then, so they go in the blocking last attempt, over TLS.
    let mut nginx = https_nginx(&format!(
        "{} tls_ca={} flush=5s",
        influx.https_write_url(),
        path(&pki.ca)
    ));
    let answered = post_concurrently(nginx.port, 4, 50, BEACON);
    assert_eq!(answered, 200);
    nginx.stop_with("TERM");
    assert_eq!(
        influx.wait_for_scalar(SUM, answered as i64, Duration::from_secs(20)),
        Some(answered as i64),
        "{}",
        nginx.error_log()
    );
}

/// Serves `pair` as the InfluxDB's certificate from its next start.
fn serve(influx: &mut InfluxDb, served: &Pair, pair: &Pair) {
    influx.stop();
    std::fs::copy(&pair.cert, &served.cert).unwrap();
    std::fs::copy(&pair.key, &served.key).unwrap();
    influx.start_again();
}

#[test]
fn certificate_failures_are_refused_logged_once_counted_and_delivery_resumes_when_fixed() {
    let pki = Pki::new("Analytics Test CA");
    let other = Pki::new("Some Other CA");
    let good = pki.server("good", "DNS:localhost,IP:127.0.0.1", 2);
    let expired = pki.server("expired", "DNS:localhost,IP:127.0.0.1", -1);
    let wrong_name = pki.server("wrong-name", "DNS:influx.example.com", 2);
    let untrusted = other.server("untrusted", "DNS:localhost,IP:127.0.0.1", 2);
    // The file InfluxDB serves: each stage copies another certificate over it and restarts it.
    let served = pki.server("served", "DNS:localhost,IP:127.0.0.1", 2);
    std::fs::copy(&expired.cert, &served.cert).unwrap();
    std::fs::copy(&expired.key, &served.key).unwrap();
    let mut influx = InfluxDb::start_tls("analytics", &served.cert, &served.key);
    // One worker: each logs a failure once.
    let nginx = Nginx::start_with(
        &body(&format!(
            "{} tls_ca={} \"header=Authorization: Token {TOKEN}\" flush=50ms",
            influx.https_write_url(),
            path(&pki.ca)
        )),
        1,
    );
    for _ in 0..10 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let mut failed = 0;
    for (pair, reason) in [
        (None, "TLS certificate verify error: (10:certificate has expired)"),
        (
            Some(&wrong_name),
            "the TLS certificate does not match \"localhost\"",
        ),
        (
            Some(&untrusted),
            "TLS certificate verify error: (21:unable to verify the first certificate)",
        ),
    ] {
        if let Some(pair) = pair {
            serve(&mut influx, &served, pair);
        }
        // At least two refused attempts at this stage: logged once all the same.
        failed += 2;
        wait_for_counter(&nginx, "batches_failed", failed, Duration::from_secs(40));
        failed = nginx.status()["batches_failed"].as_u64().unwrap();
        let log = nginx.error_log();
        assert_eq!(errors_with(&log, reason), 1, "{reason}\n{log}");
        // Once in all: not repeated at another level either.
        assert_eq!(log.matches(reason).count(), 1, "{reason}\n{log}");
        assert_eq!(nginx.status()["lines_written"], 0);
    }
    assert_eq!(
        influx.scalar(SUM),
        None,
        "nothing stored while the certificate is refused"
    );
    // The upstream is fixed: the lines held meanwhile are delivered.
    serve(&mut influx, &served, &good);
    assert_eq!(
        influx.wait_for_scalar(SUM, 10, Duration::from_secs(60)),
        Some(10),
        "{}",
        nginx.error_log()
    );
    let status = nginx.wait_for_written(10, Duration::from_secs(10));
    assert_eq!(status["lines_written"], 10, "{status}");
    assert_accounted(&status);
    let shown = format!("{}{}", nginx.error_log(), status);
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[test]
fn a_failed_handshake_is_logged_with_its_reason_counted_and_retried() {
    // An upstream that speaks plain HTTP where TLS is expected.
    let influx = InfluxDb::start("analytics");
    let pki = Pki::new("Analytics Test CA");
    let nginx = Nginx::start_with(
        &body(&format!(
            "https://127.0.0.1:{}/write?db=analytics tls_ca={} flush=50ms",
            influx.http_port,
            path(&pki.ca)
        )),
        1,
    );
    for _ in 0..5 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    wait_for_counter(&nginx, "batches_failed", 2, Duration::from_secs(20));
    let log = nginx.error_log();
    assert!(
        errors_with(&log, "SSL_do_handshake() failed") >= 1 && log.contains("wrong version number"),
        "{log}"
    );
    let status = nginx.status();
    assert_eq!(status["lines_written"], 0, "{status}");
    assert_eq!(influx.scalar(SUM), None);
}

#[test]
fn a_wrong_ca_is_refused_until_a_reload_trusts_the_right_one() {
    let pki = Pki::new("Analytics Test CA");
    let other = Pki::new("Some Other CA");
    let server = pki.server("server", "DNS:localhost,IP:127.0.0.1", 2);
    let influx = InfluxDb::start_tls("analytics", &server.cert, &server.key);
    let sink = |ca: &std::path::Path| {
        format!(
            "{} tls_ca={} flush=50ms exit_timeout=1s",
            influx.https_write_url(),
            path(ca)
        )
    };
    let mut nginx = Nginx::start_with(&body(&sink(&other.ca)), 1);
    for _ in 0..10 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    wait_for_counter(&nginx, "batches_failed", 2, Duration::from_secs(20));
    let reason = "TLS certificate verify error: (21:unable to verify the first certificate)";
    assert_eq!(
        errors_with(&nginx.error_log(), reason),
        1,
        "{}",
        nginx.error_log()
    );
    assert_eq!(nginx.status()["lines_written"], 0);
    // The configuration is fixed and reloaded: new beacons are stored; the old worker's ten, which
    // its configuration cannot deliver, are counted when it exits.
    let conf = nginx.path("nginx.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, text.replace(&path(&other.ca), &path(&pki.ca))).unwrap();
    let old_worker = nginx.only_worker();
    nginx.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::process::is_running(old_worker) {
        assert!(Instant::now() < deadline, "the old worker did not exit");
        thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..20 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    assert_eq!(
        influx.wait_for_scalar(SUM, 20, Duration::from_secs(20)),
        Some(20),
        "{}",
        nginx.error_log()
    );
    let status = nginx.wait_for_written(20, Duration::from_secs(10));
    assert_eq!(status["lines_written"], 20, "{status}");
    assert_eq!(status["dropped_at_exit"], 10, "{status}");
    assert_accounted(&status);
    nginx.stop_with("QUIT");
}

#[test]
fn mutual_tls_sends_the_client_certificate_and_resumes_sessions_and_without_it_is_refused() {
    let pki = Pki::new("Analytics Test CA");
    let server = pki.server("server", "DNS:localhost,IP:127.0.0.1", 2);
    let client = pki.client("client");
    let influx = InfluxDb::start_tls("analytics", &server.cert, &server.key);
    // The write API's front: nginx asking for a client certificate of the test's CA, one
    // request per connection (so every batch makes a new one, which should resume the session).
    let front = Nginx::start(&format!(
        r#"
    log_format tls "$ssl_session_reused $ssl_client_verify $status";
    server {{
        listen 127.0.0.1:{{port}} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        keepalive_requests 1;
        access_log {{dir}}/logs/tls.log tls;
        location / {{ proxy_pass https://127.0.0.1:{influx}; }}
    }}"#,
        cert = path(&server.cert),
        key = path(&server.key),
        ca = path(&pki.ca),
        influx = influx.http_port
    ));
    let url = format!("https://localhost:{}/write?db=analytics", front.port);
    let with_cert = https_nginx(&format!(
        "{url} tls_ca={} tls_cert={} tls_key={} flush=50ms",
        path(&pki.ca),
        path(&client.cert),
        path(&client.key)
    ));
    for _ in 0..5 {
        for _ in 0..4 {
            assert_eq!(with_cert.beacon(BEACON).status, 204);
        }
        wait_for_counter(&with_cert, "batches_ok", 1, Duration::from_secs(20));
        thread::sleep(Duration::from_millis(150));
    }
    assert_eq!(
        influx.wait_for_scalar(SUM, 20, Duration::from_secs(20)),
        Some(20),
        "{}",
        with_cert.error_log()
    );
    assert_eq!(
        with_cert.wait_for_written(20, Duration::from_secs(10))["lines_written"],
        20
    );
    let seen = std::fs::read_to_string(front.path("logs/tls.log")).unwrap();
    assert!(seen.lines().all(|l| l.contains(" SUCCESS 204")), "{seen}");
    assert!(
        seen.lines().any(|l| l.starts_with("r ")),
        "a new connection should resume the last session:\n{seen}"
    );
    // Without the client certificate the front refuses the request (nginx answers 400).
    let without_cert = https_nginx(&format!(
        "{url} tls_ca={} \"header=Authorization: Token {TOKEN}\" flush=50ms",
        path(&pki.ca)
    ));
    for _ in 0..4 {
        assert_eq!(without_cert.beacon(BEACON).status, 204);
    }
    wait_for_counter(&without_cert, "dropped_refused", 4, Duration::from_secs(20));
    let status = without_cert.status();
    assert_eq!(status["lines_written"], 0, "{status}");
    assert_accounted(&status);
    assert_eq!(influx.scalar(SUM).and_then(|v| v.as_i64()), Some(20));
    let seen = std::fs::read_to_string(front.path("logs/tls.log")).unwrap();
    assert!(seen.lines().any(|l| l.contains(" NONE 400")), "{seen}");
    let shown = format!("{}{}", without_cert.error_log(), front.error_log());
    assert!(!shown.contains(TOKEN), "{shown}");
}
