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
