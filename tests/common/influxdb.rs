//! A real InfluxDB 1.x (Debian's `influxd`), started from a private configuration on free loopback
//! ports, with a UDP listener feeding one database.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{free_port, free_udp_port};

pub struct InfluxDb {
    pub dir: tempfile::TempDir,
    pub http_port: u16,
    pub udp_port: u16,
    pub database: String,
    child: Child,
}

impl InfluxDb {
    pub fn start(database: &str) -> InfluxDb {
        let dir = tempfile::tempdir().unwrap();
        let (http_port, rpc_port, udp_port) = (free_port(), free_port(), free_udp_port());
        let d = dir.path().display();
        let conf = format!(
            r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
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
        let log = std::fs::File::create(dir.path().join("influxd.log")).unwrap();
        let child = Command::new("influxd")
            .arg("-config")
            .arg(dir.path().join("influxdb.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start influxd (Debian package influxdb)");
        let influx = InfluxDb {
            dir,
            http_port,
            udp_port,
            database: database.to_owned(),
            child,
        };
        influx.wait_until_ready();
        influx.query(&format!("CREATE DATABASE \"{database}\""));
        influx
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
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "GET {path_and_query} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = String::new();
        s.read_to_string(&mut raw)?;
        let status = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        // Chunked replies: keep the JSON line only.
        let body = body.lines().find(|l| l.starts_with('{')).unwrap_or("").to_owned();
        Ok((status, body))
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

impl Drop for InfluxDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
