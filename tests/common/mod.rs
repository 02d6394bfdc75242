//! What the integration tests share: a real nginx (the ABI-matched binary built with the module)
//! loading the real module, started in a private directory on free loopback ports; a minimal
//! HTTP/1.1 client; a UDP listener that records what arrives.
#![allow(dead_code)]

pub mod chromium;
pub mod dns;
pub mod faulty_upstream;
pub mod influxdb;
pub mod load;
pub mod log_check;
pub mod pki;
pub mod ports;
pub mod process;
pub mod victoria;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use ports::{free_port, free_udp_port};

/// `target/<profile>`, found from the test binary's own path (`target/<profile>/deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The module under test: `ANALYTICS_MODULE`, or the one cargo built next to this test.
pub fn module_path() -> PathBuf {
    if let Ok(p) = std::env::var("ANALYTICS_MODULE") {
        return PathBuf::from(p);
    }
    let p = target_dir().join("libngx_http_analytics_module.so");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test.sh, or cargo build --release --features vendored",
        p.display()
    );
    assert_not_stale(&p);
    p
}

/// `cargo test` does not rebuild a cdylib: refuse to test a module older than its sources.
fn assert_not_stale(module: &Path) {
    let built = std::fs::metadata(module).and_then(|m| m.modified()).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![root.join("src"), root.join("core/src")];
    // Every minified variant of the browser script (`agent/build.js`).
    sources.extend(
        std::fs::read_dir(root.join("agent"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_str().is_some_and(|p| p.ends_with(".min.js"))),
    );
    while let Some(path) = sources.pop() {
        if path.is_dir() {
            sources.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > built)
        {
            panic!(
                "{} is older than {}: rebuild it with `cargo build --release --features vendored` \
                 (scripts/test.sh does)",
                module.display(),
                path.display()
            );
        }
    }
}

/// The nginx that loads it: `ANALYTICS_NGINX`, or the newest binary the vendored build produced.
pub fn nginx_path() -> PathBuf {
    match std::env::var("ANALYTICS_NGINX") {
        Ok(p) => PathBuf::from(p),
        Err(_) => vendored_nginx_path(),
    }
}

/// The newest nginx binary the vendored build produced, whatever `ANALYTICS_NGINX` says.
pub fn vendored_nginx_path() -> PathBuf {
    let build = target_dir().join("build");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&build)
        .expect("target build dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("out/objs/nginx"))
        .filter(|p| p.exists())
        .collect();
    found.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    found
        .pop()
        .expect("no vendored nginx binary: build with --features vendored")
}

/// A running nginx. When the test is done with it (`stop_with`, or dropping it), its error logs
/// are checked: see [`log_check`].
pub struct Nginx {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// Alarming log lines a test provokes on purpose: a line containing one of these passes.
    allowed_in_log: Vec<String>,
}

impl Nginx {
    /// Writes a configuration around `http_body` (the inside of the `http` block, where `{port}`
    /// stands for the listening port and `{dir}` for the private directory) and starts nginx.
    pub fn start(http_body: &str) -> Nginx {
        Self::start_with(http_body, 2)
    }

    pub fn start_with(http_body: &str, workers: usize) -> Nginx {
        Self::start_after_main(&[], http_body, workers)
    }

    /// Like [`Nginx::start_with`], with `main_lines` (e.g. another module's `load_module`) in the
    /// main context after this module's `load_module`.
    pub fn start_after_main(main_lines: &[&str], http_body: &str, workers: usize) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut conf = config(dir.path(), port, http_body, workers);
        let first_line_end = conf.find('\n').expect("load_module line") + 1;
        conf.insert_str(first_line_end, &(main_lines.join("\n") + "\n"));
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let child = nginx_command(dir.path())
            .stdin(Stdio::null())
            .spawn()
            .expect("start nginx");
        let nginx = Nginx {
            dir,
            port,
            child: Some(child),
            allowed_in_log: Vec::new(),
        };
        nginx.wait_until_listening();
        nginx
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("nginx did not listen; error log:\n{}", self.error_log());
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.path("logs/error.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The master's children: its worker processes.
    pub fn worker_pids(&self) -> Vec<u32> {
        process::children(self.pid())
    }

    /// The only worker of an nginx started with one (waiting a little for it to appear).
    pub fn only_worker(&self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let workers = self.worker_pids();
            if let [worker] = workers[..] {
                return worker;
            }
            assert!(Instant::now() < deadline, "workers: {workers:?}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: &str) {
        assert!(
            process::signal(self.pid(), signal),
            "kill -{signal} {}",
            self.pid()
        );
    }

    /// Sends `signal`, waits for the master to exit, and checks the error logs.
    pub fn stop_with(&mut self, signal: &str) {
        self.signal(signal);
        let child = self.child.take().unwrap();
        let exited = wait_or_kill(child, Duration::from_secs(30));
        assert!(exited, "nginx did not exit after SIG{signal}");
        self.assert_log_clean();
    }

    /// Lets the log check pass lines containing `text`, for a test that provokes them on purpose.
    pub fn expect_in_log(&mut self, text: &str) {
        self.allowed_in_log.push(text.to_owned());
    }

    /// Fails the test if an error log holds an alarming line (see [`log_check`]).
    pub fn assert_log_clean(&self) {
        let alarming = log_check::alarming_lines_in(self.dir.path(), &self.allowed_in_log);
        assert!(
            alarming.is_empty(),
            "nginx logged {} alarming line(s):\n{}",
            alarming.len(),
            log_check::summary(&alarming)
        );
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Response {
        http(self.port, "POST", path, &[], body)
    }

    pub fn beacon(&self, body: &str) -> Response {
        self.post("/ping", body.as_bytes())
    }

    pub fn status(&self) -> serde_json::Value {
        let r = http(self.port, "GET", "/status", &[], b"");
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_slice(&r.body).unwrap()
    }

    /// Polls the status page until it reports `lines` lines written, or `within` has passed;
    /// returns the last status either way, for the caller to assert on.
    pub fn wait_for_written(&self, lines: i64, within: Duration) -> serde_json::Value {
        self.wait_for_status(within, |status| status["lines_written"].as_i64() == Some(lines))
    }

    /// Polls the status page until `settled` holds for it, or `within` has passed; returns the
    /// last status either way, for the caller to assert on.
    pub fn wait_for_status(
        &self,
        within: Duration,
        settled: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let status = self.status();
            if settled(&status) || Instant::now() > deadline {
                return status;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The status page, or `None` if nginx does not answer it within `within`.
    pub fn try_status(&self, within: Duration) -> Option<serde_json::Value> {
        let r = try_http_within(within, self.port, "GET", "/status", &[], b"").ok()?;
        serde_json::from_slice(&r.body).ok()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            process::signal(child.id(), "TERM");
            wait_or_kill(child, Duration::from_secs(10));
        }
        // A second panic while unwinding would abort the whole test binary.
        if !thread::panicking() {
            self.assert_log_clean();
        }
    }
}

/// Waits up to `within` for the nginx master to exit; otherwise kills it and the workers it
/// leaves behind (a worker stuck in a loop never sees the master's signal). True if it exited.
fn wait_or_kill(mut master: Child, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = master.try_wait() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let workers = process::children(master.id());
    let _ = master.kill();
    let _ = master.wait();
    for worker in workers {
        process::signal(worker, "KILL");
    }
    false
}

fn config(dir: &Path, port: u16, http_body: &str, workers: usize) -> String {
    let dir = dir.display().to_string();
    let http_body = http_body
        .replace("{port}", &port.to_string())
        .replace("{dir}", &dir);
    format!(
        r#"load_module {module};
daemon off;
master_process on;
worker_processes {workers};
error_log {dir}/logs/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body_temp;
    proxy_temp_path {dir}/proxy_temp;
    fastcgi_temp_path {dir}/fastcgi_temp;
    uwsgi_temp_path {dir}/uwsgi_temp;
    scgi_temp_path {dir}/scgi_temp;
{http_body}
}}
"#,
        module = module_path().display(),
    )
}

/// nginx with its prefix, configuration and error log in `dir`.
fn nginx_command(dir: &Path) -> Command {
    let mut command = Command::new(nginx_path());
    command
        .arg("-e")
        .arg(dir.join("logs/error.log"))
        .arg("-p")
        .arg(format!("{}/", dir.display()))
        .arg("-c")
        .arg(dir.join("nginx.conf"));
    command
}

/// Runs `nginx -t` on a configuration and returns (success, output).
pub fn nginx_test_config(http_body: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let conf = config(dir.path(), free_port(), http_body, 1);
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let out = nginx_command(dir.path()).arg("-t").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text)
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

pub const BROWSER_USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    try_http(port, method, path, headers, body).expect("HTTP request")
}

pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    try_http_within(Duration::from_secs(20), port, method, path, headers, body)
}

/// [`try_http`] that gives up when an answer takes longer than `within` to arrive.
pub fn try_http_within(
    within: Duration,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(within))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && *v == "chunked");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    // The module does not record robots: unless a test says otherwise, speak as a browser does.
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
        request.push_str(&format!("User-Agent: {BROWSER_USER_AGENT}\r\n"));
    }
    if !chunked && (method == "POST" || !body.is_empty()) {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    if chunked {
        for chunk in body.chunks(100) {
            stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
            stream.write_all(chunk)?;
            stream.write_all(b"\r\n")?;
        }
        stream.write_all(b"0\r\n\r\n")?;
    } else {
        stream.write_all(body)?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| std::io::Error::other("malformed HTTP response"))
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v): &(String, String)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")
    });
    let body = if chunked {
        dechunk(&raw[end + 4..])?
    } else {
        raw[end + 4..].to_vec()
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

/// The content of a chunked body (`None` if it is cut short or malformed).
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(line_end + 2..line_end + 2 + size)?);
        body = body.get(line_end + 2 + size + 2..)?;
    }
}

/// A UDP listener that keeps every datagram it receives.
pub struct UdpCollector {
    pub port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl UdpCollector {
    pub fn start() -> UdpCollector {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = socket.recv(&mut buf) {
                sink.lock().unwrap().push(buf[..n].to_vec());
            }
        });
        UdpCollector { port, received }
    }

    pub fn datagrams(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.datagrams()
            .iter()
            .flat_map(|d| {
                String::from_utf8_lossy(d)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Waits until at least `n` lines arrived (or the time is up) and returns them all.
    pub fn wait_for_lines(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let lines = self.lines();
            if lines.len() >= n || Instant::now() >= deadline {
                return lines;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Reads the lines of a file sink, waiting until at least `n` are there (or the time is up).
pub fn wait_for_file_lines(path: &Path, n: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n || Instant::now() >= deadline {
            return lines;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Splits a line into (measurement+tags, fields, timestamp) at its unescaped spaces.
pub fn split_line(line: &str) -> (String, String, String) {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    let mut quoted = false;
    for c in line.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                current.push(c);
                escaped = true;
            }
            '"' => {
                current.push(c);
                quoted = !quoted;
            }
            ' ' if !quoted => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    assert_eq!(parts.len(), 3, "not a line of three parts: {line}");
    (parts[0].clone(), parts[1].clone(), parts[2].clone())
}

/// A line as an independent parser (the `influxdb-line-protocol` crate) reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    pub measurement: String,
    pub tags: Vec<(String, String)>,
    pub fields: Vec<(String, String)>,
    pub timestamp: i64,
}

impl ParsedLine {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one line with the independent parser, failing the test unless it is exactly one valid
/// line with a timestamp.
pub fn parse_line(line: &str) -> ParsedLine {
    let parsed: Vec<_> = influxdb_line_protocol::parse_lines(line).collect();
    assert_eq!(parsed.len(), 1, "not exactly one line: {line:?}");
    let parsed = parsed
        .into_iter()
        .next()
        .unwrap()
        .unwrap_or_else(|e| panic!("invalid line {line:?}: {e}"));
    ParsedLine {
        measurement: parsed.series.measurement.as_str().to_owned(),
        tags: parsed
            .series
            .tag_set
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
            .collect(),
        fields: parsed
            .field_set
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_string()))
            .collect(),
        timestamp: parsed.timestamp.expect("a timestamp"),
    }
}

/// Sums N over the error-log lines "analytics: N lines for <sink> dropped: <reason>" that
/// contain `reason`.
pub fn dropped_in_log(log: &str, reason: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains(reason))
        .filter_map(|l| {
            l.split("analytics: ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The status counters of lines given up, each for its own reason.
pub const DROPPED_COUNTERS: [&str; 4] = [
    "dropped_buffer_full",
    "dropped_sink_error",
    "dropped_refused",
    "dropped_at_exit",
];

/// A counter of the status page, as a number.
pub fn counter(status: &serde_json::Value, name: &str) -> u64 {
    status[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name}: {status}"))
}

/// Every line given up and counted, whatever the reason.
pub fn dropped_total(status: &serde_json::Value) -> u64 {
    DROPPED_COUNTERS.iter().map(|name| counter(status, name)).sum()
}

/// The accounting rule: every answered beacon (page view, not-found page, event) is written or
/// counted as dropped.
pub fn assert_accounted(status: &serde_json::Value) {
    let answered: u64 = ["accepted", "not_found", "events"]
        .iter()
        .map(|name| counter(status, name))
        .sum();
    assert_eq!(
        answered,
        counter(status, "lines_written") + dropped_total(status),
        "answered = written + counted drops: {status}"
    );
}
