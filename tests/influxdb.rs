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
    let status = nginx.status();
    assert_eq!(sum, Some(1000), "points: {count:?}; nginx status: {status}");
    assert_eq!(count, Some(1000));
    assert_eq!(status["lines_written"], 1000);

    // One series only: no identifier or per-hit tag was needed to keep every point.
    let series = influx.query("SHOW SERIES FROM pageview");
    let values = series["results"][0]["series"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 1, "{series}");
}
