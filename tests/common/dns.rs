//! A tiny programmable DNS server on a free UDP port of 127.0.0.1: it answers `A` queries for one
//! name with an address the test can change, and every other query with no answer. Enough for
//! nginx's `resolver`, written by hand to need no DNS crate.

use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const TYPE_A: u16 = 1;

pub struct DnsServer {
    pub port: u16,
    address: Arc<Mutex<Ipv4Addr>>,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl DnsServer {
    /// Answers `name` with `address` until told otherwise.
    pub fn start(name: &str, address: Ipv4Addr) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let port = socket.local_addr().unwrap().port();
        let address = Arc::new(Mutex::new(address));
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let name = name.to_ascii_lowercase();
        let thread = {
            let (address, queries, stop) = (address.clone(), queries.clone(), stop.clone());
            thread::spawn(move || {
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let Some((asked, qtype, question_end)) = question(&buf[..n]) else {
                        continue;
                    };
                    queries.fetch_add(1, Ordering::Relaxed);
                    let answer = (qtype == TYPE_A && asked == name).then(|| *address.lock().unwrap());
                    let reply = reply(&buf[..question_end], answer);
                    let _ = socket.send_to(&reply, from);
                }
            })
        };
        DnsServer {
            port,
            address,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    /// Answers with `address` from now on.
    pub fn set(&self, address: Ipv4Addr) {
        *self.address.lock().unwrap() = address;
    }

    /// Queries answered so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The name (lower case, dotted), type and end of the one question of a query.
fn question(query: &[u8]) -> Option<(String, u16, usize)> {
    if query.len() < 12 || query[2] & 0x80 != 0 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    // Type and class.
    let end = at + 4;
    (end <= query.len()).then(|| (labels.join("."), qtype, end))
}

/// The reply to `query` (its header and question): one `A` record, or none.
fn reply(query: &[u8], answer: Option<Ipv4Addr>) -> Vec<u8> {
    let mut out = query.to_vec();
    // QR, opcode 0, AA, RD as asked; RA; no error.
    out[2] = 0x84 | (query[2] & 0x01);
    out[3] = 0x80;
    // One question, `answer.is_some()` answers, no authority or additional records.
    out[6..12].copy_from_slice(&[0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    if let Some(ip) = answer {
        // The name as a pointer to the question's, type A, class IN, TTL 1 s, 4 bytes.
        out.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4]);
        out.extend_from_slice(&ip.octets());
    }
    out
}
