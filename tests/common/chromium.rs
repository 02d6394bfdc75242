//! Headless Chromium, run once per page: the DOM after the page's script has run (and its fetches
//! have answered), what it logged to its console, and screenshots.

use std::path::Path;
use std::process::Command;

/// The Chromium binary (`scripts/install-deps.sh test` installs it).
pub fn chromium() -> &'static str {
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

/// Headless Chromium with a private profile, no sandbox and nothing of its own on the network.
pub fn headless(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// [`headless`], run once: the page's console on stderr, and virtual time, which runs only while
/// no fetch is pending, so the budget is spent after the page's queries have answered.
fn headless_once(profile: &Path) -> Command {
    let mut command = headless(profile);
    command.args(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000"]);
    command
}

/// What a page left behind: its DOM, serialised, and its console messages.
pub struct Rendered {
    pub dom: String,
    pub console: Vec<String>,
}

/// Loads `url`, lets its script run, and returns the DOM and the console messages.
pub fn render(url: &str) -> Rendered {
    let profile = tempfile::tempdir().unwrap();
    let out = headless_once(profile.path())
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    Rendered {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        // Chromium writes page console messages as `...:CONSOLE(line)] "message", source: ...`,
        // and Content-Security-Policy violations as console errors too.
        console: stderr
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Content Security Policy"))
            .map(str::to_owned)
            .collect(),
    }
}

/// Saves a screenshot of `url` at `width` × `height` CSS pixels.
pub fn screenshot(url: &str, path: &Path, width: u32, height: u32) {
    let profile = tempfile::tempdir().unwrap();
    let status = headless_once(profile.path())
        .arg(format!("--screenshot={}", path.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg("--hide-scrollbars")
        .arg(url)
        .output()
        .expect("run chromium")
        .status;
    assert!(status.success(), "chromium could not take a screenshot of {url}");
    assert!(path.exists(), "no screenshot at {}", path.display());
}
