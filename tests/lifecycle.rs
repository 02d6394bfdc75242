//! Reload, reopen and quit while beacons flow: every beacon answered 204 is delivered.

mod common;

use std::thread;
use std::time::Duration;

use common::load::Load;
use common::*;

const BEACON: &str = r#"{"page":"/live","domain":"example.com","platform":"Linux x86_64"}"#;

fn file_nginx() -> Nginx {
    // The default flush interval (1 s): lines wait in the workers when the signal arrives.
    Nginx::start(
        r#"
    analytics_sink file:{dir}/analytics.lp;
    server {
        listen 127.0.0.1:{port};
        location = /ping { analytics_beacon; analytics_domains example.com; }
    }"#,
    )
}

#[test]
fn reload_under_load_loses_nothing() {
    let udp = UdpCollector::start();
    let nginx = udp_nginx(&udp);
    let load = Load::start(nginx.port, 4, BEACON, Duration::ZERO);
    load.wait_for(300);
    nginx.signal("HUP");
    load.wait_for(load.answered() + 300);
    nginx.signal("HUP");
    load.wait_for(load.answered() + 300);
    let answered = load.finish();
    let lines = udp.wait_for_lines(answered, Duration::from_secs(15));
    assert_eq!(
        lines.len(),
        answered,
        "answered {answered}, delivered {}\n{}",
        lines.len(),
        nginx.error_log()
    );
}

fn udp_nginx(udp: &UdpCollector) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{} flush=1s;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
    }}"#,
        udp.port
    ))
}

/// Stops nginx with `signal` while beacons flow; returns how many were answered 204.
fn answered_while_stopping(nginx: &mut Nginx, signal: &str) -> usize {
    let load = Load::start(nginx.port, 4, BEACON, Duration::ZERO);
    load.wait_for(500);
    nginx.stop_with(signal);
    load.finish()
}

#[test]
fn quit_under_load_loses_nothing_with_the_file_sink() {
    let mut nginx = file_nginx();
    let answered = answered_while_stopping(&mut nginx, "QUIT");
    let lines = wait_for_file_lines(&nginx.path("analytics.lp"), answered, Duration::from_secs(5));
    assert_eq!(lines.len(), answered, "{}", nginx.error_log());
    assert!(nginx.error_log().contains("gracefully shutting down"));
}

#[test]
fn quit_under_load_loses_nothing_with_the_udp_sink() {
    let udp = UdpCollector::start();
    let mut nginx = udp_nginx(&udp);
    let answered = answered_while_stopping(&mut nginx, "QUIT");
    let lines = udp.wait_for_lines(answered, Duration::from_secs(5));
    assert_eq!(lines.len(), answered, "{}", nginx.error_log());
}

#[test]
fn fast_stop_still_delivers_what_was_answered() {
    let mut nginx = file_nginx();
    let answered = answered_while_stopping(&mut nginx, "TERM");
    let lines = wait_for_file_lines(&nginx.path("analytics.lp"), answered, Duration::from_secs(5));
    assert_eq!(lines.len(), answered, "{}", nginx.error_log());
}

#[test]
fn reopen_moves_later_lines_to_the_new_file() {
    let nginx = file_nginx();
    let load = Load::start(nginx.port, 2, BEACON, Duration::ZERO);
    load.wait_for(200);
    std::fs::rename(nginx.path("analytics.lp"), nginx.path("analytics.lp.1")).unwrap();
    nginx.signal("USR1");
    load.wait_for(load.answered() + 200);
    let answered = load.finish();
    thread::sleep(Duration::from_millis(1500));
    let old = wait_for_file_lines(&nginx.path("analytics.lp.1"), 0, Duration::ZERO).len();
    let new = wait_for_file_lines(
        &nginx.path("analytics.lp"),
        answered - old,
        Duration::from_secs(5),
    )
    .len();
    assert!(old >= 200 && new > 0, "old {old}, new {new}");
    assert_eq!(old + new, answered, "{}", nginx.error_log());
}
