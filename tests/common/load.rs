//! A load of beacons from several clients, counting the ones answered 204.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::try_http;

/// `clients` threads each POST `body` to `/ping` `each` times at once; returns the 204 answers.
pub fn post_concurrently(port: u16, clients: usize, each: usize, body: &'static str) -> usize {
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            thread::spawn(move || {
                (0..each)
                    .filter(|_| super::http(port, "POST", "/ping", &[], body.as_bytes()).status == 204)
                    .count()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

pub struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    /// `threads` clients POST `body` to `/ping`, each pausing `pause` between requests.
    pub fn start(port: u16, threads: usize, body: &'static str, pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let threads = (0..threads)
            .map(|_| {
                let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match try_http(port, "POST", "/ping", &[], body.as_bytes()) {
                            Ok(r) if r.status == 204 => {
                                answered.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(r) => panic!("unexpected answer {}: {}", r.status, r.text()),
                            // Refused or reset while nginx shuts down: not answered, not counted.
                            Err(_) => thread::sleep(Duration::from_millis(5)),
                        }
                        if !pause.is_zero() {
                            thread::sleep(pause);
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            answered,
            threads,
        }
    }

    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::Relaxed)
    }

    /// Waits until at least `at_least` beacons were answered.
    pub fn wait_for(&self, at_least: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.answered() < at_least {
            assert!(Instant::now() < deadline, "load stalled at {}", self.answered());
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the clients and returns how many beacons were answered.
    pub fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        for t in std::mem::take(&mut self.threads) {
            t.join().unwrap();
        }
        self.answered.load(Ordering::Relaxed)
    }
}

impl Drop for Load {
    /// A test that fails before `finish` must not leave its clients running.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Posts every body to `path` over `connections` keep-alive connections (bodies dealt out round
/// robin), as fast as nginx answers; returns how many were answered with each status.
pub fn post_all(
    port: u16,
    path: &str,
    bodies: Vec<String>,
    connections: usize,
) -> std::collections::BTreeMap<u16, usize> {
    use std::io::{BufRead, BufReader, Read, Write};
    let connections = connections.max(1);
    let mut shares: Vec<Vec<String>> = vec![Vec::new(); connections];
    for (i, body) in bodies.into_iter().enumerate() {
        shares[i % connections].push(body);
    }
    let threads: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let path = path.to_owned();
            std::thread::spawn(move || {
                let mut counts = std::collections::BTreeMap::new();
                // nginx closes a keep-alive connection after 1,000 requests (keepalive_requests).
                for group in share.chunks(500) {
                let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                for body in group {
                    let head = format!(
                        "POST {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {}\r\nContent-Length: {}\r\n\r\n",
                        super::BROWSER_USER_AGENT,
                        body.len()
                    );
                    writer.write_all((head + body).as_bytes()).unwrap();
                    let mut status_line = String::new();
                    reader.read_line(&mut status_line).unwrap();
                    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut skip = vec![0u8; length];
                    reader.read_exact(&mut skip).unwrap();
                    *counts.entry(status).or_insert(0) += 1;
                }
                }
                counts
            })
        })
        .collect();
    let mut total = std::collections::BTreeMap::new();
    for t in threads {
        for (status, n) in t.join().unwrap() {
            *total.entry(status).or_insert(0) += n;
        }
    }
    total
}
