//! `analytics_aggregate`: the hits of an interval with the same measurement and tags become one
//! line with `hits=<n>` and load-time summaries. In real stores the sum of `hits` is the number of
//! beacons answered, even for a store that merges everything within one millisecond, and through
//! reload, quit and stop.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::influxdb::InfluxDb;
use common::load::post_concurrently;
use common::victoria::VictoriaMetrics;
use common::*;

const BEACON: &str =
    r#"{"page":"/same","domain":"example.com","referrer":"","utcoffset":"0","platform":"Linux x86_64"}"#;
const SUM: &str = "SELECT sum(hits) FROM pageview";

fn aggregating_nginx(sink: &str, interval: &str) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink {sink};
    analytics_aggregate {interval};
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#
    ))
}

/// Waits until nothing is pending: every line the tables wrote is written or counted dropped.
fn settled(nginx: &Nginx) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = nginx.status();
        let lines = status["aggregate_lines"].as_u64().unwrap();
        if lines > 0 && status["lines_written"].as_u64() == Some(lines) {
            return status;
        }
        assert!(Instant::now() < deadline, "{status}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// VictoriaMetrics with `-dedup.minScrapeInterval=1ms` keeps one sample per series and
/// millisecond: 2,000 identical page views arriving within a few hundred milliseconds would
/// become a few dozen or hundred. Aggregated, each worker writes one line per series and interval,
/// each flush in its own millisecond, and the sum of `hits` is every page view.
#[test]
fn identical_hits_within_a_millisecond_all_count_in_victoriametrics_with_millisecond_dedup() {
    let vm = VictoriaMetrics::start_with(&["-dedup.minScrapeInterval=1ms"]);
    let nginx = aggregating_nginx(&format!("{} flush=100ms", vm.write_url()), "500ms");
    let answered = post_concurrently(nginx.port, 50, 40, BEACON);
    assert_eq!(answered, 2000);
    let status = settled(&nginx);
    assert_eq!(status["accepted"], 2000);
    assert_eq!(status["hits_aggregated"], 2000);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stored = vm.query_number("sum(sum_over_time(pageview_hits[1h]))");
        if stored == Some(2000.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored {stored:?}; nginx status: {status}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// In InfluxDB 1.6: the sum of `hits` is the beacons answered, in far fewer points, and the
/// load-time summaries give the same sum, count, minimum and maximum as the beacons' own values.
#[test]
fn influxdb_sums_hits_and_load_time_summaries_of_aggregated_lines() {
    let influx = InfluxDb::start("analytics");
    let nginx = aggregating_nginx(&format!("{} flush=100ms", influx.write_url()), "300ms");
    let pages = ["/a", "/b", "/c"];
    let mut load_sum = 0;
    for n in 0..600u64 {
        let load = 100 + n;
        load_sum += load;
        let beacon = format!(
            r#"{{"d":"example.com","g":"{}","p":"Linux x86_64","z":"0","l":"{load}","r":"https://news.example.org/x/y"}}"#,
            pages[n as usize % pages.len()]
        );
        assert_eq!(nginx.beacon(&beacon).status, 204);
    }
    let status = settled(&nginx);
    let stored = influx.wait_for_scalar(SUM, 600, Duration::from_secs(20));
    assert_eq!(stored, Some(600), "{status}");
    let rows = influx.rows(
        "SELECT count(hits) AS lines, sum(load_ms_sum) AS s, sum(load_ms_count) AS c, \
         min(load_ms_min) AS lo, max(load_ms_max) AS hi FROM pageview",
    );
    let row = &rows[0];
    assert_eq!(row["s"], load_sum, "{row:?}");
    assert_eq!(row["c"], 600);
    assert_eq!(row["lo"], 100);
    assert_eq!(row["hi"], 699);
    let lines = row["lines"].as_u64().unwrap();
    assert!(lines < 100, "{lines} lines for 600 hits");
    assert_eq!(Some(lines), status["aggregate_lines"].as_u64());
    assert_eq!(status["hits_aggregated"], 600);
    // The referrer's domain stays a tag; its full URL (per-hit detail) is not written.
    let keys = influx.rows("SHOW FIELD KEYS FROM pageview");
    assert!(keys.iter().all(|k| k["fieldKey"] != "referrer"), "{keys:?}");
    let referrers = influx.rows("SHOW TAG VALUES FROM pageview WITH KEY = referrer_domain");
    assert_eq!(referrers.len(), 1, "{referrers:?}");
}

/// A long interval does not hold hits hostage: a reload (the old workers drain their tables as
/// they exit), a graceful quit and a fast stop each deliver every hit aggregated so far.
#[test]
fn nothing_aggregated_is_lost_through_reload_quit_and_stop() {
    let influx = InfluxDb::start("analytics");
    let sink = format!("{} flush=100ms", influx.write_url());
    let mut nginx = aggregating_nginx(&sink, "1h");
    assert_eq!(post_concurrently(nginx.port, 10, 30, BEACON), 300);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(
        influx.scalar(SUM),
        None,
        "nothing is written before the interval ends"
    );
    nginx.signal("HUP");
    let stored = influx.wait_for_scalar(SUM, 300, Duration::from_secs(20));
    assert_eq!(stored, Some(300), "after reload: {}", nginx.error_log());

    assert_eq!(post_concurrently(nginx.port, 10, 20, BEACON), 200);
    nginx.stop_with("QUIT");
    let stored = influx.wait_for_scalar(SUM, 500, Duration::from_secs(20));
    assert_eq!(stored, Some(500), "after quit");

    let mut nginx = aggregating_nginx(&sink, "1h");
    assert_eq!(post_concurrently(nginx.port, 10, 10, BEACON), 100);
    nginx.stop_with("TERM");
    let stored = influx.wait_for_scalar(SUM, 600, Duration::from_secs(20));
    assert_eq!(stored, Some(600), "after stop");
}

/// A table that fills up (here: many pages, a small buffer) is written early, not dropped.
#[test]
fn a_full_table_is_written_early_and_every_hit_still_counts() {
    let influx = InfluxDb::start("analytics");
    let nginx = Nginx::start_with(
        &format!(
            r#"
    analytics_sink {} flush=50ms buffer=64k;
    analytics_aggregate 1h;
    analytics_budget off;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#,
            influx.write_url()
        ),
        1,
    );
    for n in 0..1200 {
        let beacon = format!(
            r#"{{"d":"example.com","g":"/page-{}","p":"Linux x86_64"}}"#,
            n % 600
        );
        assert_eq!(nginx.beacon(&beacon).status, 204);
        // Paced so that the sink keeps up: the table fills whatever the pace (600 series do not
        // fit in 64k), and what this test is about is the table, not a pending buffer
        // overflowing (which is counted, see dropped_buffer_full).
        if n % 100 == 99 {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let status = nginx.status();
                if status["lines_written"] == status["aggregate_lines"] {
                    break;
                }
                assert!(Instant::now() < deadline, "{status}");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let status = nginx.status();
    assert_eq!(status["dropped_buffer_full"], 0, "{status}");
    assert!(status["aggregate_lines"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["hits_aggregated"], 1200);
    // The rest is written when the worker exits.
    let mut nginx = nginx;
    nginx.stop_with("QUIT");
    let stored = influx.wait_for_scalar(SUM, 1200, Duration::from_secs(20));
    assert_eq!(stored, Some(1200), "{status}\n{}", nginx.error_log());
}
