//! The browser script in real browsers (headless Chromium, and Firefox ESR for the counting
//! rules), served by the module from a real nginx: what arrives at a UDP listener for page loads,
//! navigations, single-page-app route changes and the start-up patterns of routers, events and
//! not-found pages, which query parameters leave the browser, which hosts count as local, that
//! nothing arrives when the visitor opts out, and the optional outbound-link, download and
//! engagement events, sent only by the scripts that have them.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// The first of `names` that runs, else the test fails with `missing`.
fn installed(names: &[&'static str], missing: &str) -> &'static str {
    names
        .iter()
        .copied()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| panic!("{missing}"))
}

fn firefox() -> &'static str {
    installed(
        &["firefox-esr", "firefox"],
        "Firefox ESR is required (scripts/install-deps.sh test installs firefox-esr)",
    )
}

#[derive(Clone, Copy, Debug)]
enum Engine {
    Chromium,
    Firefox,
}

/// A headless browser showing `url` (and whatever it navigates to) in real time, until dropped.
struct Browser {
    child: std::process::Child,
    _profile: tempfile::TempDir,
}

fn browse(url: &str) -> Browser {
    browse_in(Engine::Chromium, url, &[])
}

/// Opens `url` in a fresh profile of `engine`; the host names in `loopback_names` resolve to the
/// loopback address.
fn browse_in(engine: Engine, url: &str, loopback_names: &[&str]) -> Browser {
    let profile = tempfile::tempdir().unwrap();
    let mut command = match engine {
        Engine::Chromium => {
            let mut command = common::chromium::headless(profile.path());
            if !loopback_names.is_empty() {
                let rules: Vec<String> = loopback_names
                    .iter()
                    .map(|name| format!("MAP {name} 127.0.0.1"))
                    .collect();
                command.arg(format!("--host-resolver-rules={}", rules.join(", ")));
            }
            command
        }
        Engine::Firefox => {
            // No first-run pages, updates or telemetry; the listed names are local.
            let prefs = [
                ("browser.shell.checkDefaultBrowser", "false".to_owned()),
                (
                    "browser.startup.homepage_override.mstone",
                    "\"ignore\"".to_owned(),
                ),
                ("startup.homepage_welcome_url", "\"\"".to_owned()),
                ("browser.aboutwelcome.enabled", "false".to_owned()),
                ("datareporting.policy.dataSubmissionEnabled", "false".to_owned()),
                ("toolkit.telemetry.reportingpolicy.firstRun", "false".to_owned()),
                ("app.update.disabledForTesting", "true".to_owned()),
                ("network.captive-portal-service.enabled", "false".to_owned()),
                ("network.connectivity-service.enabled", "false".to_owned()),
                ("browser.safebrowsing.update.enabled", "false".to_owned()),
                (
                    "network.dns.localDomains",
                    format!("\"{}\"", loopback_names.join(",")),
                ),
            ];
            let user_js: String = prefs
                .iter()
                .map(|(name, value)| format!("user_pref(\"{name}\", {value});\n"))
                .collect();
            std::fs::write(profile.path().join("user.js"), user_js).unwrap();
            let mut command = Command::new(firefox());
            command
                .args(["--headless", "--no-remote", "--profile"])
                .arg(profile.path());
            command
        }
    };
    let child = command
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own process group, so that dropping it stops its helper processes too.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("run {engine:?}: {e}"));
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
    page_with(www, name, setup, attributes, "", after);
}

/// A test page whose `before_load` runs after the analytics script but before the load event (at
/// `DOMContentLoaded`, where routers start), and `after` once the page has loaded.
fn router_page(www: &Path, name: &str, attributes: &str, before_load: &str, after: &str) {
    page_with(www, name, "", attributes, before_load, after);
}

fn page_with(www: &Path, name: &str, setup: &str, attributes: &str, before_load: &str, after: &str) {
    page_from(www, name, "/a.js", setup, attributes, before_load, after);
}

/// [`page_with`] with the script served from `script`.
fn page_from(
    www: &Path,
    name: &str,
    script: &str,
    setup: &str,
    attributes: &str,
    before_load: &str,
    after: &str,
) {
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{name}</title>
<script>{setup}</script>
<script defer src="{script}" {attributes}></script>
<script>addEventListener("DOMContentLoaded", function () {{ {before_load} }});
addEventListener("load", function () {{ setTimeout(function () {{ {after} }}, 300); }});</script>
</head><body>{name}</body></html>"#
    );
    std::fs::write(www.join(name), html).unwrap();
}

fn site(udp: &UdpCollector) -> Nginx {
    site_with(udp, "analytics_filter_bots off;")
}

fn site_with(udp: &UdpCollector, beacon_options: &str) -> Nginx {
    site_for(udp, "localhost", beacon_options)
}

fn site_for(udp: &UdpCollector, domains: &str, beacon_options: &str) -> Nginx {
    let nginx = Nginx::start(&format!(
        r#"
    types {{ text/html html; }}
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    server {{
        listen 127.0.0.1:{{port}};
        root {{dir}}/www;
        location = /a.js {{ analytics_agent; }}
        location = /all.js {{ analytics_agent features=outbound,downloads,engagement; }}
        # Headless Chromium says so in its User-Agent: the script tests let it count.
        location = /ping {{ analytics_beacon; analytics_domains {domains}; {beacon_options} }}
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

/// Replaces by `*` the values that depend on the machine: time zone, load time, visible time, and
/// the browser and system, which the module takes from the request headers (the script sends
/// neither).
fn generic(line: &str) -> String {
    let mut out = series_and_fields(line);
    for key in [",browser=", ",platform=", ",tz=", ",load_ms=", ",engaged_ms="] {
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
            "pageview,browser=*,device=desktop,domain=localhost,page=/a.html,platform=*,referrer_domain=start.localhost,tz=*,\
             utm_source=partner hits=1i,load_ms=*,session_pages=1i,referrer=\"http://start.localhost/\"",
            "pageview,browser=*,device=desktop,domain=localhost,page=/b.html,platform=*,tz=* hits=1i,load_ms=*,session_pages=2i",
            "pageview,browser=*,device=desktop,domain=localhost,page=/b/route,platform=*,tz=* hits=1i,session_pages=3i",
            "event,domain=localhost,name=video-play,page=/b/route hits=1i",
            "notfound,browser=*,device=desktop,domain=localhost,page=/missing.html,platform=*,tz=* \
             hits=1i,load_ms=*,session_pages=4i",
        ],
        "{}",
        nginx.error_log()
    );
    // The values hidden above are real measurements of this browser.
    let first = series_and_fields(&lines[0]);
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
    let status = nginx.wait_for_status(Duration::from_secs(30), |s| s["rejected_bot"] == 1);
    assert_eq!(status["rejected_bot"], 1, "no beacon arrived: {status}");
    drop(browser);
    assert_eq!(nginx.status()["accepted"], 0);
    assert!(udp.lines().is_empty());
}

/// Waits for `n` lines, then a little longer, so that a line too many would be seen too.
fn exactly(udp: &UdpCollector, n: usize) -> Vec<String> {
    udp.wait_for_lines(n, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(1500));
    udp.lines()
}

/// The lines in the order the tab counted them (`session_pages`), machine values hidden.
fn in_session_order(lines: &[String]) -> Vec<String> {
    let mut counted: Vec<(u64, String)> = lines
        .iter()
        .map(|l| {
            let pages = parse_line(l)
                .field("session_pages")
                .map_or(0, |v| v.trim_end_matches('i').parse().unwrap());
            (pages, generic(l))
        })
        .collect();
    counted.sort();
    counted.into_iter().map(|(_, line)| line).collect()
}

fn view(page: &str, loaded: bool, pages: u32) -> String {
    let load = if loaded { ",load_ms=*" } else { "" };
    format!(
        "pageview,browser=*,device=desktop,domain=localhost,page={page},platform=*,tz=* hits=1i{load},session_pages={pages}i"
    )
}

/// What routers do at start-up (before the load event, or after it when the app starts late) is
/// part of the page load: one page view, with its load time. Only a navigation to another page
/// (pushState to a new path, back, forward, a new hash route) is one more. Each page moves on
/// when the browser has told the script (the page's listeners run after the script's).
fn one_page_view_per_load_and_per_navigation(engine: Engine) {
    let udp = UdpCollector::start();
    let nginx = site(&udp);
    let www = nginx.path("www");
    // React Router, Vue Router and Next.js record their state with replaceState(same URL) when
    // they start; some also push the path they are on.
    router_page(
        &www,
        "boot.html",
        "data-local",
        "history.replaceState({ idx: 0 }, '', location.href);
         history.pushState({ idx: 0 }, '', location.pathname);",
        "history.replaceState({ idx: 1 }, '', location.href);
         history.pushState({ idx: 1 }, '', location.pathname);
         location.href = '/query.html';",
    );
    // Filters and tabs change the query or the fragment: the same page.
    router_page(
        &www,
        "query.html",
        "data-local",
        "",
        "history.replaceState({}, '', '?page=2'); history.pushState({}, '', '?page=3');
         location.hash = '#section'; history.pushState({}, '', '#other');
         addEventListener('popstate', function () {
           if (location.hash == '#section') location.href = '/redirect.html';
         });
         history.back();",
    );
    // A redirect at start-up (Angular's redirectTo, a guard) is where the load lands; one after
    // the load corrects the address of the page being viewed.
    router_page(
        &www,
        "redirect.html",
        "data-local",
        "history.replaceState({}, '', '/home');",
        "history.replaceState({}, '', '/welcome'); location.href = '/hash.html';",
    );
    // A hash router adds "#/" at start-up (Vue's hash mode), then routes.
    router_page(
        &www,
        "hash.html",
        "data-local data-hash",
        "history.replaceState(null, '', '#/');",
        "addEventListener('hashchange', function () {
           location.hash == '#/settings' ? (location.hash = '#/settings?tab=2') : (location.href = '/late.html');
         });
         location.hash = '#/settings';",
    );
    // The same router starting after the load event.
    router_page(
        &www,
        "late.html",
        "data-local data-hash",
        "",
        "history.replaceState(null, '', '#/'); history.pushState(null, '', '#/about');
         location.href = '/spa.html';",
    );
    // Real navigations: one page view each.
    router_page(
        &www,
        "spa.html",
        "data-local",
        "",
        "history.pushState({}, '', '/spa/two');
         addEventListener('popstate', function () {
           location.pathname == '/spa.html' ? history.forward() : (location.href = '/done.html');
         });
         history.back();",
    );
    router_page(&www, "done.html", "data-local", "", "");
    let browser = browse_in(engine, &format!("http://localhost:{}/boot.html", nginx.port), &[]);
    let lines = exactly(&udp, 12);
    drop(browser);
    assert_eq!(
        in_session_order(&lines),
        [
            view("/boot.html", true, 1),
            view("/query.html", true, 2),
            view("/home", true, 3),
            view("/", true, 4),
            view("/settings", false, 5),
            view("/late.html", true, 6),
            view("/about", false, 7),
            view("/spa.html", true, 8),
            view("/spa/two", false, 9),
            view("/spa.html", false, 10),
            view("/spa/two", false, 11),
            view("/done.html", true, 12),
        ],
        "{engine:?}\n{}",
        lines.join("\n")
    );
}

#[test]
fn one_page_view_per_load_and_per_navigation_in_chromium() {
    one_page_view_per_load_and_per_navigation(Engine::Chromium);
}

#[test]
fn one_page_view_per_load_and_per_navigation_in_firefox() {
    one_page_view_per_load_and_per_navigation(Engine::Firefox);
}

/// The script sends the `utm_*` parameters and those its `data-params` names, nothing else of the
/// query string: here the module would keep `token` and `email`, had they been sent.
fn only_campaign_parameters_leave_the_browser(engine: Engine) {
    let udp = UdpCollector::start();
    let nginx = site_for(
        &udp,
        "localhost",
        "analytics_filter_bots off; analytics_query_params ref token email utm_term;",
    );
    page(
        &nginx.path("www"),
        "landing.html",
        "",
        r#"data-local data-params="ref""#,
        "",
    );
    let browser = browse_in(
        engine,
        &format!(
            "http://localhost:{}/landing.html?token=s3cret&utm_source=news&ref=partner&email=bob\
             &utm_campaign=spring&utm_term=shoes#top",
            nginx.port
        ),
        &[],
    );
    let lines = exactly(&udp, 1);
    drop(browser);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = parse_line(&lines[0]);
    // The system depends on the machine; it comes from the request headers, not from the script.
    let mut tags: Vec<String> = line
        .tags
        .iter()
        .filter(|(k, _)| k != "platform")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    tags.sort();
    let tz = format!("tz={}", line.tag("tz").unwrap());
    // From the request headers: headless Chromium names itself `HeadlessChrome`, no browser of
    // the list (and a robot, unless `analytics_filter_bots off`).
    let browser = match engine {
        Engine::Chromium => "browser=other",
        Engine::Firefox => "browser=Firefox",
    };
    assert_eq!(
        tags,
        [
            browser,
            "device=desktop",
            "domain=localhost",
            "page=/landing.html",
            "ref=partner",
            &tz,
            "utm_campaign=spring",
            "utm_source=news",
            "utm_term=shoes",
        ],
        "{engine:?}: {}",
        lines[0]
    );
}

#[test]
fn only_campaign_parameters_leave_the_browser_in_chromium() {
    only_campaign_parameters_leave_the_browser(Engine::Chromium);
}

#[test]
fn only_campaign_parameters_leave_the_browser_in_firefox() {
    only_campaign_parameters_leave_the_browser(Engine::Firefox);
}

/// `localhost`, its subdomains and 127.x.y.z are local (not counted without `data-local`); a host
/// name that only starts like one is a site like any other.
fn only_local_host_names_count_as_local(engine: Engine) {
    let udp = UdpCollector::start();
    let names = ["localhostel.test", "127.example.org", "app.localhost"];
    let nginx = site_for(
        &udp,
        &(names.join(" ") + " localhost"),
        "analytics_filter_bots off;",
    );
    let www = nginx.path("www");
    let port = nginx.port;
    let chain = [
        ("localhostel.test", "a.html", ""),
        ("127.example.org", "b.html", ""),
        ("app.localhost", "c.html", ""),
        ("127.0.0.1", "d.html", ""),
        ("localhost", "e.html", ""),
        ("localhost", "last.html", "data-local"),
    ];
    for (i, (_, name, attributes)) in chain.iter().enumerate() {
        let next = chain.get(i + 1).map_or(String::new(), |(host, next, _)| {
            format!("location.href = 'http://{host}:{port}/{next}';")
        });
        page(&www, name, "", attributes, &next);
    }
    let browser = browse_in(engine, &format!("http://localhostel.test:{port}/a.html"), &names);
    let lines = exactly(&udp, 3);
    drop(browser);
    let mut got: Vec<String> = lines
        .iter()
        .map(|l| {
            let line = parse_line(l);
            format!("{} {}", line.tag("domain").unwrap(), line.tag("page").unwrap())
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "127.example.org /b.html",
            "localhost /last.html",
            "localhostel.test /a.html"
        ],
        "{engine:?}: {}",
        lines.join("\n")
    );
}

#[test]
fn only_local_host_names_count_as_local_in_chromium() {
    only_local_host_names_count_as_local(Engine::Chromium);
}

#[test]
fn only_local_host_names_count_as_local_in_firefox() {
    only_local_host_names_count_as_local(Engine::Firefox);
}

/// A page that clicks a link to a file, one to another site and one within the site (each
/// navigation held back by the page, as a site's own handler might), then is hidden
/// (`visibilitychange`), shown and hidden again, then leaves for `next` (`pagehide`).
fn clicking_page(www: &Path, name: &str, script: &str, next: &str) {
    let click = |href: &str| {
        format!(
            "var a = document.createElement('a'); a.href = '{href}'; a.textContent = 'x';
             a.addEventListener('click', function (e) {{ e.preventDefault(); }});
             document.body.appendChild(a); a.click();"
        )
    };
    let hide = |hidden: bool| {
        format!(
            "Object.defineProperty(document, 'hidden', {{ configurable: true, get: function () {{ return {hidden}; }} }});
             document.dispatchEvent(new Event('visibilitychange'));"
        )
    };
    let after = [
        click("/files/Report.PDF?token=s3cret#page=2"),
        click("https://Docs.Example.org:8443/guide?user=bob"),
        click("/other.html"),
        hide(true),
        hide(false),
        hide(true),
        format!("location.href = '/{next}';"),
    ]
    .concat();
    page_from(www, name, script, "", "data-local", "", &after);
}

/// With `features=outbound,downloads,engagement`, a click on a link to a file sends its extension
/// and path (no query), one on a link to another site that site's host only, one within the site
/// nothing; the visible time goes once, when the page is first hidden, and not again when it is
/// left. The base script sends none of them for the same page. Every line parses with the
/// independent line-protocol parser.
fn outbound_downloads_and_engagement_only_when_served(engine: Engine) {
    let udp = UdpCollector::start();
    let nginx = site(&udp);
    let www = nginx.path("www");
    clicking_page(&www, "base.html", "/a.js", "all.html");
    clicking_page(&www, "all.html", "/all.js", "done.html");
    page_from(&www, "done.html", "/all.js", "", "data-local", "", "");
    let browser = browse_in(engine, &format!("http://localhost:{}/base.html", nginx.port), &[]);
    let lines = exactly(&udp, 6);
    drop(browser);
    let mut got: Vec<String> = lines.iter().map(|l| generic(l)).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "event,domain=localhost,extension=pdf,file=/files/Report.PDF,name=download,page=/all.html hits=1i",
            "event,domain=localhost,name=engagement,page=/all.html hits=1i,engaged_ms=*",
            "event,domain=localhost,name=outbound,page=/all.html,target_domain=docs.example.org hits=1i",
            "pageview,browser=*,device=desktop,domain=localhost,page=/all.html,platform=*,tz=* hits=1i,load_ms=*,session_pages=2i",
            "pageview,browser=*,device=desktop,domain=localhost,page=/base.html,platform=*,tz=* hits=1i,load_ms=*,session_pages=1i",
            "pageview,browser=*,device=desktop,domain=localhost,page=/done.html,platform=*,tz=* hits=1i,load_ms=*,session_pages=3i",
        ],
        "{engine:?}\n{}\n{}",
        lines.join("\n"),
        nginx.error_log()
    );
    // The visible time is real: the page was shown for its 300 ms wait and the clicks at least.
    let engagement = lines
        .iter()
        .map(|l| parse_line(l))
        .find(|l| l.tag("name") == Some("engagement"))
        .unwrap();
    let engaged_ms: u64 = engagement
        .field("engaged_ms")
        .unwrap()
        .trim_end_matches('i')
        .parse()
        .unwrap();
    assert!((250..60_000).contains(&engaged_ms), "{engaged_ms}");
}

#[test]
fn outbound_downloads_and_engagement_only_when_served_in_chromium() {
    outbound_downloads_and_engagement_only_when_served(Engine::Chromium);
}

#[test]
fn outbound_downloads_and_engagement_only_when_served_in_firefox() {
    outbound_downloads_and_engagement_only_when_served(Engine::Firefox);
}

/// Headless Chromium sends its low-entropy client hints to `http://localhost` (a secure
/// context): `"Chromium"` and a GREASE brand, `?0`, `"Linux"`. They win over its User-Agent,
/// here told to be an iPhone's: the system and the device come from the hints, the browser from
/// the User-Agent (the brands name no browser of the list).
#[test]
fn chromium_client_hints_win_over_its_user_agent() {
    let udp = UdpCollector::start();
    let nginx = site_with(&udp, "analytics_filter_bots off;");
    page(&nginx.path("www"), "hints.html", "", "data-local", "");
    let profile = tempfile::tempdir().unwrap();
    let child = common::chromium::headless(profile.path())
        .arg(
            "--user-agent=Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) CriOS/138.0.0.0 Mobile/15E148 Safari/604.1",
        )
        .arg(format!("http://localhost:{}/hints.html", nginx.port))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let browser = Browser {
        child,
        _profile: profile,
    };
    let lines = exactly(&udp, 1);
    drop(browser);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = parse_line(&lines[0]);
    assert_eq!(
        [line.tag("browser"), line.tag("platform"), line.tag("device")],
        [Some("Chrome"), Some("Linux"), Some("desktop")],
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("iPhone") && !lines[0].contains("CriOS"));
}
