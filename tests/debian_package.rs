//! The Debian package (`scripts/package-deb.sh`), installed with apt next to this machine's real
//! `nginx` package: Debian's own `/usr/sbin/nginx` with Debian's own `/etc/nginx/nginx.conf` loads
//! the module through the package's `modules-enabled` link and writes the beacons it gets; once the
//! package is removed, the same nginx passes `nginx -t` and starts without it.
//!
//! It installs and purges a package and changes `/etc/nginx` while it runs (the default site is
//! disabled, so nothing listens on port 80, and a test site is added; both are put back), so it
//! runs only when asked: as root, `cargo test --release --features vendored --test debian_package
//! -- --ignored`, which `scripts/test.sh` does after installing the build dependencies.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const PACKAGE: &str = "libnginx-mod-http-analytics";
const NGINX: &str = "/usr/sbin/nginx";
const MODULE_FILE: &str = "/usr/lib/nginx/modules/ngx_http_analytics_module.so";
const LOAD_SNIPPET: &str = "/usr/share/nginx/modules-available/mod-http-analytics.conf";
const ENABLED_LINK: &str = "/etc/nginx/modules-enabled/50-mod-http-analytics.conf";
const EXAMPLE_SITE: &str = "/etc/nginx/sites-available/analytics-example";
const DEFAULT_SITE: &str = "/etc/nginx/sites-enabled/default";
const TEST_SITE: &str = "/etc/nginx/sites-enabled/analytics-package-test";
const NGINX_PID_FILE: &str = "/run/nginx.pid";
const NGINX_ERROR_LOG: &str = "/var/log/nginx/error.log";
const ABI_FILE: &str = "/usr/share/nginx/src/debian/libnginx-mod.abisubstvars";

#[test]
#[ignore = "installs a package and changes /etc/nginx: scripts/test.sh runs it as root with --ignored"]
fn the_package_loads_into_debians_nginx_and_removes_cleanly() {
    let deb = build_package();
    assert_package_fields(&deb);

    let mut machine = Machine::take_over();
    run(apt_get().arg("install").arg(&deb));
    assert_installed_files();
    // Debian's stock configuration, with its default site, loads the module and passes.
    assert_config_test_passes("with the package installed and the stock configuration");

    // A site that uses the module: the package's own example, on a free loopback port, writing to
    // a file of this test instead of /var/log/nginx/analytics.lp.
    let port = free_port();
    let lines_dir = tempfile::tempdir().unwrap();
    let lines_file = lines_dir.path().join("analytics.lp");
    machine.disable_default_site();
    machine.write_test_site(&example_site_on(port, &lines_file));

    let nginx = machine.start_nginx(port);
    let pages = ["/from-the-package", "/docs/install", "/"];
    for page in pages {
        let body = format!(r#"{{"domain":"example.com","page":"{page}","utcoffset":"-60"}}"#);
        let answer = http(port, "POST", "/ping", &[], body.as_bytes());
        assert_eq!(answer.status, 204, "{}", answer.text());
    }
    let script = http(port, "GET", "/a.js", &[], b"");
    assert_eq!(script.status, 200);
    assert!(script.text().contains("sendBeacon"), "{}", script.text());
    let status = http(port, "GET", "/analytics_status", &[], b"");
    assert_eq!(status.status, 200, "{}", status.text());

    let lines = wait_for_file_lines(&lines_file, pages.len(), Duration::from_secs(10));
    let mut written: Vec<String> = lines
        .iter()
        .map(|line| parse_line(line))
        .inspect(|line| assert_eq!(line.tag("domain"), Some("example.com"), "{line:?}"))
        .map(|line| line.tag("page").unwrap_or_default().to_owned())
        .collect();
    written.sort();
    let mut sent: Vec<String> = pages.iter().map(|p| p.to_string()).collect();
    sent.sort();
    assert_eq!(written, sent, "lines: {lines:#?}");
    machine.stop_nginx(nginx);

    // Removed (not purged): the module and its link are gone, Debian's stock configuration passes
    // again, and nginx starts and serves without the module.
    machine.remove_test_site();
    run(apt_get().arg("remove").arg(PACKAGE));
    assert!(!Path::new(MODULE_FILE).exists(), "{MODULE_FILE} left behind");
    assert!(
        Path::new(ENABLED_LINK).symlink_metadata().is_err(),
        "{ENABLED_LINK} left behind"
    );
    // nginx.conf includes modules-enabled/*.conf; until the purge, the disabled link stays as
    // *.conf.removed, so that a reinstallation enables the module again only if it was enabled.
    let still_enabled: Vec<String> = enabled_module_files()
        .into_iter()
        .filter(|f| f.contains("analytics") && f.ends_with(".conf"))
        .collect();
    assert!(still_enabled.is_empty(), "still enabled: {still_enabled:?}");
    machine.restore_default_site();
    assert_config_test_passes("after removing the package, with the stock configuration");

    machine.disable_default_site();
    machine.write_test_site(&format!(
        "server {{\n\tlisten 127.0.0.1:{port};\n\tlocation / {{ return 200 \"without the module\\n\"; }}\n}}\n"
    ));
    let nginx = machine.start_nginx(port);
    let answer = http(port, "GET", "/", &[], b"");
    assert_eq!(answer.text(), "without the module\n");
    machine.stop_nginx(nginx);

    // Purged: nothing of the package is left, not even its disabled link or its example site.
    run(apt_get().arg("purge").arg(PACKAGE));
    assert!(!Path::new(EXAMPLE_SITE).exists(), "{EXAMPLE_SITE} left behind");
    let leftovers: Vec<String> = enabled_module_files()
        .into_iter()
        .filter(|f| f.contains("analytics"))
        .collect();
    assert!(leftovers.is_empty(), "left in modules-enabled: {leftovers:?}");
    machine.put_back();
}

/// Builds the package with `scripts/package-deb.sh` (which also runs lintian on it).
fn build_package() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package-deb.sh");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/package-deb.sh");
    assert!(out.status.success(), "scripts/package-deb.sh failed");
    let deb = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(deb.is_file(), "no package at {}", deb.display());
    deb
}

/// The name, the version (crate version + nginx ABI) and the exact ABI dependency.
fn assert_package_fields(deb: &Path) {
    let field = |name: &str| {
        let out = Command::new("dpkg-deb")
            .arg("-f")
            .arg(deb)
            .arg(name)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let abi = std::fs::read_to_string(ABI_FILE)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("nginx:abi=").map(str::to_owned))
        .expect("nginx:abi= in nginx-dev");
    assert_eq!(field("Package"), PACKAGE);
    let version = format!(
        "{}+nginx{}-1",
        env!("CARGO_PKG_VERSION").replacen('-', "~", 1),
        abi.trim_start_matches("nginx-abi-").replace('-', ".")
    );
    assert_eq!(field("Version"), version);
    let depends = field("Depends");
    assert!(
        depends.split(", ").any(|d| d == abi),
        "Depends: {depends} (want {abi})"
    );
    let name = deb.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(&format!("{PACKAGE}_{version}_")), "{name}");
}

/// The module, the `load_module` snippet and its link, and the example site, not enabled.
fn assert_installed_files() {
    assert!(Path::new(MODULE_FILE).is_file(), "{MODULE_FILE} missing");
    let snippet = std::fs::read_to_string(LOAD_SNIPPET).unwrap();
    assert_eq!(
        snippet.trim(),
        "load_module modules/ngx_http_analytics_module.so;"
    );
    assert_eq!(
        std::fs::read_link(ENABLED_LINK).expect("modules-enabled link"),
        Path::new(LOAD_SNIPPET)
    );
    let example = std::fs::read_to_string(EXAMPLE_SITE).unwrap();
    assert!(example.contains("analytics_beacon;"), "{example}");
    let enabled_sites: Vec<PathBuf> = std::fs::read_dir("/etc/nginx/sites-enabled")
        .unwrap()
        .map(|e| std::fs::canonicalize(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(
        !enabled_sites.contains(&PathBuf::from(EXAMPLE_SITE)),
        "the example site is enabled: {enabled_sites:?}"
    );
    for doc in ["README.md.gz", "copyright", "examples/rate-limit.conf"] {
        let path = format!("/usr/share/doc/{PACKAGE}/{doc}");
        assert!(Path::new(&path).exists(), "{path} missing");
    }
}

/// The package's example site, listening on `port` of loopback and writing to `lines_file`.
fn example_site_on(port: u16, lines_file: &Path) -> String {
    let example = std::fs::read_to_string(EXAMPLE_SITE).unwrap();
    let edits = [
        ("\tlisten 80;\n", format!("\tlisten 127.0.0.1:{port};\n")),
        ("\tlisten [::]:80;\n", String::new()),
        (
            "analytics_sink file:/var/log/nginx/analytics.lp;",
            format!("analytics_sink file:{} flush=50ms;", lines_file.display()),
        ),
    ];
    let mut site = example.clone();
    for (from, to) in edits {
        assert!(site.contains(from), "{EXAMPLE_SITE} has no {from:?}:\n{example}");
        site = site.replace(from, &to);
    }
    site
}

fn enabled_module_files() -> Vec<String> {
    std::fs::read_dir("/etc/nginx/modules-enabled")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn assert_config_test_passes(when: &str) {
    let out = Command::new(NGINX).arg("-t").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nginx -t failed {when}:\n{text}");
}

/// apt-get as the test suite runs it: no questions, and no service started (no systemd here; an
/// init script would start nginx on port 80).
fn apt_get() -> Command {
    let mut command = Command::new("apt-get");
    command
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("RUNLEVEL", "1")
        .args(["-y", "-q", "--no-install-recommends"]);
    command
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the test changes on the machine, put back when it ends, passed or failed: the nginx it
/// started, the default site, the test site, and the package.
struct Machine {
    /// Where `sites-enabled/default` pointed before the test disabled it.
    default_site: Option<PathBuf>,
    default_site_disabled: bool,
    nginx: Option<Child>,
    startup_log: tempfile::NamedTempFile,
}

impl Machine {
    fn take_over() -> Machine {
        let uid = Command::new("id").arg("-u").output().unwrap().stdout;
        assert_eq!(
            String::from_utf8_lossy(&uid).trim(),
            "0",
            "installing a package needs root"
        );
        assert!(
            Path::new(NGINX).is_file() && Path::new(ABI_FILE).is_file(),
            "Debian's nginx and nginx-dev are needed: run scripts/install-deps.sh package"
        );
        if let Some(pid) = running_system_nginx() {
            panic!("an nginx already runs with {NGINX_PID_FILE} (pid {pid}): stop it first");
        }
        // A run killed half-way leaves the package or the test site behind.
        let _ = std::fs::remove_file(TEST_SITE);
        let _ = apt_get().arg("purge").arg(PACKAGE).output();
        Machine {
            default_site: std::fs::read_link(DEFAULT_SITE).ok(),
            default_site_disabled: false,
            nginx: None,
            startup_log: tempfile::NamedTempFile::new().unwrap(),
        }
    }

    fn disable_default_site(&mut self) {
        if self.default_site.is_some() {
            std::fs::remove_file(DEFAULT_SITE).unwrap();
            self.default_site_disabled = true;
        }
    }

    fn restore_default_site(&mut self) {
        if let (Some(target), true) = (&self.default_site, self.default_site_disabled) {
            std::os::unix::fs::symlink(target, DEFAULT_SITE).unwrap();
            self.default_site_disabled = false;
        }
    }

    fn write_test_site(&self, site: &str) {
        std::fs::write(TEST_SITE, site).unwrap();
    }

    fn remove_test_site(&self) {
        let _ = std::fs::remove_file(TEST_SITE);
    }

    /// Starts Debian's nginx with its own configuration (`/etc/nginx/nginx.conf`), in the
    /// foreground so that this test is its parent, and waits until it listens on `port`.
    fn start_nginx(&mut self, port: u16) -> ErrorLogMark {
        let mark = ErrorLogMark::now();
        let child = Command::new(NGINX)
            .arg("-e")
            .arg(self.startup_log.path())
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start /usr/sbin/nginx");
        self.nginx = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = self.nginx.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "nginx did not listen on {port} ({exited:?}):\n{}\n{}",
                read(self.startup_log.path()),
                mark.new_lines()
            );
            thread::sleep(Duration::from_millis(20));
        }
        mark
    }

    /// Stops nginx gracefully and fails on an alarming line it logged since it started.
    fn stop_nginx(&mut self, mark: ErrorLogMark) {
        let child = self.nginx.take().expect("nginx running");
        assert!(process::signal(child.id(), "QUIT"));
        assert!(wait_for_exit(child), "nginx did not exit after SIGQUIT");
        let log = format!("{}\n{}", read(self.startup_log.path()), mark.new_lines());
        let alarming = log_check::alarming_lines(&log, &[]);
        assert!(
            alarming.is_empty(),
            "nginx logged {} alarming line(s):\n{}",
            alarming.len(),
            log_check::summary(&alarming)
        );
    }

    /// Puts the machine back as it was (also done when the test fails half-way).
    fn put_back(&mut self) {
        if let Some(child) = self.nginx.take() {
            process::signal(child.id(), "QUIT");
            wait_for_exit(child);
        }
        self.remove_test_site();
        self.restore_default_site();
        let _ = apt_get().arg("purge").arg(PACKAGE).output();
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.put_back();
    }
}

/// The pid in `/run/nginx.pid`, if that process runs.
fn running_system_nginx() -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(NGINX_PID_FILE)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    process::is_running(pid).then_some(pid)
}

/// Waits up to 20 s for nginx to exit, then kills it and its workers. True if it exited.
fn wait_for_exit(mut child: Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let workers = process::children(child.id());
    let _ = child.kill();
    let _ = child.wait();
    for worker in workers {
        process::signal(worker, "KILL");
    }
    false
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Where Debian's error log (`error_log` in its nginx.conf) ended when nginx started: the lines
/// after it are this run's.
struct ErrorLogMark(u64);

impl ErrorLogMark {
    fn now() -> ErrorLogMark {
        ErrorLogMark(std::fs::metadata(NGINX_ERROR_LOG).map_or(0, |m| m.len()))
    }

    fn new_lines(&self) -> String {
        let Ok(mut file) = std::fs::File::open(NGINX_ERROR_LOG) else {
            return String::new();
        };
        let mut text = String::new();
        file.seek(SeekFrom::Start(self.0)).unwrap();
        file.read_to_string(&mut text).unwrap();
        text
    }
}
