//! A flood of random values cannot stop a real InfluxDB 1.6 from accepting writes: the cardinality
//! budget writes values over it as `(other)`, so every hit is still stored, InfluxDB never refuses
//! a batch, and real pages keep their own tags.

mod common;

use std::time::{Duration, Instant};

use common::influxdb::InfluxDb;
use common::load::post_all;
use common::*;

/// A small deterministic generator: the flood's values are random to InfluxDB, repeatable here.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn site(influx: &InfluxDb, budget: &str, batch: usize) -> Nginx {
    Nginx::start_with(
        &format!(
            r#"
    analytics_sink {url} flush=100ms buffer=64m batch={batch};
    {budget}
    server {{
        listen 127.0.0.1:{{port}};
        analytics_domains example.com;
        analytics_query_params ref;
        location = /ping {{ analytics_beacon; }}
        location = /status {{ analytics_status; }}
    }}"#,
            url = influx.write_url()
        ),
        1,
    )
}

/// Ten random letters: values no identifier rule folds into a placeholder (random hex or digits
/// would all become `:token` or `:id` before the budget saw them), so they reach the budget.
fn word(random: &mut Random) -> String {
    let mut n = random.next();
    (0..10)
        .map(|_| {
            let letter = b'a' + (n % 26) as u8;
            n /= 26;
            letter as char
        })
        .collect()
}

/// One beacon with a random value in every tag a client controls.
fn hostile_beacon(random: &mut Random) -> String {
    let kind = random.next() % 4;
    let tz = (random.next() % 1681) as i64 - 840;
    let mobile = random.next() % 2 == 0;
    let mut w = || word(random);
    match kind {
        0 => format!(
            r#"{{"d":"example.com","g":"/{}?utm_source={}&utm_medium={}&utm_campaign={}&ref={}","r":"https://{}.example.org/{}","p":"Flood {}","z":{tz},"m":{mobile}}}"#,
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w()
        ),
        1 => format!(
            r#"{{"t":"notfound","d":"example.com","g":"/{}","p":"{}","z":{tz}}}"#,
            w(),
            w()
        ),
        2 => format!(
            r#"{{"t":"event","n":"{}","d":"example.com","g":"/{}"}}"#,
            w(),
            w()
        ),
        _ => format!(r#"{{"d":"{}.example.net","g":"/"}}"#, w()),
    }
}

fn page_view(page: &str) -> String {
    format!(r#"{{"d":"example.com","g":"{page}","p":"Linux x86_64","z":-60}}"#)
}

/// Waits until every line the site accepted is settled (written or dropped).
fn settled(nginx: &Nginx) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = nginx.status();
        let queued = ["accepted", "not_found", "events", "unlisted"]
            .iter()
            .map(|k| s[k].as_u64().unwrap())
            .sum::<u64>();
        let settled = counter(&s, "lines_written") + dropped_total(&s);
        if settled >= queued || Instant::now() > deadline {
            assert_eq!(settled, queued, "every accepted line settled: {s}");
            return s;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sum_hits(influx: &InfluxDb, q: &str) -> i64 {
    influx.scalar(q).and_then(|v| v.as_i64()).unwrap_or(0)
}

fn series_count(influx: &InfluxDb) -> usize {
    let r = influx.query("SHOW SERIES");
    r["results"][0]["series"][0]["values"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn a_flood_against_low_influxdb_limits_is_stored_under_other_and_real_pages_keep_flowing() {
    // InfluxDB refusing any batch past 2,000 series or 2,000 values of a tag, and the module sized
    // to fit: series ≤ 1,000 + 3 overflow series + 201 unlisted domains, plus one batch of 500
    // lines, since InfluxDB 1.x counts every line of a write that adds series against its limit
    // (docs/cardinality.md).
    let influx = InfluxDb::start_with_cardinality_limits("analytics", 2_000, 2_000);
    let nginx = site(
        &influx,
        "analytics_budget page=300 notfound_page=100 event_page=100 event_name=50 \
         referrer_domain=100 campaign=50 unlisted_domain=200 series=1000;",
        500,
    );
    let existing: Vec<String> = (0..20).map(|i| format!("/docs/existing-{i}")).collect();
    let before: Vec<String> = existing.iter().map(|p| page_view(p)).collect();
    assert_eq!(post_all(nginx.port, "/ping", before, 2)[&204], 20);

    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let flood: Vec<String> = (0..12_000).map(|_| hostile_beacon(&mut random)).collect();
    let answers = post_all(nginx.port, "/ping", flood, 4);
    assert_eq!(answers.values().sum::<usize>(), 12_000);

    // Legitimate traffic after the flood: existing pages, and new pages read a few times each.
    let new_pages: Vec<String> = (0..20).map(|i| format!("/docs/new-{i}")).collect();
    let mut after: Vec<String> = existing.iter().map(|p| page_view(p)).collect();
    for page in &new_pages {
        after.extend(std::iter::repeat_n(page_view(page), 3));
    }
    assert_eq!(post_all(nginx.port, "/ping", after, 1)[&204], 80);

    let status = settled(&nginx);
    let log = nginx.error_log();
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains(" refused ")).take(3).collect();
    assert_eq!(
        status["dropped_refused"], 0,
        "InfluxDB never refused a batch: {status}\n{refusals:#?}"
    );
    assert_eq!(status["batches_failed"], 0, "{status}");
    let page_views = status["accepted"].as_i64().unwrap();
    let stored = sum_hits(&influx, "SELECT sum(hits) FROM pageview");
    assert_eq!(
        stored, page_views,
        "every page view stored, the flood's under (other)"
    );
    assert_eq!(
        sum_hits(&influx, "SELECT sum(hits) FROM notfound"),
        status["not_found"].as_i64().unwrap()
    );
    assert_eq!(
        sum_hits(&influx, "SELECT sum(hits) FROM event"),
        status["events"].as_i64().unwrap()
    );
    assert!(sum_hits(&influx, "SELECT sum(hits) FROM pageview WHERE page = '(other)'") > 0);
    for page in &existing {
        let q = format!("SELECT sum(hits) FROM pageview WHERE page = '{page}'");
        assert_eq!(sum_hits(&influx, &q), 2, "{page} kept its tag");
    }
    for page in &new_pages {
        let q = format!("SELECT sum(hits) FROM pageview WHERE page = '{page}'");
        assert!(sum_hits(&influx, &q) >= 2, "{page} got its tag once seen again");
    }
    let series = series_count(&influx);
    eprintln!(
        "low limits: {} beacons in all, {series} series in InfluxDB",
        status["accepted"].as_u64().unwrap_or(0)
            + status["not_found"].as_u64().unwrap_or(0)
            + status["events"].as_u64().unwrap_or(0)
            + status["unlisted"].as_u64().unwrap_or(0)
    );
    assert!(series <= 1_000 + 3 + 201, "{series} series");
    assert!(status["budget_overflow_page"].as_u64().unwrap() > 0, "{status}");
}

#[test]
fn a_site_with_5000_pages_is_never_capped_and_110000_random_pages_change_nothing() {
    // InfluxDB's default limits, the module's default budgets.
    let influx = InfluxDb::start("analytics");
    let nginx = site(&influx, "", 5000);
    let real: Vec<String> = (0..5_000).map(|i| format!("/articles/{i}/read")).collect();
    let visits: Vec<String> = real.iter().chain(real.iter()).map(|p| page_view(p)).collect();
    assert_eq!(post_all(nginx.port, "/ping", visits, 4)[&204], 10_000);
    let status = settled(&nginx);
    assert_eq!(
        status["budget_overflow_page"], 0,
        "5,000 real pages are never capped: {status}"
    );
    assert_eq!(status["budget_overflow_series"], 0, "{status}");

    let mut random = Random(42);
    let flood: Vec<String> = (0..110_000)
        .map(|_| page_view(&format!("/{}", word(&mut random))))
        .collect();
    assert_eq!(post_all(nginx.port, "/ping", flood, 4)[&204], 110_000);
    let legit: Vec<String> = real.iter().take(100).map(|p| page_view(p)).collect();
    assert_eq!(post_all(nginx.port, "/ping", legit, 1)[&204], 100);

    let status = settled(&nginx);
    assert_eq!(status["dropped_refused"], 0, "{status}");
    assert_eq!(status["lines_written"], 120_100, "{status}");
    assert_eq!(sum_hits(&influx, "SELECT sum(hits) FROM pageview"), 120_100);
    assert_eq!(
        sum_hits(
            &influx,
            "SELECT sum(hits) FROM pageview WHERE page = '/articles/7/read'"
        ),
        3
    );
    // The flood added one tag value, (other): 5,000 real pages + 1.
    let values = influx.query("SHOW TAG VALUES EXACT CARDINALITY FROM pageview WITH KEY = \"page\"");
    let count = values["results"][0]["series"][0]["values"][0][0].as_i64();
    eprintln!(
        "default limits: 120,100 page views, {count:?} page values, {} series",
        series_count(&influx)
    );
    assert_eq!(count, Some(5_001), "{values}");
}
