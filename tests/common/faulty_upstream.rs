//! A write API that misbehaves on demand: a threaded HTTP/1.1 server on loopback that reads the
//! sink's requests (`Content-Length` bodies, gzip or not) and answers as the current
//! [`Behaviour`] says. A test switches the behaviour while nginx keeps sending. The server records
//! every request (when, under which behaviour) and the lines of every request it accepted. An
//! answer already begun is finished as the behaviour that began it says (a switch applies to the
//! next request), until the client closes, the server stops, or it goes down.
//!
//! Everything here is bounded: heads, bodies and never-ending answers have caps, every blocking
//! read or write wakes up every [`POLL`] to see whether to stop, and dropping the server stops
//! and joins all its threads.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How the server answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// `204`; the lines of the body are recorded (see [`FaultyUpstream::lines`]).
    Accept,
    /// A status line that is not one (a status past `u16`, bytes that are not UTF-8), then close.
    GarbageStatus,
    /// A chunked `200` whose first chunk claims `FFFFFFFFFFFFFFFF` bytes, then close.
    HugeChunkSize,
    /// A chunked `200` whose chunk size has 20 hex digits (more than 64 bits), then close.
    OverflowingChunkSize,
    /// `200` without a length, and a body that never ends: it goes on until the client closes,
    /// and past [`ENDLESS_CAP`] (or when the server stops) the connection is reset, never closed,
    /// since a close would end such a body as if it were complete.
    EndlessBody,
    /// A chunked `200` of 1-byte chunks that never ends, as [`Behaviour::EndlessBody`].
    EndlessTinyChunks,
    /// A valid `204`, one byte a second; the lines are recorded if it was all sent.
    OneBytePerSecond,
    /// Half a status line, then close.
    CloseMidAnswer,
    /// `100 Continue`, then a `204` a moment later; the lines are recorded.
    ContinueThenAccept,
    /// `500` with a 10 MiB body (with its `Content-Length`).
    OversizedAnswer,
    /// `503` with `Retry-After: 0`.
    RetryAfterZero,
    /// `503` with `Retry-After` of this many seconds.
    RetryAfter(u32),
    /// `503` with `Retry-After` as an HTTP date this many seconds from now, and `Date: now`.
    RetryAfterDate(u32),
    /// Exactly these bytes, as a whole answer (status line, headers and body).
    Raw(&'static str),
    /// `400` whose body is the whole request: request line, headers (a token too) and body.
    EchoRequest,
    /// This status, with a short JSON error message.
    Refuse(u16),
    /// Nothing listens on the port any more and open connections are closed; switching to any
    /// other behaviour listens again on the same port.
    Down,
}

/// A request the server read, and the behaviour that answered it.
#[derive(Debug, Clone, Copy)]
pub struct RequestSeen {
    pub at: Instant,
    pub behaviour: Behaviour,
}

/// How often a blocked accept, read or write looks at the stop flag and the behaviour.
const POLL: Duration = Duration::from_millis(100);
const MAX_HEAD: usize = 64 << 10;
/// Largest request body read (and largest gzip body once decompressed).
const MAX_BODY: usize = 64 << 20;
/// Where a never-ending answer gives up: past the memory bound the tests set for a worker, so that
/// a reader keeping everything shows, yet a bound.
const ENDLESS_CAP: usize = 256 << 20;
const OVERSIZED_BODY: usize = 10 << 20;

const NO_CONTENT: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";

pub struct FaultyUpstream {
    pub port: u16,
    shared: Arc<Shared>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    stop: AtomicBool,
    requests: Mutex<Vec<RequestSeen>>,
    lines: Mutex<Vec<String>>,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

impl FaultyUpstream {
    pub fn start(behaviour: Behaviour) -> FaultyUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("bound address").port();
        let upstream = FaultyUpstream {
            port,
            shared: Arc::new(Shared {
                behaviour: Mutex::new(Behaviour::Accept),
                stop: AtomicBool::new(false),
                requests: Mutex::new(Vec::new()),
                lines: Mutex::new(Vec::new()),
                connections: Mutex::new(Vec::new()),
            }),
            acceptor: Mutex::new(None),
        };
        upstream.accept_on(listener);
        upstream.set(behaviour);
        upstream
    }

    /// `http://127.0.0.1:<port><path_and_query>`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.port)
    }

    pub fn behaviour(&self) -> Behaviour {
        self.shared.behaviour()
    }

    /// Switches to `behaviour` for the requests read from now on. Switching to [`Behaviour::Down`]
    /// returns once nothing listens and every connection is closed.
    pub fn set(&self, behaviour: Behaviour) {
        let was = std::mem::replace(&mut *lock(&self.shared.behaviour), behaviour);
        if behaviour == Behaviour::Down && was != Behaviour::Down {
            self.join_threads();
        } else if was == Behaviour::Down && behaviour != Behaviour::Down {
            self.accept_on(listen_again(self.port));
        }
    }

    /// Every line of every request answered with a `204` (all of it sent).
    pub fn lines(&self) -> Vec<String> {
        lock(&self.shared.lines).clone()
    }

    pub fn requests(&self) -> Vec<RequestSeen> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests `behaviour` answered.
    pub fn requests_under(&self, behaviour: Behaviour) -> usize {
        self.request_times(behaviour).len()
    }

    /// When the requests that `behaviour` answered arrived, in order.
    pub fn request_times(&self, behaviour: Behaviour) -> Vec<Instant> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.behaviour == behaviour)
            .map(|r| r.at)
            .collect()
    }

    fn accept_on(&self, listener: TcpListener) {
        let shared = Arc::clone(&self.shared);
        *lock(&self.acceptor) = Some(thread::spawn(move || accept_loop(listener, &shared)));
    }

    /// Waits for the acceptor (it ends when stopped or down) and every connection.
    fn join_threads(&self) {
        if let Some(acceptor) = lock(&self.acceptor).take() {
            let _ = acceptor.join();
        }
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for connection in connections {
            let _ = connection.join();
        }
    }
}

impl Drop for FaultyUpstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.join_threads();
    }
}

impl Shared {
    fn behaviour(&self) -> Behaviour {
        *lock(&self.behaviour)
    }

    /// Whether a connection should end now, even in the middle of an answer: the server stops, or
    /// is down.
    fn closing(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.behaviour() == Behaviour::Down
    }

    fn record_lines(&self, body: &[u8]) {
        let text = String::from_utf8_lossy(body);
        lock(&self.lines).extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
    }
}

/// A poisoned lock only means another test thread panicked; the data is still what it was.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Binds `port` again after [`Behaviour::Down`]. While it was free, the kernel may have lent it to
/// a client socket for a moment: try for a while.
fn listen_again(port: u16) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(listener) => return listener,
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("cannot listen on port {port} again: {e}"),
        }
    }
}

fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !shared.closing() {
        match listener.accept() {
            Ok((stream, _)) => {
                let for_connection = Arc::clone(shared);
                let connection = thread::spawn(move || serve(stream, &for_connection));
                let mut connections = lock(&shared.connections);
                connections.retain(|c| !c.is_finished());
                connections.push(connection);
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let ready = stream.set_nonblocking(false).is_ok()
        && stream.set_read_timeout(Some(POLL)).is_ok()
        && stream.set_write_timeout(Some(POLL)).is_ok();
    if !ready {
        return;
    }
    let mut connection = Connection {
        stream,
        shared,
        unread: Vec::new(),
    };
    while let Some(request) = connection.read_request() {
        let behaviour = shared.behaviour();
        lock(&shared.requests).push(RequestSeen {
            at: Instant::now(),
            behaviour,
        });
        if !connection.answer(&request, behaviour) || request.close {
            return;
        }
    }
}

struct Request {
    /// The request as it arrived: request line, headers and body.
    raw: Vec<u8>,
    /// The body, decompressed if it came gzipped.
    body: Vec<u8>,
    /// The client asked to close the connection after the answer (`Connection: close`).
    close: bool,
}

struct Connection<'a> {
    stream: TcpStream,
    shared: &'a Shared,
    /// Bytes read past the end of the previous request.
    unread: Vec<u8>,
}

impl Connection<'_> {
    /// The next request, or `None` when the client closed, the request is one this server does
    /// not read (chunked, over the caps), or the server stops.
    fn read_request(&mut self) -> Option<Request> {
        let head_end = loop {
            if let Some(at) = find(&self.unread, b"\r\n\r\n") {
                break at + 4;
            }
            if self.unread.len() > MAX_HEAD {
                return None;
            }
            self.read_more()?;
        };
        let head = String::from_utf8_lossy(&self.unread[..head_end]).into_owned();
        let length = match header(&head, "content-length") {
            Some(value) => value.parse::<usize>().ok()?,
            None => 0,
        };
        if length > MAX_BODY || header(&head, "transfer-encoding").is_some() {
            return None;
        }
        let end = head_end.checked_add(length)?;
        while self.unread.len() < end {
            self.read_more()?;
        }
        let raw: Vec<u8> = self.unread.drain(..end).collect();
        let body = match header(&head, "content-encoding") {
            Some(coding) if coding.eq_ignore_ascii_case("gzip") => gunzip(&raw[head_end..])?,
            Some(_) => return None,
            None => raw[head_end..].to_vec(),
        };
        let close = header(&head, "connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        Some(Request { raw, body, close })
    }

    fn read_more(&mut self) -> Option<()> {
        let mut buf = [0u8; 64 << 10];
        loop {
            if self.shared.closing() {
                return None;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => {
                    self.unread.extend_from_slice(&buf[..n]);
                    return Some(());
                }
                Err(e) if is_timeout(&e) => {}
                Err(_) => return None,
            }
        }
    }

    /// Answers as `behaviour` says; false when the connection is to be closed.
    fn answer(&mut self, request: &Request, behaviour: Behaviour) -> bool {
        match behaviour {
            Behaviour::Accept => self.accept(request, NO_CONTENT),
            Behaviour::GarbageStatus => {
                self.send(b"HTTP/1.1 99999999999999999999 \xff\xfe\r\nContent-Length: 0\r\n\r\n");
                false
            }
            Behaviour::HugeChunkSize => {
                self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nthe start of a chunk");
                false
            }
            Behaviour::OverflowingChunkSize => {
                self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000000\r\nthe start of a chunk");
                false
            }
            Behaviour::EndlessBody => {
                self.send_endlessly(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
                    &[b'x'; 64 << 10],
                );
                false
            }
            Behaviour::EndlessTinyChunks => {
                // Many chunks per write, to be quick; each chunk is still one byte.
                let chunks = b"1\r\nx\r\n".repeat(1024);
                self.send_endlessly(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &chunks);
                false
            }
            Behaviour::OneBytePerSecond => {
                for (i, byte) in NO_CONTENT.iter().enumerate() {
                    if (i > 0 && !self.pause(Duration::from_secs(1))) || !self.send(&[*byte]) {
                        return false;
                    }
                }
                self.shared.record_lines(&request.body);
                true
            }
            Behaviour::CloseMidAnswer => {
                self.send(b"HTTP/1.1 204 No Con");
                false
            }
            Behaviour::ContinueThenAccept => {
                self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                    && self.pause(Duration::from_millis(20))
                    && self.accept(request, NO_CONTENT)
            }
            Behaviour::OversizedAnswer => {
                let head = format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\
                     Content-Length: {OVERSIZED_BODY}\r\n\r\n"
                );
                self.send(head.as_bytes())
                    && vec![b'e'; OVERSIZED_BODY]
                        .chunks(64 << 10)
                        .all(|block| self.send(block))
            }
            Behaviour::RetryAfterZero => {
                self.send(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n")
            }
            Behaviour::RetryAfter(seconds) => {
                let head = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {seconds}\r\nContent-Length: 0\r\n\r\n"
                );
                self.send(head.as_bytes())
            }
            Behaviour::RetryAfterDate(seconds) => {
                let now = std::time::SystemTime::now();
                let head = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nDate: {}\r\nRetry-After: {}\r\n\
                     Content-Length: 0\r\n\r\n",
                    http_date(now),
                    http_date(now + Duration::from_secs(u64::from(seconds)))
                );
                self.send(head.as_bytes())
            }
            Behaviour::Raw(answer) => self.send(answer.as_bytes()),
            Behaviour::EchoRequest => {
                let head = format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    request.raw.len()
                );
                self.send(head.as_bytes()) && self.send(&request.raw)
            }
            Behaviour::Refuse(status) => {
                let message = br#"{"error":"refused by the test's write API"}"#;
                let head = format!(
                    "HTTP/1.1 {status} Refused\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    message.len()
                );
                self.send(head.as_bytes()) && self.send(message)
            }
            Behaviour::Down => false,
        }
    }

    /// Sends `answer` (a 2xx) and, once it is all sent, records the request's lines.
    fn accept(&mut self, request: &Request, answer: &[u8]) -> bool {
        let sent = self.send(answer);
        if sent {
            self.shared.record_lines(&request.body);
        }
        sent
    }

    /// Sends all of `bytes`; false if the client closed, or the server stops or goes down.
    fn send(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.shared.closing() {
                return false;
            }
            match self.stream.write(bytes) {
                Ok(0) => return false,
                Ok(n) => bytes = &bytes[n..],
                Err(e) if is_timeout(&e) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Sends `head`, then `block` again and again until the client closes, the server stops or
    /// goes down, or [`ENDLESS_CAP`] bytes were sent; then resets the connection.
    fn send_endlessly(&mut self, head: &[u8], block: &[u8]) {
        let mut sent = 0;
        let mut more = self.send(head);
        while more && sent < ENDLESS_CAP {
            more = self.send(block);
            sent += block.len();
        }
        // With a zero linger time, closing sends a reset and drops what is still unsent.
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }

    /// Waits `length`, unless the server stops or goes down first (then false).
    fn pause(&self, length: Duration) -> bool {
        let until = Instant::now() + length;
        while Instant::now() < until {
            if self.shared.closing() {
                return false;
            }
            thread::sleep(Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())));
        }
        true
    }
}

/// `time` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), computed here independently of
/// the module's parser.
pub fn http_date(time: std::time::SystemTime) -> String {
    let seconds = time
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` in a request head.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY as u64)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}
