//! The HTTP sink: batches of lines POSTed to a write API over a keep-alive HTTP/1.1 connection
//! that lives on nginx's event loop (`ngx_event_connect_peer`, non-blocking send and receive,
//! nginx timers), so a slow or absent upstream never stalls the worker.
//!
//! A batch handed to this sink is its to deliver: it stays in memory (at most one batch, split in
//! two on a `413`) until the upstream accepts it, refuses it for good, or the worker must exit;
//! each outcome is counted. While it is busy, new lines wait in the worker's bounded buffer.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::net::SocketAddr;
use std::ptr;

use analytics_core::delivery::{backoff_ms, verdict, Verdict};
use analytics_core::http_request::write_request;
use analytics_core::http_response::{parse_response, Parse, Response};
use nginx_sys::{
    ngx_add_timer, ngx_close_connection, ngx_connection_log_error_e_NGX_ERROR_ERR, ngx_connection_t,
    ngx_current_msec, ngx_del_timer, ngx_event_connect_peer, ngx_event_get_peer, ngx_event_t, ngx_exiting,
    ngx_handle_read_event, ngx_handle_write_event, ngx_log_t, ngx_msec_t, ngx_peer_connection_t,
    ngx_post_event, ngx_posted_events, ngx_random, ngx_str_t, ngx_time, sockaddr, sockaddr_in, sockaddr_in6,
    sockaddr_storage, socklen_t, AF_INET, AF_INET6, NGX_AGAIN, NGX_LOG_ERR, NGX_LOG_NOTICE, NGX_OK,
};
use ngx::ngx_log_error;

use super::SendOutcome;
use crate::shared_state::{Counter, SharedState};

/// What the configuration says about an HTTP sink.
#[derive(Clone)]
pub struct HttpTarget {
    pub peer: SocketAddr,
    /// The `Host` header: the host and port as written in the sink URL.
    pub host: String,
    pub path_and_query: String,
    /// Extra headers, such as `Authorization: Token ...`. Never logged.
    pub headers: Vec<(String, String)>,
    pub timeout_ms: ngx_msec_t,
    pub exit_timeout_ms: ngx_msec_t,
    /// Lines per request (`batch=`).
    pub batch_lines: usize,
    /// Send bodies gzip-compressed (`gzip=on`).
    pub gzip: bool,
}

pub struct HttpSink {
    target: HttpTarget,
    /// For the error log: scheme, host, port and path, never the query or headers.
    address: String,
    peer_addr: sockaddr_storage,
    peer_len: socklen_t,
    peer_name: ngx_str_t,
    /// Batches taken and not yet settled; the front one is being sent.
    queue: VecDeque<Vec<u8>>,
    conn: *mut ngx_connection_t,
    /// The connection is open between requests (keep-alive).
    idle: bool,
    request: Vec<u8>,
    sent: usize,
    response: Vec<u8>,
    attempt: u32,
    retry_timer: ngx_event_t,
    /// The worker's flush event, posted when this sink can take the next batch.
    flush_event: *mut ngx_event_t,
    exit_deadline: Option<ngx_msec_t>,
    shared: &'static SharedState,
    log: *mut ngx_log_t,
    last_notice: i64,
}

impl HttpSink {
    pub fn new(
        target: HttpTarget,
        address: String,
        shared: &'static SharedState,
        log: *mut ngx_log_t,
    ) -> HttpSink {
        // SAFETY: all-zero is a valid sockaddr_storage and a valid initial ngx_event_t.
        let (mut peer_addr, retry_timer): (sockaddr_storage, ngx_event_t) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        let peer_len = write_sockaddr(&target.peer, &mut peer_addr);
        HttpSink {
            target,
            address,
            peer_addr,
            peer_len,
            peer_name: ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            },
            queue: VecDeque::new(),
            conn: ptr::null_mut(),
            idle: false,
            request: Vec::new(),
            sent: 0,
            response: Vec::new(),
            attempt: 0,
            retry_timer,
            flush_event: ptr::null_mut(),
            exit_deadline: None,
            shared,
            log,
            last_notice: 0,
        }
    }

    /// Called once this sink sits at its final address (inside the boxed worker sink).
    pub fn bind(&mut self, flush_event: *mut ngx_event_t) {
        let this: *mut HttpSink = self;
        self.flush_event = flush_event;
        self.retry_timer.handler = Some(on_retry_timer);
        self.retry_timer.data = this.cast();
        self.retry_timer.log = self.log;
        self.peer_name = ngx_str_t {
            len: self.address.len(),
            data: self.address.as_ptr().cast_mut(),
        };
    }

    pub fn batch_lines(&self) -> usize {
        self.target.batch_lines
    }

    pub fn busy(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Takes a batch of whole lines to deliver, unless one is still on its way.
    pub fn send(&mut self, batch: &[u8]) -> SendOutcome {
        if self.busy() {
            return SendOutcome::Busy;
        }
        self.queue.push_back(batch.to_vec());
        self.attempt = 0;
        self.start();
        SendOutcome::Taken(batch.len())
    }

    /// Sends the front batch, on the open connection or a new one.
    fn start(&mut self) {
        let Some(body) = self.queue.front() else { return };
        let t = &self.target;
        if t.gzip {
            // Fastest level: a batch compresses in a few milliseconds, and text still shrinks ~8x.
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let compressed = std::io::Write::write_all(&mut encoder, body).and_then(|()| encoder.finish());
            match compressed {
                Ok(gz) => {
                    let mut headers = t.headers.clone();
                    headers.push(("Content-Encoding".to_owned(), "gzip".to_owned()));
                    write_request(&mut self.request, &t.host, &t.path_and_query, &headers, &gz);
                }
                Err(_) => write_request(&mut self.request, &t.host, &t.path_and_query, &t.headers, body),
            }
        } else {
            write_request(&mut self.request, &t.host, &t.path_and_query, &t.headers, body);
        }
        self.sent = 0;
        self.response.clear();
        self.idle = false;
        if self.conn.is_null() {
            if let Err(reason) = self.connect() {
                return self.failed(&reason);
            }
            // SAFETY: connect() set a live connection.
            let connecting = unsafe { (*(*self.conn).write).ready() == 0 };
            if connecting {
                // SAFETY: the write event of our live connection; the timer bounds the connect.
                unsafe { ngx_add_timer((*self.conn).write, self.target.timeout_ms) };
                return;
            }
        }
        self.on_writable();
    }

    fn connect(&mut self) -> Result<(), String> {
        // SAFETY: all-zero is the documented initial state of a peer connection.
        let mut pc: ngx_peer_connection_t = unsafe { std::mem::zeroed() };
        pc.sockaddr = ptr::addr_of_mut!(self.peer_addr).cast::<sockaddr>();
        pc.socklen = self.peer_len;
        pc.name = &mut self.peer_name;
        pc.get = Some(ngx_event_get_peer);
        pc.log = self.log;
        pc.set_log_error(ngx_connection_log_error_e_NGX_ERROR_ERR);
        // SAFETY: `pc` points to this sink's address and name, which outlive the connection;
        // nginx copies what it keeps. The call is non-blocking.
        let rc = unsafe { ngx_event_connect_peer(&mut pc) };
        if rc != NGX_OK as isize && rc != NGX_AGAIN as isize {
            return Err("cannot connect".to_owned());
        }
        let c = pc.connection;
        // SAFETY: on NGX_OK or NGX_AGAIN nginx returns a live connection that is ours until we
        // close it; its events call back with `data` pointing to this sink, which lives as long
        // as the worker.
        unsafe {
            (*c).data = (self as *mut HttpSink).cast::<c_void>();
            (*(*c).read).handler = Some(on_read);
            (*(*c).write).handler = Some(on_write);
            (*c).log = self.log;
            (*(*c).read).log = self.log;
            (*(*c).write).log = self.log;
        }
        self.conn = c;
        Ok(())
    }

    fn on_writable(&mut self) {
        let c = self.conn;
        // SAFETY: called only while `conn` is our live connection.
        unsafe {
            if (*(*c).write).timedout() != 0 {
                return self.failed("timed out connecting or sending");
            }
            while self.sent < self.request.len() {
                let rest = &self.request[self.sent..];
                let n = ((*c).send.expect("connections can send"))(c, rest.as_ptr().cast_mut(), rest.len());
                if n > 0 {
                    self.sent += n as usize;
                } else if n == NGX_AGAIN as isize {
                    if ngx_handle_write_event((*c).write, 0) != NGX_OK as isize {
                        return self.failed("cannot wait to send");
                    }
                    if (*(*c).write).timer_set() == 0 {
                        ngx_add_timer((*c).write, self.target.timeout_ms);
                    }
                    return;
                } else {
                    return self.failed("connection lost while sending");
                }
            }
            if (*(*c).write).timer_set() != 0 {
                ngx_del_timer((*c).write);
            }
            ngx_add_timer((*c).read, self.target.timeout_ms);
        }
        self.on_readable();
    }

    fn on_readable(&mut self) {
        let c = self.conn;
        // SAFETY: called only while `conn` is our live connection.
        unsafe {
            if (*(*c).read).timedout() != 0 {
                return self.failed("timed out waiting for the answer");
            }
            if self.idle {
                // An idle keep-alive connection became readable: the upstream closed it.
                return self.close();
            }
            let mut buf = [0u8; 4096];
            loop {
                let n = ((*c).recv.expect("connections can receive"))(c, buf.as_mut_ptr(), buf.len());
                let closed = n == 0;
                if n > 0 {
                    self.response.extend_from_slice(&buf[..n as usize]);
                } else if n == NGX_AGAIN as isize {
                    if ngx_handle_read_event((*c).read, 0) != NGX_OK as isize {
                        return self.failed("cannot wait for the answer");
                    }
                    return;
                } else if !closed {
                    return self.failed("connection lost while reading");
                }
                match parse_response(&self.response, closed) {
                    Parse::Done(response) => return self.answered(response),
                    Parse::Invalid(e) => return self.failed(&format!("invalid answer: {e}")),
                    Parse::Incomplete if closed => return self.failed("connection closed before the answer"),
                    Parse::Incomplete => {}
                }
            }
        }
    }

    fn answered(&mut self, response: Response) {
        // SAFETY: `conn` is our live connection.
        unsafe {
            if (*(*self.conn).read).timer_set() != 0 {
                ngx_del_timer((*self.conn).read);
            }
        }
        // SAFETY: reads a global written only by this worker's event loop.
        if !response.keep_alive || unsafe { ngx_exiting } != 0 {
            self.close();
        } else {
            // Idle: a readable event now means the upstream closed it (see on_readable).
            self.idle = true;
        }
        let lines = count_lines(self.queue.front().map_or(&[][..], |b| b.as_slice()));
        let verdict = verdict(Some(response.status));
        let batches = if verdict == Verdict::Delivered {
            Counter::BatchesOk
        } else {
            Counter::BatchesFailed
        };
        self.shared.add(batches, 1);
        match verdict {
            Verdict::Delivered => {
                self.shared.add(Counter::LinesWritten, lines);
                self.shared.add(
                    Counter::BytesWritten,
                    self.queue.front().map_or(0, Vec::len) as u64,
                );
                self.settled();
            }
            Verdict::Refused => {
                let message = upstream_message(&response.body);
                ngx_log_error!(
                    NGX_LOG_ERR,
                    self.log,
                    "analytics: {} refused {} lines with {}: {}",
                    self.address,
                    lines,
                    response.status,
                    message
                );
                self.shared.add(Counter::DroppedRefused, lines);
                self.settled();
            }
            Verdict::TooLarge => {
                let batch = self.queue.pop_front().unwrap_or_default();
                match split_in_two(&batch) {
                    Some((first, second)) => {
                        self.queue.push_front(second.to_vec());
                        self.queue.push_front(first.to_vec());
                        self.start();
                    }
                    None => {
                        ngx_log_error!(
                            NGX_LOG_ERR,
                            self.log,
                            "analytics: {} refused one line as too large",
                            self.address
                        );
                        self.shared.add(Counter::DroppedRefused, lines);
                        self.settled_without_pop();
                    }
                }
            }
            Verdict::Misconfigured => {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    self.log,
                    "analytics: {} answered {}: check the sink's URL, database and token ({}); lines keep \
                     waiting in the buffer",
                    self.address,
                    response.status,
                    upstream_message(&response.body)
                );
                self.retry(None);
            }
            Verdict::SlowDown => self.retry(response.retry_after_s.map(|s| s.min(300) * 1000)),
            Verdict::Retry => {
                self.notice(&format!(
                    "answered {}: {}",
                    response.status,
                    upstream_message(&response.body)
                ));
                self.retry(None);
            }
        }
    }

    /// The front batch is settled: go on with the next, or ask the worker for more lines.
    fn settled(&mut self) {
        self.queue.pop_front();
        self.settled_without_pop();
    }

    fn settled_without_pop(&mut self) {
        self.attempt = 0;
        if self.busy() {
            return self.start();
        }
        if !self.flush_event.is_null() {
            // SAFETY: the worker's flush event lives as long as the worker; posting it runs the
            // worker's flush on this event-loop iteration.
            unsafe {
                if (*self.flush_event).posted() == 0 {
                    ngx_post_event(self.flush_event, ptr::addr_of_mut!(ngx_posted_events));
                }
            }
        }
    }

    fn failed(&mut self, reason: &str) {
        self.shared.add(Counter::BatchesFailed, 1);
        self.close();
        self.notice(reason);
        self.retry(None);
    }

    /// Tries the front batch again later, unless the worker is exiting and its time is up.
    fn retry(&mut self, delay_ms: Option<u64>) {
        // SAFETY: reads globals written only by this worker's event loop.
        let (exiting, now) = unsafe { (ngx_exiting != 0, ngx_current_msec) };
        if exiting {
            let deadline = *self
                .exit_deadline
                .get_or_insert(now + self.target.exit_timeout_ms);
            if now >= deadline {
                return self.abandon("the worker is exiting and the sink still does not take them");
            }
        }
        self.attempt += 1;
        let delay = delay_ms.unwrap_or_else(|| backoff_ms(self.attempt, ngx_random() as u64));
        let delay = if exiting { delay.min(500) } else { delay };
        if self.retry_timer.timer_set() == 0 {
            // SAFETY: the retry event lives inside this sink, bound by bind(); it is not
            // cancelable, so an exiting worker waits for it.
            unsafe { ngx_add_timer(&mut self.retry_timer, delay as ngx_msec_t) };
        }
    }

    /// Gives up on every batch this sink holds, counting them.
    pub fn abandon(&mut self, reason: &str) {
        self.close();
        if self.retry_timer.timer_set() != 0 {
            // SAFETY: the timer is set, so it is in nginx's timer tree.
            unsafe { ngx_del_timer(&mut self.retry_timer) };
        }
        let lines: u64 = self.queue.iter().map(|b| count_lines(b)).sum();
        self.queue.clear();
        if lines > 0 {
            crate::worker_sink::drop_at_exit(self.shared, self.log, lines, &self.address, reason);
        }
    }

    fn close(&mut self) {
        self.idle = false;
        if !self.conn.is_null() {
            // SAFETY: `conn` is our live connection; nginx removes its events and timers.
            unsafe { ngx_close_connection(self.conn) };
            self.conn = ptr::null_mut();
        }
    }

    /// Transient trouble is worth a line in the log, at most every 10 seconds.
    fn notice(&mut self, reason: &str) {
        let now = ngx_time() as i64;
        if now >= self.last_notice + 10 {
            ngx_log_error!(
                NGX_LOG_NOTICE,
                self.log,
                "analytics: {}: {}; retrying (attempt {})",
                self.address,
                reason,
                self.attempt + 1
            );
            self.last_notice = now;
        }
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Two halves of whole lines, or `None` for a single line.
fn split_in_two(batch: &[u8]) -> Option<(&[u8], &[u8])> {
    let middle = batch.len() / 2;
    let cut = batch[..middle].iter().rposition(|&b| b == b'\n').or_else(|| {
        batch[middle..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| middle + p)
            .filter(|&p| p + 1 < batch.len())
    })?;
    Some(batch.split_at(cut + 1))
}

/// The upstream's message, made safe for a log line.
fn upstream_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn write_sockaddr(addr: &SocketAddr, out: &mut sockaddr_storage) -> socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large enough and suitably aligned for any sockaddr.
            let sin = unsafe { &mut *(out as *mut sockaddr_storage).cast::<sockaddr_in>() };
            sin.sin_family = AF_INET as _;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            std::mem::size_of::<sockaddr_in>() as socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(out as *mut sockaddr_storage).cast::<sockaddr_in6>() };
            sin6.sin6_family = AF_INET6 as _;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.__in6_u.__u6_addr8 = v6.ip().octets();
            sin6.sin6_scope_id = v6.scope_id();
            std::mem::size_of::<sockaddr_in6>() as socklen_t
        }
    }
}

/// # Safety
/// `ev` must be an event of a connection made by [`HttpSink::connect`].
unsafe fn sink_of(ev: *mut ngx_event_t) -> &'static mut HttpSink {
    // SAFETY (caller): the event's `data` is its connection, whose `data` is the sink, which
    // lives as long as the worker; the worker is single-threaded.
    unsafe { &mut *(*(*ev).data.cast::<ngx_connection_t>()).data.cast::<HttpSink>() }
}

extern "C" fn on_write(ev: *mut ngx_event_t) {
    // SAFETY: nginx calls this for the write event of our connection.
    let sink = unsafe { sink_of(ev) };
    if sink.idle {
        return; // an idle keep-alive connection has nothing to send
    }
    sink.on_writable();
}

extern "C" fn on_read(ev: *mut ngx_event_t) {
    // SAFETY: nginx calls this for the read event of our connection.
    let sink = unsafe { sink_of(ev) };
    sink.on_readable();
}

extern "C" fn on_retry_timer(ev: *mut ngx_event_t) {
    // SAFETY: `data` was set by bind() to the sink that owns this event.
    let sink = unsafe { &mut *(*ev).data.cast::<HttpSink>() };
    sink.start();
}
