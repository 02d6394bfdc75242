//! A real browser (headless Chromium) loads the demo page from a real nginx, runs the browser
//! script, and its beacon becomes the expected line.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Loads `url` headless and waits (in virtual time) for the page's timers to run.
fn load_page(browser: &str, url: &str) {
    let profile = tempfile::tempdir().unwrap();
    let status = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn the_demo_page_sends_a_page_view_from_a_real_browser() {
    let browser = chromium().expect("chromium is required (scripts/install-deps.sh test installs it)");
    let repo = env!("CARGO_MANIFEST_DIR");
    let udp = UdpCollector::start();
    let nginx = Nginx::start(&format!(
        r#"
    types {{ text/html html; application/javascript js; }}
    analytics_sink udp://127.0.0.1:{udp} flush=50ms;
    server {{
        listen 127.0.0.1:{{port}};
        root {repo}/demo;
        location = /analytics.js {{ analytics_agent; }}
        location = /ping {{ analytics_beacon; analytics_domains 127.0.0.1; }}
    }}"#,
        udp = udp.port
    ));
    load_page(
        browser,
        &format!("http://127.0.0.1:{}/about.html?secret=1#x", nginx.port),
    );
    let lines = udp.wait_for_lines(1, Duration::from_secs(15));
    assert_eq!(lines.len(), 1, "{lines:?}\n{}", nginx.error_log());
    let (series, fields, _) = split_line(&lines[0]);
    assert!(
        series.starts_with("pageview,device=desktop,domain=127.0.0.1,page=/about.html,platform="),
        "{series}"
    );
    assert!(series.contains(",tz="), "{series}");
    assert!(!series.contains("referrer"), "{series}");
    assert!(fields.starts_with("hits=1i,load_ms="), "{fields}");
    assert!(fields.ends_with(",session_pages=1i"), "{fields}");
}
