//! The roll-up recipe (`dashboards/influxdb/rollups.iql`, applied by
//! `scripts/influx-rollups.sh`) on a real InfluxDB 1.6: raw points of a few past days are
//! back-filled into `analytics_1h` and `analytics_1d`, whose sums must equal the raw ones per
//! hour and day and per breakdown (page, referrer domain, campaign, device, browser..., events by
//! name, outbound links by target domain, downloads by file), each roll-up point
//! carrying its domain and one breakdown, with visits, continued visits and load-time percentiles; the continuous queries themselves roll up the last hours; the installer
//! can run twice, and refuses what it cannot apply.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::influxdb::{median_p75_p95, InfluxDb, Row};

const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 24 * HOUR_NS;

const DOMAINS: [&str; 2] = ["example.com", "shop.example.org"];
const REFERRER_DOMAINS: [&str; 5] = [
    "news.example.org",
    "www.reddit.com",
    "search.example.net",
    "t.co",
    "mail.example.com",
];
const PLATFORMS: [(&str, &str); 5] = [
    ("Linux", "desktop"),
    ("Windows", "desktop"),
    ("macOS", "desktop"),
    ("iOS", "mobile"),
    ("Android", "mobile"),
];
const BROWSERS: [&str; 5] = ["Chrome", "Firefox", "Safari", "Edge", "other"];
const TIME_ZONES: [&str; 4] = ["-60", "0", "300", "-120"];
/// Custom events, and the browser script's own `outbound` and `download` (a custom event may be
/// called `download` too: only the script's carry a file).
const EVENT_NAMES: [&str; 4] = ["signup", "video-play", "download", "outbound"];
const FILES: [(&str, &str); 3] = [
    ("/files/report.pdf", "pdf"),
    ("/files/data.csv", "csv"),
    ("/app.zip", "zip"),
];

/// A small deterministic generator (xorshift64*): the same points on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One raw point as the module would write it.
struct Point {
    measurement: &'static str,
    time: i64,
    tags: BTreeMap<&'static str, String>,
    load_ms: Option<i64>,
    session_pages: Option<i64>,
    referrer: Option<String>,
}

impl Point {
    fn line(&self) -> String {
        let tags: String = self.tags.iter().map(|(k, v)| format!(",{k}={v}")).collect();
        let mut fields = "hits=1i".to_owned();
        if let Some(l) = self.load_ms {
            fields += &format!(",load_ms={l}i");
        }
        if let Some(s) = self.session_pages {
            fields += &format!(",session_pages={s}i");
        }
        if let Some(r) = &self.referrer {
            fields += &format!(",referrer=\"{r}\"");
        }
        format!("{}{tags} {fields} {}", self.measurement, self.time)
    }
    fn tag(&self, key: &str) -> String {
        self.tags.get(key).cloned().unwrap_or_default()
    }
}

/// `views` page views (and a tenth as many not-found pages and events) spread over
/// [`from`, `from + span`), with the tag shapes the module writes; popular pages first.
fn generate(seed: u64, views: usize, from: i64, span: i64) -> Vec<Point> {
    let mut random = Random(seed);
    let pages: Vec<String> = (0..30).map(|i| format!("/page/{i}")).collect();
    let mut points = Vec::new();
    for i in 0..views + views / 5 {
        // Unique timestamps: whole seconds, plus the point's index in nanoseconds.
        let time = from + (random.below((span / 1_000_000_000) as u64) as i64) * 1_000_000_000 + i as i64;
        let domain = random.pick(&DOMAINS).to_string();
        // Squaring a uniform index gives a long tail: page 0 is the most viewed.
        let page = pages[(random.below(30) * random.below(30) / 30) as usize].clone();
        let mut tags = BTreeMap::from([("domain", domain), ("page", page)]);
        if i >= views {
            let measurement = if i % 2 == 0 { "notfound" } else { "event" };
            if measurement == "event" {
                let name = *random.pick(&EVENT_NAMES);
                tags.insert("name", name.to_owned());
                if name == "outbound" {
                    tags.insert("target_domain", random.pick(&REFERRER_DOMAINS).to_string());
                } else if name == "download" && random.chance(70) {
                    let (file, extension) = *random.pick(&FILES);
                    tags.insert("file", file.to_owned());
                    tags.insert("extension", extension.to_owned());
                }
            } else if random.chance(50) {
                tags.insert("referrer_domain", random.pick(&REFERRER_DOMAINS).to_string());
            }
            points.push(Point {
                measurement,
                time,
                tags,
                load_ms: None,
                session_pages: None,
                referrer: None,
            });
            continue;
        }
        // Some browsers tell no platform or time zone: those views are in no such breakdown.
        let (platform, device) = *random.pick(&PLATFORMS);
        if random.chance(90) {
            tags.insert("platform", platform.to_owned());
        }
        tags.insert("device", device.to_owned());
        if random.chance(90) {
            tags.insert("browser", random.pick(&BROWSERS).to_string());
        }
        if random.chance(90) {
            tags.insert("tz", random.pick(&TIME_ZONES).to_string());
        }
        let mut referrer = None;
        if random.chance(40) {
            let host = random.pick(&REFERRER_DOMAINS).to_string();
            referrer = Some(format!("https://{host}/a/{}", random.below(3)));
            tags.insert("referrer_domain", host);
        }
        // Campaigns: a source alone, or a medium and a campaign without a source.
        if random.chance(10) {
            tags.insert("utm_source", random.pick(&["newsletter", "twitter"]).to_string());
        } else if random.chance(5) {
            tags.insert("utm_medium", "email".to_owned());
            tags.insert("utm_campaign", random.pick(&["spring", "autumn"]).to_string());
        }
        let session_pages = random
            .chance(90)
            .then(|| *random.pick(&[1, 1, 1, 1, 2, 2, 2, 3, 4, 7]));
        let load_ms = random.chance(80).then(|| 50 + random.below(3000) as i64);
        points.push(Point {
            measurement: "pageview",
            time,
            tags,
            load_ms,
            session_pages,
            referrer,
        });
    }
    points
}

fn write_all(influx: &InfluxDb, points: &[Point]) {
    for batch in points.chunks(1000) {
        let body: Vec<String> = batch.iter().map(Point::line).collect();
        assert_eq!(influx.write(&body.join("\n")), 204);
    }
}

type Sums = BTreeMap<String, i64>;

fn sums_by(points: &[&Point], key: impl Fn(&Point) -> String) -> Sums {
    let mut out = Sums::new();
    for p in points {
        *out.entry(key(p)).or_default() += 1;
    }
    out
}

/// `SELECT sum(field) ... GROUP BY <tag>` answered as tag value → sum.
fn stored_sums(influx: &InfluxDb, field: &str, source: &str, by: &str) -> Sums {
    stored_sums_where(influx, field, source, "time >= 0", by)
}

/// The same, of the points that meet `condition` (InfluxQL).
fn stored_sums_where(influx: &InfluxDb, field: &str, source: &str, condition: &str, by: &str) -> Sums {
    let q = format!(
        "SELECT sum(\"{field}\") AS s FROM {source} WHERE time >= 0 AND ({condition}) \
         GROUP BY \"{by}\""
    );
    influx
        .rows(&q)
        .iter()
        .filter(|r| !r["s"].is_null())
        .map(|r| {
            (
                r[by].as_str().unwrap_or_default().to_owned(),
                r["s"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// `SELECT sum(field) ... GROUP BY time(bucket)` answered as bucket start (ns) → sum.
fn stored_sums_per_bucket(
    influx: &InfluxDb,
    field: &str,
    source: &str,
    condition: &str,
    bucket: &str,
    (from, until): (i64, i64),
) -> Sums {
    let q = format!(
        "SELECT sum(\"{field}\") AS s FROM {source} WHERE time >= {from} AND time < {until} \
         AND ({condition}) GROUP BY time({bucket}) fill(none)"
    );
    influx
        .rows(&q)
        .iter()
        .map(|r| (r["time"].as_str().unwrap().to_owned(), r["s"].as_i64().unwrap()))
        .collect()
}

fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

fn of<'a>(points: &'a [Point], measurement: &str) -> Vec<&'a Point> {
    points.iter().filter(|p| p.measurement == measurement).collect()
}

/// Each hour's (or day's) sum, keyed by its start as InfluxDB writes it.
fn expected_per_bucket(points: &[&Point], bucket_ns: i64) -> Sums {
    sums_by(points, |p| rfc3339(p.time - p.time.rem_euclid(bucket_ns)))
}

/// Load-time percentiles per (domain, hour) as the hourly continuous query computes them, with
/// their sample counts.
fn expected_hourly_load(points: &[&Point]) -> BTreeMap<(String, i64), ([f64; 3], usize)> {
    let mut samples: BTreeMap<(String, i64), Vec<f64>> = BTreeMap::new();
    for p in points {
        if let Some(l) = p.load_ms {
            let hour = p.time - p.time.rem_euclid(HOUR_NS);
            samples.entry((p.tag("domain"), hour)).or_default().push(l as f64);
        }
    }
    samples
        .into_iter()
        .map(|(k, s)| {
            let n = s.len();
            (k, (median_p75_p95(s), n))
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn load_rows(influx: &InfluxDb, rp: &str) -> BTreeMap<(String, String), ([f64; 3], i64)> {
    influx
        .rows(&format!(
            "SELECT p50, p75, p95, samples FROM \"{rp}\".\"load_time\" WHERE time >= 0 GROUP BY \"domain\""
        ))
        .iter()
        .map(|r: &Row| {
            let key = (
                r["domain"].as_str().unwrap().to_owned(),
                r["time"].as_str().unwrap().to_owned(),
            );
            let p = |c: &str| r[c].as_f64().unwrap_or_else(|| panic!("no {c} in {r:?}"));
            (
                key,
                ([p("p50"), p("p75"), p("p95")], r["samples"].as_i64().unwrap()),
            )
        })
        .collect()
}

/// The breakdowns of page views the roll-ups keep, one per point: name, tags, and the condition
/// that reads a breakdown's points (the same on raw data and on both roll-ups).
const BREAKDOWNS: [(&str, &[&str], &str); 7] = [
    ("page", &["page"], "\"page\" != ''"),
    (
        "referrer domain",
        &["referrer_domain"],
        "\"referrer_domain\" != ''",
    ),
    (
        "campaign",
        &["utm_source", "utm_medium", "utm_campaign"],
        "\"utm_source\" != '' OR \"utm_medium\" != '' OR \"utm_campaign\" != ''",
    ),
    ("device", &["device"], "\"device\" != ''"),
    ("platform", &["platform"], "\"platform\" != ''"),
    ("browser", &["browser"], "\"browser\" != ''"),
    ("time zone", &["tz"], "\"tz\" != ''"),
];

/// A breakdown checked: measurement, name, tags, condition, and the raw points it sums.
type Breakdown<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, Vec<&'a Point>);

/// Points a roll-up per `bucket_ns` holds when it keeps the domain and `tags`: one per bucket,
/// domain and combination of the tags' values.
fn distinct_points(points: &[&Point], bucket_ns: i64, tags: &[&str]) -> usize {
    let keys: std::collections::BTreeSet<(i64, String, Vec<String>)> = points
        .iter()
        .map(|p| {
            (
                p.time - p.time.rem_euclid(bucket_ns),
                p.tag("domain"),
                tags.iter().map(|t| p.tag(t)).collect(),
            )
        })
        .collect();
    keys.len()
}

/// Points of `source` (`field` is on every one of them).
fn stored_points(influx: &InfluxDb, source: &str, field: &str) -> usize {
    influx
        .scalar(&format!(
            "SELECT count(\"{field}\") FROM {source} WHERE time >= 0"
        ))
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as usize
}

/// Checks both roll-ups against the raw points: every breakdown's sums, per value, per domain and
/// per bucket, with the same query on raw data; one breakdown per point; visits; load time.
fn check_rollups(influx: &InfluxDb, points: &[Point], from: i64, until: i64) {
    let views = of(points, "pageview");
    let first_pages: Vec<&Point> = views
        .iter()
        .copied()
        .filter(|p| p.session_pages == Some(1))
        .collect();
    let second_pages: Vec<&Point> = views
        .iter()
        .copied()
        .filter(|p| p.session_pages == Some(2))
        .collect();

    for (rp, bucket_ns) in [("analytics_1h", HOUR_NS), ("analytics_1d", DAY_NS)] {
        let mut breakdowns: Vec<Breakdown> = BREAKDOWNS
            .iter()
            .map(|&(name, tags, condition)| {
                let having: Vec<&Point> = views
                    .iter()
                    .copied()
                    .filter(|p| tags.iter().any(|t| !p.tag(t).is_empty()))
                    .collect();
                ("pageview", name, tags, condition, having)
            })
            .collect();
        let not_found: &[&str] = &["page", "referrer_domain"];
        breakdowns.push((
            "notfound",
            "page and referrer",
            not_found,
            "time >= 0",
            of(points, "notfound"),
        ));
        // Events: by name, and the script's own by their detail (points without a name).
        let events = of(points, "event");
        let having = |tag: &str| -> Vec<&Point> {
            events
                .iter()
                .copied()
                .filter(|p| !p.tag(tag).is_empty())
                .collect()
        };
        breakdowns.push(("event", "name", &["name"], "\"name\" != ''", events.clone()));
        breakdowns.push((
            "event",
            "target domain",
            &["target_domain"],
            "\"target_domain\" != ''",
            having("target_domain"),
        ));
        breakdowns.push((
            "event",
            "file",
            &["file", "extension"],
            "\"file\" != ''",
            having("file"),
        ));

        let mut points_per_measurement: BTreeMap<&str, usize> = BTreeMap::new();
        for (measurement, name, tags, condition, raw) in &breakdowns {
            let source = format!("\"{rp}\".\"{measurement}\"");
            let raw_source = format!("\"autogen\".\"{measurement}\"");
            assert!(!raw.is_empty(), "{measurement} {name}: no raw points");
            for key in tags.iter().chain(&["domain"]) {
                let want = sums_by(raw, |p| p.tag(key));
                assert_eq!(
                    stored_sums_where(influx, "hits", &source, condition, key),
                    want,
                    "{source}, {name}, by {key}"
                );
                // The same query on the raw points: the test wrote what it thinks it wrote, and
                // the query reads one breakdown on raw data as on the roll-ups.
                assert_eq!(
                    stored_sums_where(influx, "hits", &raw_source, condition, key),
                    want,
                    "raw {measurement}, {name}, by {key}"
                );
            }
            for (bucket, ns) in [("1h", HOUR_NS), ("1d", DAY_NS)] {
                if ns < bucket_ns {
                    continue;
                }
                assert_eq!(
                    stored_sums_per_bucket(influx, "hits", &source, condition, bucket, (from, until)),
                    expected_per_bucket(raw, ns),
                    "{source}, {name}, per {bucket}"
                );
            }
            *points_per_measurement.entry(measurement).or_default() += distinct_points(raw, bucket_ns, tags);
        }
        // Each point carries its domain and one breakdown: as many points as the breakdowns
        // have distinct values per bucket, not one per combination of every tag.
        for (measurement, want) in points_per_measurement {
            let source = format!("\"{rp}\".\"{measurement}\"");
            assert_eq!(stored_points(influx, &source, "hits"), want, "points in {source}");
        }

        let visit = format!("\"{rp}\".\"visit\"");
        assert_eq!(
            stored_sums_where(influx, "visits", &visit, "\"page\" != ''", "page"),
            sums_by(&first_pages, |p| p.tag("page")),
            "{visit}: visits (entry pages)"
        );
        assert_eq!(
            stored_sums_where(influx, "visits", &visit, "\"page\" != ''", "domain"),
            sums_by(&first_pages, |p| p.tag("domain")),
            "{visit}: visits per domain"
        );
        assert_eq!(
            stored_sums_where(influx, "continued", &visit, "\"page\" != ''", "domain"),
            sums_by(&second_pages, |p| p.tag("domain")),
            "{visit}: continued"
        );
        assert_eq!(
            stored_points(influx, &visit, "visits"),
            distinct_points(&first_pages, bucket_ns, &["page"]),
            "points of {visit} with visits"
        );
    }

    // Load time per hour: exactly the percentiles of that hour's samples.
    let hourly = expected_hourly_load(&views);
    let stored_hourly = load_rows(influx, "analytics_1h");
    assert_eq!(stored_hourly.len(), hourly.len(), "hourly load_time points");
    for ((domain, hour), (want, samples)) in &hourly {
        let (seen, seen_samples) = stored_hourly[&(domain.clone(), rfc3339(*hour))];
        assert_eq!(seen_samples, *samples as i64, "{domain} {}", rfc3339(*hour));
        assert!(
            seen.iter().zip(want).all(|(a, b)| close(*a, *b)),
            "{domain} {}: {seen:?} instead of {want:?}",
            rfc3339(*hour)
        );
    }
    // Per day: the hourly values weighted by their samples (an approximation of the day's own
    // percentiles, documented as one), and the exact number of samples.
    let mut daily: BTreeMap<(String, String), ([f64; 3], i64)> = BTreeMap::new();
    for ((domain, hour), (p, samples)) in &hourly {
        let day = rfc3339(hour - hour.rem_euclid(DAY_NS));
        let entry = daily.entry((domain.clone(), day)).or_insert(([0.0; 3], 0));
        for (sum, v) in entry.0.iter_mut().zip(p) {
            *sum += v * *samples as f64;
        }
        entry.1 += *samples as i64;
    }
    let stored_daily = load_rows(influx, "analytics_1d");
    assert_eq!(stored_daily.len(), daily.len(), "daily load_time points");
    for (key, (weighted, samples)) in &daily {
        let want = weighted.map(|w| w / *samples as f64);
        let (seen, seen_samples) = stored_daily[key];
        assert_eq!(seen_samples, *samples, "{key:?}");
        assert!(
            seen.iter().zip(&want).all(|(a, b)| close(*a, *b)),
            "{key:?}: {seen:?} instead of {want:?}"
        );
    }
}

fn continuous_query_names(influx: &InfluxDb) -> Vec<String> {
    let reply = influx.query("SHOW CONTINUOUS QUERIES");
    let mut names = Vec::new();
    for series in reply["results"][0]["series"].as_array().into_iter().flatten() {
        if series["name"] == influx.database.as_str() {
            for row in series["values"].as_array().into_iter().flatten() {
                names.push(row[0].as_str().unwrap().to_owned());
            }
        }
    }
    names
}

#[test]
fn backfilled_rollups_hold_the_raw_sums_per_hour_day_and_tag() {
    let influx = InfluxDb::start("analytics");
    // Four whole days, ending three days ago: older than any continuous query's window, so only
    // the back-fill rolls them up.
    let today = now_ns() - now_ns().rem_euclid(DAY_NS);
    let from = today - 7 * DAY_NS;
    let until = from + 4 * DAY_NS;
    let points = generate(0x5EED, 6000, from, until - from);
    write_all(&influx, &points);
    // A continuous query of the earlier recipe, which kept every tag: the installer drops it, or
    // it would go on writing next to the new ones.
    influx.query(
        "CREATE CONTINUOUS QUERY \"analytics_1h_pageview\" ON \"analytics\" BEGIN \
         SELECT sum(\"hits\") AS \"hits\" INTO \"analytics\".\"autogen\".\"pageview_all\" \
         FROM \"analytics\".\"autogen\".\"pageview\" GROUP BY time(1h), * END",
    );
    assert_eq!(continuous_query_names(&influx), ["analytics_1h_pageview"]);

    let installed = influx.run_rollups_script(&[]);
    assert!(installed.contains("raw data in \"autogen\""), "{installed}");
    // Again: nothing changes, nothing fails.
    influx.run_rollups_script(&[]);
    let mut names = continuous_query_names(&influx);
    names.sort();
    assert_eq!(
        names,
        [
            "analytics_1d_event",
            "analytics_1d_event_file",
            "analytics_1d_event_target_domain",
            "analytics_1d_load_time",
            "analytics_1d_notfound",
            "analytics_1d_pageview_browser",
            "analytics_1d_pageview_campaign",
            "analytics_1d_pageview_device",
            "analytics_1d_pageview_page",
            "analytics_1d_pageview_platform",
            "analytics_1d_pageview_referrer_domain",
            "analytics_1d_pageview_tz",
            "analytics_1d_visit",
            "analytics_1h_event",
            "analytics_1h_event_file",
            "analytics_1h_event_target_domain",
            "analytics_1h_load_time",
            "analytics_1h_notfound",
            "analytics_1h_pageview_browser",
            "analytics_1h_pageview_campaign",
            "analytics_1h_pageview_device",
            "analytics_1h_pageview_page",
            "analytics_1h_pageview_platform",
            "analytics_1h_pageview_referrer_domain",
            "analytics_1h_pageview_tz",
            "analytics_1h_visit_continued",
            "analytics_1h_visit_visits",
        ]
    );
    let policies = influx.rows("SHOW RETENTION POLICIES");
    let policy = |name: &str| {
        policies
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {policies:?}"))
            .clone()
    };
    assert_eq!(policy("analytics_1h")["duration"], "9600h0m0s");
    assert_eq!(policy("analytics_1d")["duration"], "0s");
    assert_eq!(
        policy("autogen")["default"],
        true,
        "the raw policy stays the default"
    );

    let backfilled = influx.run_rollups_script(&["--backfill", "10d"]);
    assert!(backfilled.contains("back-filled 11 day(s)"), "{backfilled}");
    check_rollups(&influx, &points, from, until);

    // A second back-fill writes the same sums over them: nothing is counted twice.
    influx.run_rollups_script(&["--backfill", "10d"]);
    check_rollups(&influx, &points, from, until);
}

/// The installed continuous queries themselves (not only their bodies, as the back-fill runs
/// them) roll up the last hours: InfluxDB runs each once as soon as it is created, over its
/// `RESAMPLE ... FOR` window, up to the start of the current hour.
#[test]
fn the_continuous_queries_roll_up_the_last_hours_by_themselves() {
    let influx = InfluxDb::start("analytics");
    let hour = now_ns() - now_ns().rem_euclid(HOUR_NS);
    let from = hour - 4 * HOUR_NS;
    let until = hour - HOUR_NS;
    let points = generate(0xC0FFEE, 1500, from, until - from);
    write_all(&influx, &points);
    influx.run_rollups_script(&[]);

    let views = of(&points, "pageview");
    let first_pages: Vec<&Point> = views
        .iter()
        .copied()
        .filter(|p| p.session_pages == Some(1))
        .collect();
    let hourly_load = expected_hourly_load(&views);
    // (what, seen, wanted): InfluxDB runs the continuous queries one after the other, so each
    // is waited for.
    let checks = || -> Vec<(String, Sums, Sums)> {
        let mut checks = vec![
            (
                "page views per hour".to_owned(),
                stored_sums_per_bucket(
                    &influx,
                    "hits",
                    "\"analytics_1h\".\"pageview\"",
                    "\"page\" != ''",
                    "1h",
                    (from, until),
                ),
                expected_per_bucket(&views, HOUR_NS),
            ),
            (
                "page views per page".to_owned(),
                stored_sums_where(
                    &influx,
                    "hits",
                    "\"analytics_1h\".\"pageview\"",
                    "\"page\" != ''",
                    "page",
                ),
                sums_by(&views, |p| p.tag("page")),
            ),
            (
                "page views per device".to_owned(),
                stored_sums_where(
                    &influx,
                    "hits",
                    "\"analytics_1h\".\"pageview\"",
                    "\"device\" != ''",
                    "device",
                ),
                sums_by(&views, |p| p.tag("device")),
            ),
            (
                "visits per page".to_owned(),
                stored_sums(&influx, "visits", "\"analytics_1h\".\"visit\"", "page"),
                sums_by(&first_pages, |p| p.tag("page")),
            ),
            (
                "load-time samples per domain".to_owned(),
                stored_sums(&influx, "samples", "\"analytics_1h\".\"load_time\"", "domain"),
                sums_by(
                    &views
                        .iter()
                        .copied()
                        .filter(|p| p.load_ms.is_some())
                        .collect::<Vec<_>>(),
                    |p| p.tag("domain"),
                ),
            ),
        ];
        for (measurement, key) in [
            ("pageview", "browser"),
            ("notfound", "page"),
            ("event", "name"),
            ("event", "target_domain"),
            ("event", "file"),
        ] {
            let having: Vec<&Point> = of(&points, measurement)
                .into_iter()
                .filter(|p| !p.tag(key).is_empty())
                .collect();
            checks.push((
                format!("{measurement} per {key}"),
                stored_sums_where(
                    &influx,
                    "hits",
                    &format!("\"analytics_1h\".\"{measurement}\""),
                    &format!("\"{key}\" != ''"),
                    key,
                ),
                sums_by(&having, |p| p.tag(key)),
            ));
        }
        checks
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let differing: Vec<_> = checks()
            .into_iter()
            .filter(|(_, seen, want)| seen != want)
            .collect();
        if differing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "not rolled up: {differing:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(load_rows(&influx, "analytics_1h").len(), hourly_load.len());
}

/// Bad arguments and a database that does not exist: a clear error, a failing exit status, and
/// nothing created.
#[test]
fn the_installer_refuses_what_it_cannot_apply() {
    let influx = InfluxDb::start("analytics");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/influx-rollups.sh");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("bash")
            .arg(&script)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let url = influx.url();
    for (args, status, says) in [
        (vec![url.as_str(), "missing"], 1, "database \"missing\""),
        (vec![url.as_str(), "missing", "autogen"], 1, "database not found"),
        (
            vec![url.as_str(), "analytics", "--backfill", "3 weeks"],
            2,
            "--backfill takes",
        ),
        (vec![url.as_str(), "analy\"tics"], 2, "may not hold"),
        (vec![url.as_str()], 2, "usage:"),
        (vec!["http://127.0.0.1:1", "analytics"], 1, "cannot reach"),
    ] {
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(status), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(continuous_query_names(&influx).is_empty());
    let policies = influx.rows("SHOW RETENTION POLICIES");
    assert_eq!(policies.len(), 1, "{policies:?}");
}
