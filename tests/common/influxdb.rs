//! A real InfluxDB 1.x (Debian's `influxd`), started from a private configuration on free loopback
//! ports, with a UDP listener feeding one database.

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{free_port, free_udp_port};

pub struct InfluxDb {
    pub dir: tempfile::TempDir,
    pub http_port: u16,
    /// The loopback address its HTTP API listens on (127.0.0.1 unless started with `start_at`).
    pub http_host: String,
    pub udp_port: u16,
    pub database: String,
    /// With its API on TLS only: the test's own queries go over TLS too.
    pub tls: bool,
    child: Child,
}

impl InfluxDb {
    pub fn start(database: &str) -> InfluxDb {
        Self::start_limited(database, 0)
    }

    /// Refusing request bodies larger than `max_body_size` bytes with `413` (0: no limit).
    pub fn start_limited(database: &str, max_body_size: usize) -> InfluxDb {
        Self::start_ready(database, max_body_size, "")
    }

    /// With InfluxDB's cardinality limits lowered: past them it refuses whole batches.
    pub fn start_with_cardinality_limits(
        database: &str,
        max_series: u64,
        max_values_per_tag: u64,
    ) -> InfluxDb {
        let limits = format!(
            "  max-series-per-database = {max_series}\n  max-values-per-tag = {max_values_per_tag}\n"
        );
        Self::start_ready(database, 0, &limits)
    }

    /// With its HTTP API on `host:port` (another loopback address, for two servers on one port).
    pub fn start_at(database: &str, host: &str, port: u16) -> InfluxDb {
        let influx = Self::start_on(database, None, 0, "", (host, port));
        influx.wait_until_ready();
        influx.query(&format!("CREATE DATABASE \"{database}\""));
        influx
    }

    fn start_ready(database: &str, max_body_size: usize, data_settings: &str) -> InfluxDb {
        let influx = Self::start_with(database, None, max_body_size, data_settings);
        influx.wait_until_ready();
        influx.query(&format!("CREATE DATABASE \"{database}\""));
        influx
    }

    /// With its HTTP API on TLS only (`cert` and `key` are PEM files), and the database made.
    /// The test's own queries go over TLS too (with `curl`), whatever the certificate: a test may
    /// serve a bad one on purpose, for the sink to refuse.
    pub fn start_tls(database: &str, cert: &std::path::Path, key: &std::path::Path) -> InfluxDb {
        let mut influx = Self::start_with(database, Some((cert, key)), 0, "");
        influx.tls = true;
        influx.wait_until_ready();
        influx.query(&format!("CREATE DATABASE \"{database}\""));
        influx
    }

    /// `https://localhost:<port>/write?db=<database>`, for an HTTPS sink.
    pub fn https_write_url(&self) -> String {
        format!("https://localhost:{}/write?db={}", self.http_port, self.database)
    }

    fn start_with(
        database: &str,
        tls: Option<(&std::path::Path, &std::path::Path)>,
        max_body_size: usize,
        data_settings: &str,
    ) -> InfluxDb {
        Self::start_on(
            database,
            tls,
            max_body_size,
            data_settings,
            ("127.0.0.1", free_port()),
        )
    }

    fn start_on(
        database: &str,
        tls: Option<(&std::path::Path, &std::path::Path)>,
        max_body_size: usize,
        data_settings: &str,
        (http_host, http_port): (&str, u16),
    ) -> InfluxDb {
        let dir = tempfile::tempdir().unwrap();
        let (rpc_port, udp_port) = (free_port(), free_udp_port());
        let d = dir.path().display();
        let https = match tls {
            Some((cert, key)) => format!(
                "  https-enabled = true\n  https-certificate = \"{}\"\n  https-private-key = \"{}\"\n",
                cert.display(),
                key.display()
            ),
            None => String::new(),
        };
        let conf = format!(
            r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
{data_settings}[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "{http_host}:{http_port}"
  log-enabled = false
  max-body-size = {max_body_size}
{https}
[[udp]]
  enabled = true
  bind-address = "127.0.0.1:{udp_port}"
  database = "{database}"
  batch-size = 1000
  batch-timeout = "100ms"
  read-buffer = 8388608
"#
        );
        std::fs::write(dir.path().join("influxdb.conf"), conf).unwrap();
        let child = Self::spawn(dir.path());
        InfluxDb {
            dir,
            http_port,
            http_host: http_host.to_owned(),
            udp_port,
            database: database.to_owned(),
            tls: false,
            child,
        }
    }

    fn spawn(dir: &std::path::Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("influxd.log"))
            .unwrap();
        Command::new("influxd")
            .arg("-config")
            .arg(dir.join("influxdb.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start influxd (Debian package influxdb)")
    }

    /// Stops the server (an outage); its data stays.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same ports and data.
    pub fn start_again(&mut self) {
        self.child = Self::spawn(self.dir.path());
        self.wait_until_ready();
    }

    /// `/write?db=<database>` on this server, for an HTTP sink.
    pub fn write_url(&self) -> String {
        format!(
            "http://{}:{}/write?db={}",
            self.http_host, self.http_port, self.database
        )
    }

    /// Writes lines directly (as another client would) and returns the status.
    pub fn write(&self, lines: &str) -> u16 {
        let path = format!("/write?db={}", self.database);
        super::http(self.http_port, "POST", &path, &[], lines.as_bytes()).status
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(status) = self.get("/ping").map(|(s, _)| s) {
                if status == 204 {
                    return;
                }
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "influxd did not start: {}",
            std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
        );
    }

    fn get(&self, path_and_query: &str) -> std::io::Result<(u16, String)> {
        if self.tls || self.http_host != "127.0.0.1" {
            let scheme = if self.tls { "https" } else { "http" };
            let out = Command::new("curl")
                .args(["-sS", "--insecure", "--max-time", "10", "-w", "\n%{http_code}"])
                .arg(format!(
                    "{scheme}://{}:{}{path_and_query}",
                    self.http_host, self.http_port
                ))
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
            return match code.trim().parse() {
                Ok(status) if status != 0 => Ok((status, body.to_owned())),
                _ => Err(std::io::Error::other(
                    String::from_utf8_lossy(&out.stderr).to_string(),
                )),
            };
        }
        let r = super::try_http(self.http_port, "GET", path_and_query, &[], b"")?;
        Ok((r.status, r.text()))
    }

    /// Runs an InfluxQL query and returns the JSON reply.
    pub fn query(&self, q: &str) -> serde_json::Value {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = self
            .get(&format!("/query?db={}&q={encoded}", self.database))
            .expect("query");
        assert_eq!(status, 200, "{q}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{q}: {e}: {body}"))
    }

    /// The first value of the first series of a one-value query, or `None` when there is no data.
    pub fn scalar(&self, q: &str) -> Option<serde_json::Value> {
        let reply = self.query(q);
        reply["results"][0]["series"][0]["values"][0].get(1).cloned()
    }

    /// Polls `q` until it yields `want` (or the time is up); returns what it last saw.
    pub fn wait_for_scalar(&self, q: &str, want: i64, within: Duration) -> Option<i64> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.scalar(q).and_then(|v| v.as_i64());
            if seen == Some(want) || Instant::now() >= deadline {
                return seen;
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
}

/// One row of a query's answer: its columns by name, with the tags of its series (`GROUP BY`)
/// merged in as columns.
pub type Row = std::collections::BTreeMap<String, serde_json::Value>;

impl InfluxDb {
    /// `http://<host>:<port>`: the server's HTTP API.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.http_host, self.http_port)
    }

    /// Runs one InfluxQL statement and returns every row of every series it answered, failing the
    /// test when InfluxDB reports an error for it.
    pub fn rows(&self, q: &str) -> Vec<Row> {
        let reply = self.query(q);
        let result = &reply["results"][0];
        assert!(result.get("error").is_none(), "{q}\n{reply}");
        let mut rows = Vec::new();
        for series in result["series"].as_array().into_iter().flatten() {
            let columns: Vec<&str> = series["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            for values in series["values"].as_array().into_iter().flatten() {
                let mut row: Row = columns
                    .iter()
                    .zip(values.as_array().unwrap())
                    .map(|(c, v)| (c.to_string(), v.clone()))
                    .collect();
                if let Some(tags) = series["tags"].as_object() {
                    row.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                rows.push(row);
            }
        }
        rows
    }

    /// Runs `scripts/influx-rollups.sh <this server> <database> <args>` and returns what it printed,
    /// failing the test if it fails.
    pub fn run_rollups_script(&self, args: &[&str]) -> String {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/influx-rollups.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(self.url())
            .arg(&self.database)
            .args(args)
            .output()
            .expect("run scripts/influx-rollups.sh");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "influx-rollups.sh {args:?} failed:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// InfluxDB's `median()` (the mean of the two middle values of an even count) and
/// `percentile(_, 75)`, `percentile(_, 95)` (nearest rank: the value at index ⌊n·p/100 + 0.5⌋ − 1
/// of the sorted values), for checking what it computes.
pub fn median_p75_p95(mut samples: Vec<f64>) -> [f64; 3] {
    assert!(!samples.is_empty());
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let median = if n % 2 == 0 {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    } else {
        samples[n / 2]
    };
    let rank = |p: f64| samples[((n as f64 * p / 100.0 + 0.5).floor() as usize).clamp(1, n) - 1];
    [median, rank(75.0), rank(95.0)]
}

impl Drop for InfluxDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Page views stored in any of `stores`, each counted once: every point has a timestamp of its
/// own, so one stored twice (a batch delivered again after its upstream died) counts once.
pub fn distinct_points(stores: &[&InfluxDb]) -> usize {
    let times: std::collections::BTreeSet<String> = stores
        .iter()
        .flat_map(|influx| influx.rows("SELECT hits FROM pageview"))
        .map(|row| row["time"].to_string())
        .collect();
    times.len()
}
