//! The dashboard (`analytics_dashboard`) in real headless Chromium, served by the module from a real
//! nginx, reading a real InfluxDB 1.6 through a `proxy_pass` location: the InfluxDB is filled
//! through the module itself (beacons → HTTP sink → InfluxDB), and the numbers on the page must be
//! the seeded ones. Hostile values written by another client render as text.

mod common;

use std::time::Duration;

use common::chromium::{render, screenshot, Rendered};
use common::influxdb::InfluxDb;
use common::*;
use scraper::{Html, Selector};

/// nginx with a beacon location writing to `influx`, the dashboard, and the query location.
fn site(influx: &InfluxDb) -> Nginx {
    site_with(influx, "")
}

/// The same, with more parameters of `analytics_dashboard` (`options`).
fn site_with(influx: &InfluxDb, options: &str) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink {write} flush=100ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{
            analytics_beacon; analytics_domains example.com other.example;
            analytics_filter_bots off;
        }}
        location /analytics/ {{ analytics_dashboard query=/influx/query{options}; }}
        # What the README shows: InfluxDB's query API, read-only, behind the site's own protection.
        location = /influx/query {{
            limit_except GET {{ deny all; }}
            proxy_pass http://127.0.0.1:{http}/query;
        }}
        location = /status {{ analytics_status; }}
    }}"#,
        write = influx.write_url(),
        http = influx.http_port,
    ))
}

fn beacon(nginx: &Nginx, body: &str, times: usize) {
    for _ in 0..times {
        let r = nginx.beacon(body);
        assert_eq!(r.status, 204, "{body}: {}", r.text());
    }
}

/// Real browsers' `User-Agent`s (on Linux, as the beacons' platform says).
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/// A beacon sent `times` times by the browser whose `User-Agent` is `agent`.
fn beacon_from(nginx: &Nginx, agent: &str, body: &str, times: usize) {
    for _ in 0..times {
        let r = http(
            nginx.port,
            "POST",
            "/ping",
            &[("User-Agent", agent)],
            body.as_bytes(),
        );
        assert_eq!(r.status, 204, "{body}: {}", r.text());
    }
}

/// Page views, referrers, campaigns, not-found pages and events with known counts.
fn seed(nginx: &Nginx, influx: &InfluxDb) {
    let page = |g: &str, extra: &str| {
        format!(r#"{{"d":"example.com","g":"{g}","p":"Linux x86_64","z":-60{extra}}}"#)
    };
    beacon_from(nginx, FIREFOX, &page("/a", r#","s":1,"l":100"#), 3);
    beacon_from(nginx, FIREFOX, &page("/a", r#","s":2,"l":300"#), 2);
    beacon_from(
        nginx,
        CHROME,
        &page("/b", r#","s":1,"r":"https://news.example.org/x/y","l":200"#),
        3,
    );
    beacon_from(
        nginx,
        CHROME,
        &page(
            "/b?utm_source=news&utm_medium=email&utm_campaign=spring",
            r#","s":3"#,
        ),
        1,
    );
    beacon_from(
        nginx,
        FIREFOX,
        &page(
            "/c?utm_source=news&utm_medium=email&utm_campaign=spring",
            r#","r":"https://search.example.net/""#,
        ),
        2,
    );
    // 11 page views on example.com: /a 5, /b 4, /c 2; entries (s=1) 6: /a 3, /b 3; s=2: 2.
    // Browsers: Firefox 7 (/a, /c), Chrome 4 (/b).
    beacon(
        nginx,
        r#"{"d":"example.com","g":"/missing","t":"notfound","r":"https://old.example.com/link"}"#,
        2,
    );
    beacon(
        nginx,
        r#"{"d":"example.com","g":"/a","t":"event","n":"signup"}"#,
        3,
    );
    beacon(
        nginx,
        r#"{"d":"example.com","g":"/b","t":"event","n":"download"}"#,
        1,
    );
    // The browser script's own events: two clicks on a link to another site, one download (named
    // like the custom event above, told apart by its file).
    beacon(
        nginx,
        r#"{"d":"example.com","g":"/a","t":"outbound","h":"Docs.Example.org"}"#,
        2,
    );
    beacon(
        nginx,
        r#"{"domain":"example.com","page":"/a","type":"download","file":"/files/report.pdf"}"#,
        1,
    );
    beacon(nginx, r#"{"d":"other.example","g":"/elsewhere"}"#, 1);
    let stored = influx.wait_for_scalar("SELECT sum(hits) FROM pageview", 12, Duration::from_secs(30));
    assert_eq!(stored, Some(12), "nginx status: {}", nginx.status());
    let events = influx.wait_for_scalar("SELECT sum(hits) FROM event", 7, Duration::from_secs(30));
    assert_eq!(events, Some(7));
    let not_found = influx.wait_for_scalar("SELECT sum(hits) FROM notfound", 2, Duration::from_secs(30));
    assert_eq!(not_found, Some(2));
}

fn select<'a>(html: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    html.select(&Selector::parse(css).unwrap()).collect()
}

fn text(e: &scraper::ElementRef) -> String {
    e.text().collect::<String>().trim().to_owned()
}

/// The rows of one panel's table: its cells' text.
fn table(html: &Html, panel: &str) -> Vec<Vec<String>> {
    select(html, &format!("#{panel} tbody tr"))
        .iter()
        .map(|row| select_in(row, "td").iter().map(text).collect())
        .collect()
}

fn select_in<'a>(e: &scraper::ElementRef<'a>, css: &str) -> Vec<scraper::ElementRef<'a>> {
    e.select(&Selector::parse(css).unwrap()).collect()
}

fn metric(html: &Html, name: &str) -> String {
    select(html, &format!("#metric-{name} .n"))
        .first()
        .map(text)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn assert_clean(page: &Rendered) {
    assert!(page.console.is_empty(), "console messages: {:#?}", page.console);
    let html = Html::parse_document(&page.dom);
    let status = select(&html, "#status").first().map(text).unwrap_or_default();
    assert!(status.starts_with("Updated"), "status: {status:?}\n{}", page.dom);
}

#[test]
fn the_dashboard_shows_the_seeded_numbers() {
    let influx = InfluxDb::start("analytics");
    let nginx = site(&influx);
    seed(&nginx, &influx);
    let base = format!("http://127.0.0.1:{}/analytics/", nginx.port);

    let page = render(&format!("{base}#domain=example.com&period=today"));
    assert_clean(&page);
    let html = Html::parse_document(&page.dom);
    assert_eq!(metric(&html, "pageviews"), "11");
    assert_eq!(metric(&html, "visits"), "6");
    assert_eq!(metric(&html, "pages-per-visit"), "1.8");
    // 1 − 2 continued / 6 visits.
    assert_eq!(metric(&html, "bounce"), "67 %");
    // Load times 100 ×3, 300 ×2, 200 ×3.
    assert_eq!(metric(&html, "load-median"), "200 ms");
    assert_eq!(
        table(&html, "pages"),
        [row(&["/a", "5"]), row(&["/b", "4"]), row(&["/c", "2"])]
    );
    assert_eq!(table(&html, "entry"), [row(&["/a", "3"]), row(&["/b", "3"])]);
    assert_eq!(
        table(&html, "referrers"),
        [row(&["news.example.org", "3"]), row(&["search.example.net", "2"])]
    );
    assert_eq!(
        table(&html, "full-referrers"),
        [
            row(&["https://news.example.org/x/y", "3"]),
            row(&["https://search.example.net/", "2"])
        ]
    );
    assert_eq!(
        table(&html, "campaigns"),
        [row(&["news", "email", "spring", "3"])]
    );
    assert_eq!(table(&html, "devices"), [row(&["desktop", "11"])]);
    assert_eq!(table(&html, "platforms"), [row(&["Linux", "11"])]);
    assert_eq!(
        table(&html, "browsers"),
        [row(&["Firefox", "7"]), row(&["Chrome", "4"])]
    );
    assert_eq!(
        table(&html, "timezones"),
        [row(&["UTC+1 (Central Europe / West Africa)", "11"])]
    );
    assert_eq!(
        table(&html, "notfound"),
        [row(&["/missing", "old.example.com", "2"])]
    );
    // Equal counts keep InfluxDB's order (by name).
    assert_eq!(
        table(&html, "events"),
        [
            row(&["signup", "3"]),
            row(&["download", "2"]),
            row(&["outbound", "2"])
        ]
    );
    assert_eq!(table(&html, "outbound"), [row(&["docs.example.org", "2"])]);
    assert_eq!(
        table(&html, "downloads"),
        [row(&["/files/report.pdf", "pdf", "1"])]
    );
    // The chart's data: today's page views, per hour, add up to the total.
    let per_hour: u64 = select(&html, "#chart-table td.n")
        .iter()
        .map(|td| text(td).parse::<u64>().unwrap())
        .sum();
    assert_eq!(per_hour, 11);
    let domains: Vec<String> = select(&html, "#domain option").iter().map(text).collect();
    assert_eq!(domains, ["example.com", "other.example"]);

    // A filter from the URL (what a click on a value sets): page /b → its referrers only.
    let page = render(&format!("{base}#domain=example.com&period=today&f=page:%2Fb"));
    assert_clean(&page);
    let html = Html::parse_document(&page.dom);
    assert_eq!(metric(&html, "pageviews"), "4");
    assert_eq!(table(&html, "referrers"), [row(&["news.example.org", "3"])]);
    assert_eq!(table(&html, "browsers"), [row(&["Chrome", "4"])]);
    assert_eq!(table(&html, "events"), [row(&["download", "1"])]);
    assert!(table(&html, "outbound").is_empty());
    let filters: Vec<String> = select(&html, "#filters button").iter().map(text).collect();
    assert_eq!(filters, ["✕ Page: /b"]);

    // A browser filter (a click on Firefox).
    let page = render(&format!(
        "{base}#domain=example.com&period=today&f=browser:Firefox"
    ));
    assert_clean(&page);
    let html = Html::parse_document(&page.dom);
    assert_eq!(metric(&html, "pageviews"), "7");
    assert_eq!(table(&html, "pages"), [row(&["/a", "5"]), row(&["/c", "2"])]);
    let filters: Vec<String> = select(&html, "#filters button").iter().map(text).collect();
    assert_eq!(filters, ["✕ Browser: Firefox"]);

    // The other site, the 7-day view.
    let page = render(&format!("{base}#domain=other.example&period=7d"));
    assert_clean(&page);
    let html = Html::parse_document(&page.dom);
    assert_eq!(metric(&html, "pageviews"), "1");
    assert_eq!(table(&html, "pages"), [row(&["/elsewhere", "1"])]);

    let shots = target_dir().join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let url = format!("{base}#domain=example.com&period=today");
    screenshot(&url, &shots.join("desktop.png"), 1280, 2400);
    screenshot(&url, &shots.join("phone-360.png"), 360, 4000);
}

#[test]
fn the_dashboard_is_served_with_a_strict_policy_and_revalidated() {
    let influx = InfluxDb::start("analytics");
    let nginx = site(&influx);
    let page = http(nginx.port, "GET", "/analytics/", &[], b"");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("Content-Type"), Some("text/html; charset=utf-8"));
    let csp = page.header("Content-Security-Policy").expect("a CSP");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    // The module's own measurement names and the sink's database reach the page.
    let body = page.text();
    assert!(body.contains(r#"data-db="analytics""#), "{body}");
    assert!(body.contains(r#"data-pageview="pageview""#), "{body}");
    let etag = page.header("ETag").expect("an ETag").to_owned();
    let again = http(nginx.port, "GET", "/analytics/", &[("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304);
    for (path, kind) in [
        ("/analytics/app.js", "application/javascript"),
        ("/analytics/app.css", "text/css"),
    ] {
        let r = http(nginx.port, "GET", path, &[], b"");
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("Content-Type").unwrap().starts_with(kind), "{path}");
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    }
    assert_eq!(
        http(nginx.port, "GET", "/analytics/other.js", &[], b"").status,
        404
    );
    assert_eq!(http(nginx.port, "POST", "/analytics/", &[], b"x").status, 405);

    // A URI without its final `/` is redirected to it. nginx decodes the URI, so the Location is
    // escaped again: a `%0D%0A` in the request cannot add a header to the answer.
    let r = http(nginx.port, "GET", "/analytics/sub", &[], b"");
    assert_eq!((r.status, r.header("Location")), (301, Some("/analytics/sub/")));
    let r = http(nginx.port, "GET", "/analytics/a%0D%0ASet-Cookie:%20x=1", &[], b"");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Set-Cookie"), None);
    assert_eq!(
        r.header("Location"),
        Some("/analytics/a%0D%0ASet-Cookie%3A%20x%3D1/")
    );
}

/// Values no browser script of ours would send, written straight into InfluxDB as another client
/// could: markup, `javascript:` URLs, bidi overrides, very long strings. They must show as text.
#[test]
fn hostile_values_render_as_text() {
    let influx = InfluxDb::start("analytics");
    let nginx = site(&influx);
    let long = "x".repeat(5000);
    let hostile_page = r#"/<img src=x onerror="document.title='pwned'">"#;
    let tag = |v: &str| v.replace(' ', "\\ ").replace(',', "\\,").replace('=', "\\=");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let lines = [
        format!("pageview,domain=example.com,page={} hits=1i {now}", tag(hostile_page)),
        format!(
            "pageview,domain=example.com,page=/r,referrer_domain=javascript:alert(1) hits=1i,referrer=\"javascript:alert(document.domain)\" {}",
            now + 1
        ),
        format!("pageview,domain=example.com,page=/\u{202E}gpj.exe hits=1i {}", now + 2),
        format!("pageview,domain=example.com,page=/{long} hits=1i {}", now + 3),
        format!(
            "pageview,domain=example.com,page=/q,utm_source={} hits=1i {}",
            tag("<script>document.title='pwned'</script>"),
            now + 4
        ),
        format!(
            "event,domain=example.com,name={},page=/ hits=1i {}",
            tag("<svg onload=alert(1)>"),
            now + 5
        ),
        // A quote in a value must not end the InfluxQL string literal the page builds from it.
        format!("pageview,domain=example.com,page=/it's\\ a\\ \\'trap hits=1i {}", now + 6),
    ];
    assert_eq!(influx.write(&lines.join("\n")), 204);

    let base = format!("http://127.0.0.1:{}/analytics/", nginx.port);
    let page = render(&format!("{base}#domain=example.com&period=today"));
    assert_clean(&page);
    let html = Html::parse_document(&page.dom);
    assert_eq!(
        select(&html, "title").first().map(text).as_deref(),
        Some("Analytics")
    );
    assert!(select(&html, "img").is_empty(), "markup became elements");
    assert!(select(&html, "main script, main svg svg, #panels svg").is_empty());
    assert!(select(&html, "a").is_empty(), "no value may become a link");
    let cells: Vec<String> = select(&html, "td.v").iter().map(text).collect();
    for shown in [
        hostile_page,
        "javascript:alert(1)",
        "javascript:alert(document.domain)",
        "/\u{202E}gpj.exe",
        "<script>document.title='pwned'</script>",
        "<svg onload=alert(1)>",
    ] {
        assert!(
            cells.iter().any(|c| c == shown),
            "{shown:?} not shown as text in {cells:?}"
        );
    }
    assert!(
        cells.iter().any(|c| c.len() == 5001),
        "the long page is shown whole"
    );
    assert_eq!(metric(&html, "pageviews"), "6");

    // Filtering by the value with quotes and a backslash finds exactly its one point.
    let page = render(&format!(
        "{base}#domain=example.com&period=today&f=page:{}",
        "%2Fit's%20a%20%5C'trap"
    ));
    assert_clean(&page);
    let html = Html::parse_document(&page.dom);
    assert_eq!(metric(&html, "pageviews"), "1");
}

/// Long periods from the roll-ups: raw points of the last 20 days (written as the module writes
/// them), rolled up by `scripts/influx-rollups.sh --backfill 30d`; with `rollups=on` the 30-day
/// view reads `analytics_1h` and the 12-month view `analytics_1d`, and both show the raw totals,
/// top pages, browsers, events by name, outbound links and downloads; a filter (a second tag)
/// reads the raw data.
#[test]
fn long_periods_read_the_rollups_and_show_the_raw_numbers() {
    const DAY_NS: u128 = 86_400_000_000_000;
    let influx = InfluxDb::start("analytics");
    let nginx = site_with(&influx, " rollups=on");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let midnight = now - now % DAY_NS;
    // Days 2 to 20 ago, at 10:00 UTC and a few seconds: /a 3 views a day (each the first of a
    // visit), /b 2 (from news.example.org), /c 1 every other day.
    let mut lines = Vec::new();
    let (mut a, mut b, mut c) = (0, 0, 0);
    for day in 2..=20u128 {
        let at = midnight - day * DAY_NS + 10 * 3_600_000_000_000;
        let mut views = vec![("/a", 3, ",session_pages=1i", ""); 1];
        views.push((
            "/b",
            2,
            ",session_pages=2i,referrer=\"https://news.example.org/x\"",
            ",referrer_domain=news.example.org",
        ));
        if day % 2 == 0 {
            views.push(("/c", 1, "", ""));
            c += 1;
        }
        a += 3;
        b += 2;
        for (page, n, fields, tags) in views {
            for i in 0..n {
                lines.push(format!(
                    "pageview,browser=Firefox,device=desktop,domain=example.com,page={page},platform=Linux{tags},tz=-60 hits=1i,load_ms=200i{fields} {}",
                    at + (lines.len() as u128 + i) * 1_000_000_000
                ));
            }
        }
        // The browser script's own events: a click to another site and a download a day.
        let at = at + lines.len() as u128 * 1_000_000_000;
        lines.push(format!(
            "event,domain=example.com,name=outbound,page=/a,target_domain=docs.example.org hits=1i {at}"
        ));
        lines.push(format!(
            "event,domain=example.com,extension=pdf,file=/files/report.pdf,name=download,page=/a hits=1i {}",
            at + 1_000_000_000
        ));
    }
    let days = 19;
    assert_eq!(influx.write(&lines.join("\n")), 204);
    let total = a + b + c;
    assert_eq!((a, b, c, total), (57, 38, 10, 105));
    influx.run_rollups_script(&["--backfill", "30d"]);

    let base = format!("http://127.0.0.1:{}/analytics/", nginx.port);
    for (period, rollup) in [("30d", "analytics_1h"), ("12mo", "analytics_1d")] {
        let page = render(&format!("{base}#domain=example.com&period={period}"));
        assert_clean(&page);
        let html = Html::parse_document(&page.dom);
        let status = select(&html, "#status").first().map(text).unwrap_or_default();
        assert!(
            status.contains(&format!("from the {rollup} roll-up")),
            "{period}: {status:?}"
        );
        assert_eq!(metric(&html, "pageviews"), total.to_string(), "{period}");
        assert_eq!(metric(&html, "visits"), a.to_string(), "{period}");
        assert_eq!(
            table(&html, "pages"),
            [
                row(&["/a", &a.to_string()]),
                row(&["/b", &b.to_string()]),
                row(&["/c", &c.to_string()])
            ],
            "{period}"
        );
        assert_eq!(table(&html, "entry"), [row(&["/a", &a.to_string()])], "{period}");
        assert_eq!(
            table(&html, "referrers"),
            [row(&["news.example.org", &b.to_string()])],
            "{period}"
        );
        assert_eq!(
            table(&html, "devices"),
            [row(&["desktop", &total.to_string()])],
            "{period}"
        );
        assert_eq!(
            table(&html, "platforms"),
            [row(&["Linux", &total.to_string()])],
            "{period}"
        );
        assert_eq!(
            table(&html, "browsers"),
            [row(&["Firefox", &total.to_string()])],
            "{period}"
        );
        // The script's events count once by name, and once by their own detail.
        assert_eq!(
            table(&html, "events"),
            [
                row(&["download", &days.to_string()]),
                row(&["outbound", &days.to_string()])
            ],
            "{period}"
        );
        assert_eq!(
            table(&html, "outbound"),
            [row(&["docs.example.org", &days.to_string()])],
            "{period}"
        );
        assert_eq!(
            table(&html, "downloads"),
            [row(&["/files/report.pdf", "pdf", &days.to_string()])],
            "{period}"
        );
        let per_bucket: u64 = select(&html, "#chart-table td.n")
            .iter()
            .map(|td| text(td).parse::<u64>().unwrap())
            .sum();
        assert_eq!(per_bucket, total as u64, "{period}: the chart");
    }

    // A filter is a second tag, which no roll-up point carries: the raw data answer.
    let page = render(&format!("{base}#domain=example.com&period=30d&f=page:%2Fb"));
    assert_clean(&page);
    let html = Html::parse_document(&page.dom);
    let status = select(&html, "#status").first().map(text).unwrap_or_default();
    assert!(status.contains("read from the raw data"), "{status:?}");
    assert_eq!(metric(&html, "pageviews"), b.to_string());
    assert_eq!(
        table(&html, "referrers"),
        [row(&["news.example.org", &b.to_string()])]
    );
}
