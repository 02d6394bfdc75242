//! The browser script in a real browser (headless Chromium), served by the module from a real
//! nginx: what arrives at a UDP listener for page loads, navigations, single-page-app route
//! changes, events and not-found pages, and that nothing arrives when the visitor opts out.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn chromium() -> &'static str {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium is required (scripts/install-deps.sh test installs it)")
}

/// A headless Chromium showing `url` (and whatever it navigates to) in real time, until dropped.
struct Browser {
    child: std::process::Child,
    _profile: tempfile::TempDir,
}

fn browse(url: &str) -> Browser {
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own process group, so that dropping it stops its helper processes too.
        .process_group(0)
        .spawn()
        .expect("run chromium");
    Browser {
        child,
        _profile: profile,
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A test page: `setup` runs before the analytics script (to fake a browser setting), the script
/// tag gets `attributes`, and `after` runs once the page has loaded and the beacon is out.
fn page(www: &Path, name: &str, setup: &str, attributes: &str, after: &str) {
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{name}</title>
<script>{setup}</script>
<script defer src="/a.js" {attributes}></script>
<script>addEventListener("load", function () {{ setTimeout(function () {{ {after} }}, 300); }});</script>
</head><body>{name}</body></html>"#
    );
    std::fs::write(www.join(name), html).unwrap();
}

fn site(udp: &UdpCollector) -> Nginx {
    site_with(udp, "analytics_filter_bots off;")
}

fn site_with(udp: &UdpCollector, beacon_options: &str) -> Nginx {
    let nginx = Nginx::start(&format!(
        r#"
    types {{ text/html html; }}
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    server {{
        listen 127.0.0.1:{{port}};
        root {{dir}}/www;
        location = /a.js {{ analytics_agent; }}
        # Headless Chromium says so in its User-Agent: the script tests let it count.
        location = /ping {{ analytics_beacon; analytics_domains localhost; {beacon_options} }}
        location = /status {{ analytics_status; }}
    }}"#,
        udp = udp.port,
    ));
    std::fs::create_dir_all(nginx.path("www")).unwrap();
    nginx
}

/// The `page` tag of a line.
fn page_of(line: &str) -> String {
    parse_line(line).tag("page").expect("a page tag").to_owned()
}

fn series_and_fields(line: &str) -> String {
    let (series, fields, _) = split_line(line);
    format!("{series} {fields}")
}

/// Removes the values that depend on the machine (platform, time zone, load time).
fn generic(line: &str) -> String {
    let mut out = series_and_fields(line);
    for key in [",platform=", ",tz=", ",load_ms="] {
        if let Some(start) = out.find(key) {
            // The value ends at the next separator that is not escaped (`Linux\ x86_64`).
            let bytes = out.as_bytes();
            let end = (start + 1..bytes.len())
                .find(|&i| matches!(bytes[i], b',' | b' ') && bytes[i - 1] != b'\\')
                .unwrap_or(out.len());
            out.replace_range(start..end, &format!("{key}*"));
        }
    }
    out
}

#[test]
fn page_loads_navigations_routes_events_and_not_found_pages() {
    let udp = UdpCollector::start();
    let nginx = site(&udp);
    let www = nginx.path("www");
    let port = nginx.port;
    // Another origin links to the site, so the first page has an external referrer.
    std::fs::write(
        www.join("start.html"),
        format!(r#"<script>location.href = "http://localhost:{port}/a.html?token=secret&utm_source=partner#top";</script>"#),
    )
    .unwrap();
    page(&www, "a.html", "", "data-local", "location.href = '/b.html';");
    page(
        &www,
        "b.html",
        "",
        "data-local",
        "history.pushState({}, '', '/b/route?x=1'); history.replaceState({}, '', '/b/route');
         analytics.event('video-play'); setTimeout(function () { location.href = '/missing.html'; }, 300);",
    );
    page(&www, "missing.html", "", "data-local data-notfound", "");
    // Chromium resolves every `*.localhost` name to the loopback address itself.
    let browser = browse(&format!("http://start.localhost:{port}/start.html"));
    let lines = udp.wait_for_lines(5, Duration::from_secs(30));
    drop(browser);
    let got: Vec<String> = lines.iter().map(|l| generic(l)).collect();
    assert_eq!(
        got,
        [
            "pageview,device=desktop,domain=localhost,page=/a.html,platform=*,referrer_domain=start.localhost,tz=*,\
             utm_source=partner hits=1i,load_ms=*,session_pages=1i,referrer=\"http://start.localhost/\"",
            "pageview,device=desktop,domain=localhost,page=/b.html,platform=*,tz=* hits=1i,load_ms=*,session_pages=2i",
            "pageview,device=desktop,domain=localhost,page=/b/route,platform=*,tz=* hits=1i,session_pages=3i",
            "event,domain=localhost,name=video-play,page=/b/route hits=1i",
            "notfound,device=desktop,domain=localhost,page=/missing.html,platform=*,tz=* \
             hits=1i,load_ms=*,session_pages=4i",
        ],
        "{}",
        nginx.error_log()
    );
    // The values hidden above are real measurements of this browser.
    let first = series_and_fields(&lines[0]);
    assert!(first.contains(",platform=Linux,"), "{first}");
    let load_ms: u64 = first
        .split("load_ms=")
        .nth(1)
        .unwrap()
        .split('i')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(load_ms < 60_000, "{first}");
}

#[test]
fn hash_routes_count_as_pages_when_asked() {
    let udp = UdpCollector::start();
    let nginx = site(&udp);
    let www = nginx.path("www");
    page(
        &www,
        "app.html",
        "",
        "data-local data-hash",
        "location.hash = '#/settings';",
    );
    let browser = browse(&format!("http://localhost:{}/app.html", nginx.port));
    let lines = udp.wait_for_lines(2, Duration::from_secs(30));
    drop(browser);
    let pages: Vec<String> = lines.iter().map(|l| page_of(l)).collect();
    assert_eq!(pages, ["/app.html", "/settings"]);
}

#[test]
fn nothing_is_sent_for_visitors_who_opt_out_or_for_robots() {
    let udp = UdpCollector::start();
    let nginx = site(&udp);
    let www = nginx.path("www");
    let define = |property: &str, value: &str| {
        format!(
            "Object.defineProperty(navigator, '{property}', {{ get: function () {{ return {value}; }} }});"
        )
    };
    // Each page is skipped for one reason, then moves on; the last page is counted, and proves
    // that the browser got that far.
    let chain = [
        ("dnt.html", define("doNotTrack", "'1'"), "data-local"),
        ("gpc.html", define("globalPrivacyControl", "true"), "data-local"),
        (
            "owner.html",
            "localStorage.analytics_ignore = '1';".to_owned(),
            "data-local",
        ),
        (
            "robot.html",
            "localStorage.removeItem('analytics_ignore');".to_owned() + &define("webdriver", "true"),
            "data-local",
        ),
        ("local.html", String::new(), ""),
        ("counted.html", String::new(), "data-local"),
    ];
    for (i, (name, setup, attributes)) in chain.iter().enumerate() {
        let next = chain.get(i + 1).map_or(String::new(), |(next, _, _)| {
            format!("location.href = '/{next}';")
        });
        page(&www, name, setup, attributes, &next);
    }
    // Opting out can itself be switched off, for sites that decide so.
    page(
        &www,
        "dnt-off.html",
        &define("doNotTrack", "'1'"),
        "data-local data-dnt-off",
        "location.href = '/dnt.html';",
    );
    let browser = browse(&format!("http://localhost:{}/dnt-off.html", nginx.port));
    let lines = udp.wait_for_lines(2, Duration::from_secs(30));
    // The last page is counted: had any skipped page sent a beacon, it would be here before it.
    drop(browser);
    let pages: Vec<String> = lines.iter().map(|l| page_of(l)).collect();
    assert_eq!(pages, ["/dnt-off.html", "/counted.html"], "{}", nginx.error_log());
}

#[test]
fn a_headless_browser_is_taken_for_a_robot_by_default() {
    let udp = UdpCollector::start();
    let nginx = site_with(&udp, "");
    page(&nginx.path("www"), "seen.html", "", "data-local", "");
    let browser = browse(&format!("http://localhost:{}/seen.html", nginx.port));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while nginx.status()["rejected_bot"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "no beacon arrived: {}",
            nginx.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(browser);
    assert_eq!(nginx.status()["accepted"], 0);
    assert!(udp.lines().is_empty());
}
