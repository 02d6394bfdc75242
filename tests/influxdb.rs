//! Concurrent identical page views all survive in a real InfluxDB 1.6: the unique timestamps keep
//! points with the same tag set from overwriting each other, with no identifier in the data.

mod common;

use std::time::Duration;

use common::influxdb::InfluxDb;
use common::load::post_concurrently;
use common::*;

const BEACON: &str =
    r#"{"page":"/same","domain":"example.com","referrer":"","utcoffset":"0","platform":"Linux x86_64"}"#;

#[test]
fn a_thousand_identical_concurrent_beacons_become_a_thousand_points() {
    let influx = InfluxDb::start("analytics");
    let nginx = Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp} flush=100ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#,
        udp = influx.udp_port
    ));
    let port = nginx.port;
    let answered = post_concurrently(port, 50, 20, BEACON);
    assert_eq!(answered, 1000);

    let sum = influx.wait_for_scalar("SELECT sum(hits) FROM pageview", 1000, Duration::from_secs(30));
    let count = influx
        .scalar("SELECT count(hits) FROM pageview")
        .and_then(|v| v.as_i64());
    let status = nginx.wait_for_written(1000, Duration::from_secs(10));
    assert_eq!(sum, Some(1000), "points: {count:?}; nginx status: {status}");
    assert_eq!(count, Some(1000));
    assert_eq!(status["lines_written"], 1000);

    // One series only: no identifier or per-hit tag was needed to keep every point.
    let series = influx.query("SHOW SERIES FROM pageview");
    let values = series["results"][0]["series"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 1, "{series}");
}

/// The `analytics_query_params` names that `nginx -t` lets through at the edges of what it allows
/// (a digit first, `_` last, a name that sorts before and after the module's own tags) are all
/// taken by a real InfluxDB; the names it refuses (`time`, `_…`) are the ones InfluxDB would refuse:
/// see `tests/config_errors.rs`.
#[test]
fn every_allowed_campaign_parameter_name_is_taken_by_influxdb() {
    let influx = InfluxDb::start("analytics");
    // InfluxDB really refuses a `time` tag: the reason `nginx -t` refuses the name.
    assert_eq!(influx.write("pageview,time=x hits=1i 1"), 400);
    let nginx = Nginx::start(&format!(
        r#"
    analytics_sink {url} flush=100ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{
            analytics_beacon; analytics_domains example.com;
            analytics_query_params 0 a z_ utm_term;
        }}
        location = /status {{ analytics_status; }}
    }}"#,
        url = influx.write_url()
    ));
    let beacon =
        r#"{"d":"example.com","g":"/p?z_=3&utm_term=4&0=1&a=2&utm_source=5","p":"Linux x86_64","z":"0"}"#;
    assert_eq!(nginx.beacon(beacon).status, 204);
    let stored = influx.wait_for_scalar("SELECT count(hits) FROM pageview", 1, Duration::from_secs(20));
    assert_eq!(stored, Some(1), "nginx status: {}", nginx.status());
    let keys = influx.query("SHOW TAG KEYS FROM pageview");
    let keys: Vec<&str> = keys["results"][0]["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[0].as_str().unwrap())
        .collect();
    for key in ["0", "a", "z_", "utm_term", "utm_source"] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let status = nginx.wait_for_written(1, Duration::from_secs(10));
    assert_eq!(status["lines_written"], 1, "{status}");
    assert_eq!(status["dropped_refused"], 0, "{status}");
}
