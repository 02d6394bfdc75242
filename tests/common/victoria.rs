//! A real VictoriaMetrics (Debian's `victoria-metrics`) on a free loopback port, for the InfluxDB
//! 2.x request shape (`/api/v2/write?org=&bucket=`), which InfluxDB 1.6 does not have.

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::free_port;

pub struct VictoriaMetrics {
    _dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl VictoriaMetrics {
    pub fn start() -> VictoriaMetrics {
        Self::start_with(&[])
    }

    /// Started with extra command-line flags (e.g. `-dedup.minScrapeInterval=1ms`).
    pub fn start_with(flags: &[&str]) -> VictoriaMetrics {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("victoria-metrics")
            .arg(format!("-storageDataPath={}", dir.path().display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-search.latencyOffset=0s")
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start victoria-metrics (Debian package victoria-metrics)");
        let vm = VictoriaMetrics {
            _dir: dir,
            port,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while vm.get("/health").map(|(s, _)| s) != Some(200) {
            assert!(Instant::now() < deadline, "victoria-metrics did not start");
            thread::sleep(Duration::from_millis(100));
        }
        vm
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = super::try_http(self.port, "GET", path, &[], b"").ok()?;
        Some((r.status, r.text()))
    }

    /// `/write` on this server: its InfluxDB line-protocol endpoint.
    pub fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/write", self.port)
    }

    /// The sum of every stored sample of `metric` (after flushing what was just written).
    pub fn sum(&self, metric: &str) -> f64 {
        self.get("/internal/force_flush");
        let (_, body) = self
            .get(&format!("/api/v1/export?match[]={metric}"))
            .unwrap_or_default();
        body.lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .flat_map(|series| series["values"].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_f64())
            .sum()
    }
}

impl VictoriaMetrics {
    /// The value of an instant MetricsQL query that yields one number (queries apply
    /// `-dedup.minScrapeInterval`), or `None` when it yields nothing.
    pub fn query_number(&self, query: &str) -> Option<f64> {
        self.get("/internal/force_flush");
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = self.get(&format!("/api/v1/query?nocache=1&query={encoded}"))?;
        assert_eq!(status, 200, "{query}: {body}");
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
        reply["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
