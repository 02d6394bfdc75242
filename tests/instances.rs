//! `analytics_instance`: several nginx instances writing identical hits into one InfluxDB keep
//! every hit, because each instance's number is in the lowest three digits of its timestamps.

mod common;

use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

use analytics_core::unique_clock::Instance;
use common::influxdb::InfluxDb;
use common::load::post_concurrently;
use common::*;

const BEACON: &str =
    r#"{"page":"/same","domain":"example.com","referrer":"","utcoffset":"0","platform":"Linux x86_64"}"#;

fn edge(write_url: &str, instance: Option<u16>) -> Nginx {
    let instance = instance.map_or(String::new(), |n| format!("analytics_instance {n};"));
    Nginx::start(&format!(
        r#"
    analytics_sink {write_url} flush=100ms;
    {instance}
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#
    ))
}

/// Every stored timestamp's lowest three digits, counted.
fn instance_digits(influx: &InfluxDb) -> BTreeMap<u64, usize> {
    let path = format!(
        "/query?db={}&epoch=ns&q=SELECT%20hits%20FROM%20pageview",
        influx.database
    );
    let reply = http(influx.http_port, "GET", &path, &[], b"");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let mut digits = BTreeMap::new();
    for row in reply["results"][0]["series"][0]["values"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let time = row[0].as_u64().unwrap();
        *digits.entry(time % 1000).or_default() += 1;
    }
    digits
}

#[test]
fn two_instances_with_a_thousand_identical_concurrent_hits_each_store_two_thousand_points() {
    let influx = InfluxDb::start("analytics");
    let url = influx.write_url();
    let edges = [edge(&url, Some(1)), edge(&url, Some(2))];
    let ports: Vec<u16> = edges.iter().map(|e| e.port).collect();
    let loads: Vec<_> = ports
        .into_iter()
        .map(|port| thread::spawn(move || post_concurrently(port, 50, 20, BEACON)))
        .collect();
    let answered: usize = loads.into_iter().map(|l| l.join().unwrap()).sum();
    assert_eq!(answered, 2000);

    let stored = influx.wait_for_scalar("SELECT count(hits) FROM pageview", 2000, Duration::from_secs(30));
    assert_eq!(
        stored,
        Some(2000),
        "statuses: {} / {}",
        edges[0].status(),
        edges[1].status()
    );
    assert_eq!(instance_digits(&influx), BTreeMap::from([(1, 1000), (2, 1000)]));
    for edge in &edges {
        assert_eq!(
            edge.wait_for_written(1000, Duration::from_secs(10))["lines_written"],
            1000
        );
    }
}

/// Without `analytics_instance` the number comes from the host name (as nginx reads it, in lower
/// case), the same for every worker.
#[test]
fn the_default_instance_number_comes_from_the_host_name() {
    let influx = InfluxDb::start("analytics");
    let nginx = edge(&influx.write_url(), None);
    for _ in 0..20 {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let stored = influx.wait_for_scalar("SELECT count(hits) FROM pageview", 20, Duration::from_secs(30));
    assert_eq!(stored, Some(20));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let expected = Instance::from_host_name(&host.trim().to_lowercase()).number();
    assert_eq!(
        instance_digits(&influx),
        BTreeMap::from([(u64::from(expected), 20)])
    );
}
