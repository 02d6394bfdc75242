//! The Grafana dashboard (`dashboards/grafana/analytics.json`) against real data: page views,
//! not-found pages and events sent as beacons to a real nginx with the module, delivered by its
//! HTTP sink to a real InfluxDB 1.6. Every query of every panel is run with its template
//! variables filled in the way Grafana fills them for InfluxQL, on the raw points and on both
//! roll-ups (`scripts/influx-rollups.sh`), for each domain and for all; its numbers must be the
//! ones sent, and a query that InfluxDB refuses fails the test.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::influxdb::{median_p75_p95, InfluxDb, Row};
use common::{http, Nginx};
use serde_json::Value;

const DASHBOARD: &str = include_str!("../dashboards/grafana/analytics.json");
const DOMAINS: [&str; 2] = ["example.com", "shop.example.org"];

/// A page view as the browser sends it: (domain, page with its query string, referrer, platform,
/// utcoffset, load_ms, session_pages).
type SentView = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    i32,
    Option<u32>,
    Option<u32>,
);

const NEWSLETTER: &str = "/?utm_source=newsletter&utm_medium=email&utm_campaign=launch";
const NEWS_1: &str = "https://news.example.org/story/1";
const NEWS_2: &str = "https://news.example.org/story/2?from=top";
const REDDIT: &str = "https://www.reddit.com/r/rust/comments/abc/";
const SEARCH: &str = "https://search.example.net/results";

const VIEWS: &[SentView] = &[
    (
        "example.com",
        NEWSLETTER,
        Some(NEWS_1),
        "Linux x86_64",
        -60,
        Some(100),
        Some(1),
    ),
    (
        "example.com",
        NEWSLETTER,
        Some(NEWS_1),
        "Win32",
        -60,
        Some(200),
        Some(1),
    ),
    (
        "example.com",
        "/",
        Some(NEWS_2),
        "iPhone",
        300,
        Some(300),
        Some(1),
    ),
    (
        "example.com",
        "/",
        Some(REDDIT),
        "MacIntel",
        0,
        Some(400),
        Some(2),
    ),
    ("example.com", "/", None, "Linux x86_64", -60, Some(500), Some(3)),
    (
        "example.com",
        "/?utm_source=twitter",
        Some(REDDIT),
        "Linux x86_64",
        -60,
        Some(600),
        Some(1),
    ),
    (
        "example.com",
        "/blog/hello",
        None,
        "Linux x86_64",
        -60,
        Some(700),
        Some(2),
    ),
    (
        "example.com",
        "/blog/hello",
        Some(SEARCH),
        "Linux armv8l",
        -120,
        Some(800),
        Some(1),
    ),
    (
        "example.com",
        "/blog/hello",
        None,
        "Linux x86_64",
        -60,
        Some(900),
        Some(2),
    ),
    (
        "example.com",
        "/blog/hello",
        None,
        "Linux x86_64",
        -60,
        Some(1000),
        Some(4),
    ),
    ("example.com", "/about", None, "Linux x86_64", -60, None, Some(1)),
    ("example.com", "/about", None, "Win32", 300, None, None),
    (
        "shop.example.org",
        "/cart",
        None,
        "Linux x86_64",
        -60,
        Some(50),
        Some(1),
    ),
    (
        "shop.example.org",
        "/cart",
        None,
        "Linux x86_64",
        -60,
        Some(50),
        Some(2),
    ),
    (
        "shop.example.org",
        "/cart",
        None,
        "Linux x86_64",
        -60,
        Some(50),
        Some(3),
    ),
];

/// What the module stores for each referrer sent: (`referrer` field, `referrer_domain` tag).
fn stored_referrer(sent: &str) -> (&'static str, &'static str) {
    match sent {
        NEWS_1 => (NEWS_1, "news.example.org"),
        NEWS_2 => ("https://news.example.org/story/2", "news.example.org"),
        REDDIT => ("https://www.reddit.com/r/rust", "www.reddit.com"),
        SEARCH => (SEARCH, "search.example.net"),
        other => panic!("no stored form for {other}"),
    }
}

/// What the module stores for each platform sent: (`platform` tag, `device` tag).
fn stored_platform(sent: &str) -> (&'static str, &'static str) {
    match sent {
        "Linux x86_64" => ("Linux", "desktop"),
        "Win32" => ("Windows", "desktop"),
        "iPhone" => ("iOS", "mobile"),
        "MacIntel" => ("macOS", "desktop"),
        "Linux armv8l" => ("Android", "mobile"),
        other => panic!("no stored form for {other}"),
    }
}

/// Not-found pages: (domain, page, referrer).
const NOT_FOUND: &[(&str, &str, Option<&str>)] = &[
    ("example.com", "/old-page", Some(NEWS_1)),
    ("example.com", "/old-page", Some(NEWS_1)),
    ("example.com", "/missing", None),
    ("shop.example.org", "/gone", None),
];

/// Custom events: (domain, name, page).
const EVENTS: &[(&str, &str, &str)] = &[
    ("example.com", "signup", "/"),
    ("example.com", "signup", "/"),
    ("example.com", "video-play", "/blog/hello"),
    ("shop.example.org", "add-to-cart", "/cart"),
];

/// The browser script's own events: (domain, page, kind, target domain or file).
const SCRIPT_EVENTS: &[(&str, &str, &str, &str)] = &[
    ("example.com", "/", "outbound", "docs.example.org"),
    ("example.com", "/blog/hello", "outbound", "docs.example.org"),
    ("example.com", "/blog/hello", "download", "/files/report.pdf"),
    ("shop.example.org", "/cart", "outbound", "pay.example.net"),
];

fn script_event_beacon(&(domain, page, kind, value): &(&str, &str, &str, &str)) -> String {
    let detail = if kind == "outbound" { "h" } else { "file" };
    serde_json::json!({"d": domain, "g": page, "t": kind, detail: value}).to_string()
}

fn beacon(view: &SentView) -> String {
    let (domain, page, referrer, platform, utcoffset, load_ms, session_pages) = *view;
    let mut body = serde_json::json!({"d": domain, "g": page, "p": platform, "z": utcoffset});
    if let Some(r) = referrer {
        body["r"] = r.into();
    }
    if let Some(l) = load_ms {
        body["l"] = l.into();
    }
    if let Some(s) = session_pages {
        body["s"] = s.into();
    }
    body.to_string()
}

/// The domain filter a test asks of the dashboard: one domain, or "All".
#[derive(Clone, Copy, Debug)]
enum DomainChoice {
    One(&'static str),
    All,
}

impl DomainChoice {
    fn admits(self, domain: &str) -> bool {
        match self {
            DomainChoice::One(d) => d == domain,
            DomainChoice::All => true,
        }
    }
}

type Counts<K> = BTreeMap<K, i64>;

/// What every panel should show for a domain choice, worked out from what was sent.
#[derive(Debug, Default, PartialEq)]
struct Numbers {
    views: i64,
    visits: i64,
    continued: i64,
    pages: Counts<String>,
    entry_pages: Counts<String>,
    referrer_domains: Counts<String>,
    referrers: Counts<String>,
    campaigns: Counts<(String, String, String)>,
    devices: Counts<String>,
    platforms: Counts<String>,
    browsers: Counts<String>,
    time_zones: Counts<String>,
    not_found: Counts<(String, String)>,
    events: Counts<String>,
    outbound: Counts<String>,
    downloads: Counts<(String, String)>,
}

/// A page's path and its campaign tags, as the module splits the page sent.
fn page_and_campaign(sent: &str) -> (String, (String, String, String)) {
    let (path, query) = sent.split_once('?').unwrap_or((sent, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or("")
            .to_owned()
    };
    (
        path.to_owned(),
        (param("utm_source"), param("utm_medium"), param("utm_campaign")),
    )
}

fn expected(choice: DomainChoice) -> Numbers {
    let mut n = Numbers::default();
    for view in VIEWS.iter().filter(|v| choice.admits(v.0)) {
        let (_, page_sent, referrer, platform, utcoffset, _, session_pages) = *view;
        let (page, campaign) = page_and_campaign(page_sent);
        n.views += 1;
        *n.pages.entry(page.clone()).or_default() += 1;
        if session_pages == Some(1) {
            n.visits += 1;
            *n.entry_pages.entry(page).or_default() += 1;
        }
        if session_pages == Some(2) {
            n.continued += 1;
        }
        if let Some(sent) = referrer {
            let (url, domain) = stored_referrer(sent);
            *n.referrers.entry(url.to_owned()).or_default() += 1;
            *n.referrer_domains.entry(domain.to_owned()).or_default() += 1;
        }
        if campaign != Default::default() {
            *n.campaigns.entry(campaign).or_default() += 1;
        }
        let (platform, device) = stored_platform(platform);
        *n.platforms.entry(platform.to_owned()).or_default() += 1;
        *n.devices.entry(device.to_owned()).or_default() += 1;
        // Every beacon's `User-Agent` is a bare `Mozilla/5.0`: a browser, but none of the families.
        *n.browsers.entry("other".to_owned()).or_default() += 1;
        *n.time_zones.entry(utcoffset.to_string()).or_default() += 1;
    }
    for (_, page, referrer) in NOT_FOUND.iter().filter(|v| choice.admits(v.0)) {
        let referrer_domain = referrer.map(|r| stored_referrer(r).1).unwrap_or("");
        *n.not_found
            .entry((page.to_string(), referrer_domain.to_owned()))
            .or_default() += 1;
    }
    for (_, name, _) in EVENTS.iter().filter(|v| choice.admits(v.0)) {
        *n.events.entry(name.to_string()).or_default() += 1;
    }
    for (_, _, kind, value) in SCRIPT_EVENTS.iter().filter(|v| choice.admits(v.0)) {
        *n.events.entry(kind.to_string()).or_default() += 1;
        if *kind == "outbound" {
            *n.outbound.entry(value.to_string()).or_default() += 1;
        } else {
            let extension = value.rsplit_once('.').unwrap().1;
            *n.downloads
                .entry((value.to_string(), extension.to_owned()))
                .or_default() += 1;
        }
    }
    n
}

/// Load time as the panels show it: exact on raw points; on roll-ups, each domain's hourly values
/// (all samples fall in one hour here) averaged with their sample counts as weights.
fn expected_load_time(choice: DomainChoice, rollup: bool) -> Option<[f64; 3]> {
    let samples_of = |domain: &str| -> Vec<f64> {
        VIEWS
            .iter()
            .filter(|v| v.0 == domain)
            .filter_map(|v| v.5.map(f64::from))
            .collect()
    };
    let domains: Vec<&str> = DOMAINS.into_iter().filter(|d| choice.admits(d)).collect();
    if !rollup {
        let all: Vec<f64> = domains.iter().flat_map(|d| samples_of(d)).collect();
        return (!all.is_empty()).then(|| median_p75_p95(all));
    }
    let mut weighted = [0.0; 3];
    let mut total = 0.0;
    for d in domains {
        let samples = samples_of(d);
        if samples.is_empty() {
            continue;
        }
        let weight = samples.len() as f64;
        for (w, p) in weighted.iter_mut().zip(median_p75_p95(samples)) {
            *w += p * weight;
        }
        total += weight;
    }
    (total > 0.0).then(|| weighted.map(|w| w / total))
}

/// Grafana's `escapeRegex`, which it applies to a variable's value inside an InfluxQL regex when
/// the variable can be "All" or multi-valued.
fn grafana_escape_regex(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if r"\^$*+?.()|[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The values Grafana gives a panel's template variables for one view of the dashboard.
struct Variables {
    rp: String,
    domain: DomainChoice,
    /// `$timeFilter`, as Grafana writes it for InfluxQL.
    time_filter: String,
    from_ms: u128,
    to_ms: u128,
    interval: &'static str,
    interval_ms: u64,
}

impl Variables {
    /// Fills in a query as Grafana's InfluxDB data source does: `$timeFilter`, `$__interval`,
    /// `$__interval_ms`, `$__from`, `$__to`, and the dashboard's own variables (the "All" value of
    /// `domain` is its custom `allValue`, `.*`, which Grafana does not escape). Panics on a
    /// variable it does not know.
    fn interpolate(&self, query: &str, all_value: &str) -> String {
        let domain = match self.domain {
            DomainChoice::One(d) => grafana_escape_regex(d),
            DomainChoice::All => all_value.to_owned(),
        };
        let values: [(&str, String); 7] = [
            ("timeFilter", self.time_filter.clone()),
            ("__interval_ms", self.interval_ms.to_string()),
            ("__interval", self.interval.to_owned()),
            ("__from", self.from_ms.to_string()),
            ("__to", self.to_ms.to_string()),
            ("domain", domain),
            ("rp", self.rp.clone()),
        ];
        let mut out = String::new();
        let mut rest = query;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, skip) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').expect("closing brace");
                (&braced[..end], end + 2)
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            if name.is_empty() {
                // A regex anchor (`/^...$/`), not a variable.
                out.push('$');
                rest = after;
                continue;
            }
            let value = values
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("unknown variable ${name} in {query}"));
            out.push_str(&value.1);
            rest = &after[skip..];
        }
        out.push_str(rest);
        out
    }
}

fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            found.extend(panel["panels"].as_array().into_iter().flatten());
        } else {
            found.push(panel);
        }
    }
    found
}

fn text(row: &Row, column: &str) -> String {
    match row.get(column) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => panic!("{column} is not text: {other} in {row:?}"),
    }
}

fn number(row: &Row, column: &str) -> Option<f64> {
    row.get(column).and_then(Value::as_f64)
}

/// A count from a sum: InfluxDB answers whole numbers for sums of integer fields.
fn count(row: &Row, column: &str) -> i64 {
    let v = number(row, column).unwrap_or_else(|| panic!("no {column} in {row:?}"));
    assert_eq!(v.fract(), 0.0, "{column} is not a count in {row:?}");
    v as i64
}

fn total(rows: &[Row], column: &str) -> i64 {
    rows.iter()
        .filter(|r| number(r, column).is_some())
        .map(|r| count(r, column))
        .sum()
}

fn counts_by(rows: &[Row], key: &str, value: &str) -> Counts<String> {
    let mut out = Counts::new();
    for row in rows.iter().filter(|r| number(r, value).is_some()) {
        *out.entry(text(row, key)).or_default() += count(row, value);
    }
    out
}

fn counts_by_2(rows: &[Row], keys: [&str; 2], value: &str) -> Counts<(String, String)> {
    let mut out = Counts::new();
    for row in rows.iter().filter(|r| number(r, value).is_some()) {
        *out.entry((text(row, keys[0]), text(row, keys[1]))).or_default() += count(row, value);
    }
    out
}

fn assert_close(seen: Option<f64>, want: f64, what: &str) {
    let seen = seen.unwrap_or_else(|| panic!("{what}: no value"));
    assert!((seen - want).abs() < 1e-9, "{what}: {seen} instead of {want}");
}

/// Checks what one panel's queries answered against what was sent. Every panel of the dashboard
/// needs an arm here: a new panel without one fails the test.
fn check_panel(title: &str, rows: &[Row], want: &Numbers, load: Option<[f64; 3]>, context: &str) {
    let what = format!("{title} ({context})");
    match title {
        "Page views and visits" => {
            assert_eq!(total(rows, "page views"), want.views, "{what}");
            assert_eq!(total(rows, "visits"), want.visits, "{what}");
        }
        // Grafana joins the queries' rows on their time and divides: each query must answer one
        // row, all stamped alike.
        "Visits, pages per visit, bounce (estimates)" => {
            assert_eq!(total(rows, "page views"), want.views, "{what}");
            assert_eq!(total(rows, "visits"), want.visits, "{what}");
            assert_eq!(total(rows, "continued"), want.continued, "{what}");
            let stamps: Vec<&Value> = rows.iter().map(|r| &r["time"]).collect();
            assert!(
                stamps.iter().all(|t| *t == "1970-01-01T00:00:00Z"),
                "{what}: {stamps:?}"
            );
            let visit_rows = rows.iter().filter(|r| number(r, "visits").is_some()).count();
            assert_eq!(visit_rows, usize::from(want.visits > 0), "{what}: {rows:?}");
        }
        "Top pages" => assert_eq!(counts_by(rows, "page", "views"), want.pages, "{what}"),
        "Entry pages" => assert_eq!(counts_by(rows, "page", "entries"), want.entry_pages, "{what}"),
        "Referrer domains" => assert_eq!(
            counts_by(rows, "referrer_domain", "views"),
            want.referrer_domains,
            "{what}"
        ),
        // Grafana's "group by" transformation counts the rows: so does the test.
        "Full referrers (raw data)" => {
            assert_eq!(counts_by(rows, "referrer", "hits"), want.referrers, "{what}")
        }
        "Campaigns" => {
            let mut seen = Counts::new();
            for row in rows.iter().filter(|r| number(r, "views").is_some()) {
                let key = (
                    text(row, "utm_source"),
                    text(row, "utm_medium"),
                    text(row, "utm_campaign"),
                );
                *seen.entry(key).or_default() += count(row, "views");
            }
            assert_eq!(seen, want.campaigns, "{what}");
        }
        "Devices" => assert_eq!(counts_by(rows, "device", "views"), want.devices, "{what}"),
        "Platforms" => assert_eq!(counts_by(rows, "platform", "views"), want.platforms, "{what}"),
        "Browsers" => assert_eq!(counts_by(rows, "browser", "views"), want.browsers, "{what}"),
        "Time zones" => assert_eq!(counts_by(rows, "tz", "views"), want.time_zones, "{what}"),
        "Not-found pages" => assert_eq!(
            counts_by_2(rows, ["page", "referrer_domain"], "hits"),
            want.not_found,
            "{what}"
        ),
        "Custom events" => assert_eq!(counts_by(rows, "name", "hits"), want.events, "{what}"),
        "Outbound links" => assert_eq!(counts_by(rows, "target_domain", "hits"), want.outbound, "{what}"),
        "Downloads" => assert_eq!(
            counts_by_2(rows, ["file", "extension"], "hits"),
            want.downloads,
            "{what}"
        ),
        "Load time" | "Load time over the period" => {
            let values: Vec<&Row> = rows.iter().filter(|r| number(r, "median").is_some()).collect();
            match load {
                None => assert!(values.is_empty(), "{what}: {values:?}"),
                Some([median, p75, p95]) => {
                    assert_eq!(values.len(), 1, "{what}: {rows:?}");
                    assert_close(number(values[0], "median"), median, &format!("{what} median"));
                    assert_close(number(values[0], "p75"), p75, &format!("{what} p75"));
                    assert_close(number(values[0], "p95"), p95, &format!("{what} p95"));
                }
            }
        }
        other => panic!("the dashboard has a panel \"{other}\" that this test does not check"),
    }
}

/// Runs every panel's queries with `variables` and checks them against `want`.
fn check_dashboard(
    influx: &InfluxDb,
    dashboard: &Value,
    variables: &Variables,
    want: &Numbers,
    load: Option<[f64; 3]>,
) -> usize {
    let all_value = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "domain")
        .and_then(|v| v["allValue"].as_str())
        .expect("the domain variable's allValue");
    let context = format!(
        "rp {}, domain {:?}, {}",
        variables.rp, variables.domain, variables.time_filter
    );
    let mut queries = 0;
    for panel in panels(dashboard) {
        let title = panel["title"].as_str().unwrap();
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {title} has no query");
        let mut rows = Vec::new();
        for target in targets {
            assert_eq!(target["rawQuery"], true, "{title}");
            let query = variables.interpolate(target["query"].as_str().unwrap(), all_value);
            rows.extend(influx.rows(&query));
            queries += 1;
        }
        check_panel(title, &rows, want, load, &context);
    }
    queries
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// All beacons are sent within one hour (and so one day): roll-ups per hour then hold one bucket
/// per series, and the test knows their load-time percentiles exactly.
fn wait_clear_of_the_hour_boundary() {
    let into_hour = (now_ms() / 1000 % 3600) as u64;
    if into_hour > 3600 - 60 {
        std::thread::sleep(Duration::from_secs(3600 - into_hour + 2));
    }
}

/// The views of the dashboard a test looks at: the last 7 days as Grafana writes a relative
/// range, and an absolute range (`$__from`/`$__to`) around the data.
fn views_of(rp: &str, domain: DomainChoice, seeded_from_ms: u128) -> Vec<Variables> {
    let to_ms = now_ms() + 60_000;
    let from_ms = seeded_from_ms - 2 * 86_400_000;
    vec![
        Variables {
            rp: rp.to_owned(),
            domain,
            time_filter: "time >= now() - 7d and time <= now()".to_owned(),
            from_ms: to_ms - 7 * 86_400_000,
            to_ms,
            interval: "1h",
            interval_ms: 3_600_000,
        },
        Variables {
            rp: rp.to_owned(),
            domain,
            time_filter: format!("time >= {from_ms}ms and time <= {to_ms}ms"),
            from_ms,
            to_ms,
            interval: "1h",
            interval_ms: 3_600_000,
        },
    ]
}

#[test]
fn every_panel_shows_the_numbers_sent_through_the_module() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    // Imported, the dashboard asks for its InfluxDB data source; provisioned, it finds it
    // through the variable of the same name. Every query goes there.
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_INFLUXDB");
    assert_eq!(dashboard["__inputs"][0]["pluginId"], "influxdb");
    for panel in panels(&dashboard) {
        for target in panel["targets"].as_array().unwrap() {
            assert_eq!(
                target["datasource"]["uid"], "${DS_INFLUXDB}",
                "{}",
                panel["title"]
            );
        }
    }

    // Every panel this test checks is there (check_panel fails on one it does not know).
    let titles: Vec<&str> = panels(&dashboard)
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for title in [
        "Devices",
        "Platforms",
        "Browsers",
        "Custom events",
        "Outbound links",
        "Downloads",
    ] {
        assert!(titles.contains(&title), "no panel \"{title}\" in {titles:?}");
    }

    let influx = InfluxDb::start("analytics");
    let nginx = Nginx::start(&format!(
        r#"
    analytics_sink {url} flush=100ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains {domains}; }}
        location = /status {{ analytics_status; }}
    }}"#,
        url = influx.write_url(),
        domains = DOMAINS.join(" "),
    ));

    wait_clear_of_the_hour_boundary();
    let seeded_from_ms = now_ms();
    let mut beacons: Vec<String> = VIEWS.iter().map(beacon).collect();
    for (domain, page, referrer) in NOT_FOUND {
        let mut body = serde_json::json!({"d": domain, "g": page, "t": "notfound", "p": "Linux x86_64"});
        if let Some(r) = referrer {
            body["r"] = (*r).into();
        }
        beacons.push(body.to_string());
    }
    for (domain, name, page) in EVENTS {
        beacons.push(serde_json::json!({"d": domain, "g": page, "t": "event", "n": name}).to_string());
    }
    beacons.extend(SCRIPT_EVENTS.iter().map(script_event_beacon));
    for body in &beacons {
        // A `User-Agent` that names no system or device: the platform each beacon sends decides.
        let headers = [("User-Agent", "Mozilla/5.0")];
        let answer = http(nginx.port, "POST", "/ping", &headers, body.as_bytes());
        assert_eq!(answer.status, 204, "{body}: {}", answer.text());
    }
    for (measurement, n) in [
        ("pageview", VIEWS.len()),
        ("notfound", NOT_FOUND.len()),
        ("event", EVENTS.len() + SCRIPT_EVENTS.len()),
    ] {
        let stored = influx.wait_for_scalar(
            &format!("SELECT sum(hits) FROM {measurement}"),
            n as i64,
            Duration::from_secs(30),
        );
        assert_eq!(
            stored,
            Some(n as i64),
            "{measurement}; nginx status: {}",
            nginx.status()
        );
    }
    assert_eq!(
        nginx.wait_for_written(beacons.len() as i64, Duration::from_secs(10))["lines_written"],
        beacons.len()
    );

    // The domain selector lists the domains, from the dashboard's own query.
    let domain_variable = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "domain")
        .expect("a domain variable");
    let listed: Vec<String> = influx
        .rows(domain_variable["query"].as_str().unwrap())
        .iter()
        .map(|r| text(r, "value"))
        .collect();
    assert_eq!(listed, DOMAINS);

    let choices = [
        DomainChoice::One("example.com"),
        DomainChoice::One("shop.example.org"),
        DomainChoice::All,
    ];
    let mut queries = 0;
    for choice in choices {
        for variables in views_of("autogen", choice, seeded_from_ms) {
            let load = expected_load_time(choice, false);
            queries += check_dashboard(&influx, &dashboard, &variables, &expected(choice), load);
        }
    }

    // The roll-ups: installed (their continuous queries start at once), then back-filled.
    influx.run_rollups_script(&[]);
    std::thread::sleep(Duration::from_secs(2));
    influx.run_rollups_script(&["--backfill", "1d"]);
    let rp_variable = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "rp")
        .expect("an rp variable");
    let policies: Vec<String> = influx
        .rows(rp_variable["query"].as_str().unwrap())
        .iter()
        .map(|r| text(r, "name"))
        .collect();
    assert_eq!(policies, ["autogen", "analytics_1h", "analytics_1d"]);
    for rp in ["analytics_1h", "analytics_1d"] {
        for choice in choices {
            for variables in views_of(rp, choice, seeded_from_ms) {
                let load = expected_load_time(choice, true);
                queries += check_dashboard(&influx, &dashboard, &variables, &expected(choice), load);
            }
        }
    }

    // A period without data shows nothing: every query honours $timeFilter.
    for rp in ["autogen", "analytics_1h", "analytics_1d"] {
        let to_ms = seeded_from_ms - 3 * 86_400_000;
        let from_ms = to_ms - 30 * 86_400_000;
        let variables = Variables {
            rp: rp.to_owned(),
            domain: DomainChoice::All,
            time_filter: format!("time >= {from_ms}ms and time <= {to_ms}ms"),
            from_ms,
            to_ms,
            interval: "12h",
            interval_ms: 43_200_000,
        };
        queries += check_dashboard(&influx, &dashboard, &variables, &Numbers::default(), None);
    }
    assert!(queries > 100, "{queries} queries run");
    nginx.assert_log_clean();
}
