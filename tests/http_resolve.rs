//! An HTTP sink whose upstream is given by a host name, with nginx's `resolver` in the http
//! block: when the upstream fails, its name is looked up again on the event loop, and the next
//! connections go to the address answered. Two real InfluxDB 1.6 servers listen on the same port
//! of 127.0.0.1 and 127.0.0.2; a tiny DNS server says which one `localhost` is.

mod common;

use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

use common::dns::DnsServer;
use common::influxdb::{distinct_points, InfluxDb};
use common::*;

const BEACON: &str = r#"{"page":"/resolve","domain":"example.com","platform":"Linux x86_64","load_ms":3}"#;

fn nginx_with_resolver(dns_port: u16, influx_port: u16, workers: usize) -> Nginx {
    Nginx::start_with(
        &format!(
            r#"
    resolver 127.0.0.1:{dns_port} ipv6=off valid=1s;
    resolver_timeout 2s;
    analytics_sink http://localhost:{influx_port}/write?db=analytics flush=100ms timeout=1s;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#
        ),
        workers,
    )
}

fn points(influx: &InfluxDb) -> usize {
    influx.rows("SELECT hits FROM pageview").len()
}

fn send_beacons(nginx: &Nginx, n: usize) {
    for _ in 0..n {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
}

#[test]
fn a_failed_upstream_name_is_resolved_again_and_its_lines_go_to_the_new_address() {
    let dns = DnsServer::start("localhost", Ipv4Addr::new(127, 0, 0, 1));
    let port = free_port();
    let mut first = InfluxDb::start_at("analytics", "127.0.0.1", port);
    let second = InfluxDb::start_at("analytics", "127.0.0.2", port);
    let nginx = nginx_with_resolver(dns.port, port, 2);

    send_beacons(&nginx, 20);
    let status = nginx.wait_for_written(20, Duration::from_secs(20));
    assert_eq!(status["lines_written"], 20, "{status}\n{}", nginx.error_log());
    assert_eq!(points(&first), 20, "the name resolved at start is 127.0.0.1");
    assert_eq!(points(&second), 0);

    // The name moves, and the old address dies: the next exchange fails, the sink looks the name
    // up again, and what follows goes to 127.0.0.2.
    dns.set(Ipv4Addr::new(127, 0, 0, 2));
    first.stop();
    send_beacons(&nginx, 20);
    let status = nginx.wait_for_written(40, Duration::from_secs(30));
    assert_eq!(
        status["lines_written"],
        40,
        "every line answered is written, to the new address\n{status}\n{}",
        nginx.error_log()
    );
    first.start_again();
    assert_eq!(points(&second), 20, "the lines after the move are in the second");
    assert_eq!(
        distinct_points(&[&first, &second]),
        40,
        "every answered beacon is stored once"
    );
    assert_eq!(counter(&status, "accepted"), 40, "{status}");
    assert_eq!(dropped_total(&status), 0, "{status}");

    let log = nginx.error_log();
    assert!(
        log.contains(&format!(
            "\"localhost\" now resolves to 127.0.0.2:{port} (was 127.0.0.1:{port})"
        )),
        "the move is logged\n{log}"
    );
    assert!(!log.contains("db=analytics"), "no query string in the log\n{log}");
    assert!(dns.queries() >= 1);
}

#[test]
fn without_a_resolver_the_name_stays_as_resolved_at_start() {
    let dns = DnsServer::start("localhost", Ipv4Addr::new(127, 0, 0, 2));
    let port = free_port();
    let mut first = InfluxDb::start_at("analytics", "127.0.0.1", port);
    let nginx = Nginx::start(&format!(
        r#"
    analytics_sink http://localhost:{port}/write?db=analytics flush=100ms timeout=1s;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#
    ));
    first.stop();
    send_beacons(&nginx, 5);
    thread::sleep(Duration::from_secs(3));
    assert_eq!(dns.queries(), 0, "no lookup without a resolver");
    assert_eq!(nginx.status()["lines_written"], 0);
    // Back on the address resolved at start: the lines that waited are delivered there.
    first.start_again();
    let status = nginx.wait_for_written(5, Duration::from_secs(30));
    assert_eq!(status["lines_written"], 5, "{status}\n{}", nginx.error_log());
    assert_eq!(points(&first), 5);
}

#[test]
fn a_failed_lookup_is_logged_once_and_changes_nothing() {
    // The DNS server knows another name only: every lookup of `localhost` finds no address.
    let dns = DnsServer::start("elsewhere", Ipv4Addr::new(127, 0, 0, 2));
    let port = free_port();
    let mut first = InfluxDb::start_at("analytics", "127.0.0.1", port);
    // One worker: each worker keeps its own sink, and logs its own failure once.
    let nginx = nginx_with_resolver(dns.port, port, 1);
    first.stop();
    send_beacons(&nginx, 5);
    // Failures go on; so do lookups, at most one a second.
    let deadline = Instant::now() + Duration::from_secs(15);
    while dns.queries() < 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        dns.queries() >= 2,
        "the name is looked up again after each failure, at most once a second"
    );
    let log = nginx.error_log();
    assert_eq!(
        log.matches("cannot resolve \"localhost\" again").count(),
        1,
        "a failed lookup is logged once\n{log}"
    );
    assert!(!log.contains("now resolves to"), "{log}");
    // The address stays as it was: back there, the lines that waited are delivered.
    first.start_again();
    let status = nginx.wait_for_written(5, Duration::from_secs(40));
    assert_eq!(status["lines_written"], 5, "{status}\n{}", nginx.error_log());
    assert_eq!(points(&first), 5);
}

#[test]
fn a_lookup_in_flight_does_not_keep_an_exiting_worker_alive() {
    // A name server that never answers: each lookup stays in flight for `resolver_timeout`.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns_port = silent.local_addr().unwrap().port();
    let port = free_port();
    let mut first = InfluxDb::start_at("analytics", "127.0.0.1", port);
    let mut nginx = Nginx::start(&format!(
        r#"
    resolver 127.0.0.1:{dns_port} ipv6=off;
    resolver_timeout 60s;
    analytics_sink http://localhost:{port}/write?db=analytics flush=100ms timeout=1s exit_timeout=1s;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#
    ));
    first.stop();
    send_beacons(&nginx, 5);
    // The first failure starts the lookup, which then waits on the silent server.
    let mut query = [0u8; 512];
    silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(
        silent.recv_from(&mut query).is_ok(),
        "the sink looks its name up again"
    );
    // A graceful stop ends the worker after exit_timeout=, not after resolver_timeout
    // (`stop_with` gives it 30 s), and cancelling the lookup logs nothing alarming.
    let stopped = Instant::now();
    nginx.stop_with("QUIT");
    assert!(stopped.elapsed() < Duration::from_secs(20));
}
