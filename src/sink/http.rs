//! The HTTP sink: batches of lines POSTed to a write API over a keep-alive HTTP/1.1 connection on
//! nginx's event loop, so a slow, absent or hostile upstream never stalls the worker.
//!
//! A batch handed to this sink is its to deliver: it stays in memory (one batch, or its halves
//! after a `413`) until the upstream accepts it, refuses it (wholly or in part) for good, or the
//! worker must exit; each outcome is counted, line by line. What it holds counts against the
//! worker's `buffer=`, and a request's body is sent from the batch itself, never copied. Each exchange (connect, send, answer) has one absolute deadline that
//! progress cannot push back, and the answer is read by a bounded incremental parser: an answer
//! over its caps, malformed, or late fails the exchange, and the batch is retried after a back-off.
//! What to do after each exchange is decided by the pure rules of `analytics_core::delivery`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use analytics_core::delivery::{verdict, Action, Delivery, Exchange, Verdict};
use analytics_core::http::request::write_request_head;
use analytics_core::http::response::{Limits, Progress, Response, ResponseReader};
use analytics_core::http::write_answer::refused_lines;
use analytics_core::log_excerpt::{upstream_excerpt, Secrets};
use analytics_core::pending::PendingLines;
use nginx_sys::{ngx_event_t, ngx_log_t, ngx_msec_t, ngx_random, ngx_time, NGX_LOG_ERR, NGX_LOG_NOTICE};
use ngx::ngx_log_error;

use super::http_last_attempt::LastAttempt;
use super::http_pool::HttpPool;
use super::SendOutcome;
use crate::net::connection::{Connection, Io, PeerAddress};
use crate::net::tls::{Handshake, TlsClient, TlsTarget};
use crate::panic_guard::contain;
use crate::shared_state::{Counter, SharedState};
use crate::timer::{exiting, now_ms, Alarm};
use crate::worker::{self, drop_at_exit};

/// Most bytes of lines in one request.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Bytes read from the socket per call.
const READ_CHUNK: usize = 4096;

/// What the configuration says about an HTTP sink.
#[derive(Clone)]
pub struct HttpTarget {
    pub peer: SocketAddr,
    /// The `Host` header: the host and port as written in the sink URL.
    pub host: String,
    pub path_and_query: String,
    /// Extra headers, such as `Authorization: Token ...`. Never logged.
    pub headers: Vec<(String, String)>,
    /// The deadline of one exchange: connect, send and answer together.
    pub timeout_ms: ngx_msec_t,
    pub exit_timeout_ms: ngx_msec_t,
    /// Lines per request (`batch=`).
    pub batch_lines: usize,
    /// Send bodies gzip-compressed (`gzip=on`).
    pub gzip: bool,
    /// TLS (`https://`), with its context and the name to verify.
    pub tls: Option<TlsTarget>,
}

impl HttpTarget {
    fn secrets(&self) -> Secrets {
        let values: Vec<&str> = self.headers.iter().map(|(_, v)| v.as_str()).collect();
        let query = self.path_and_query.split_once('?').map(|(_, q)| q);
        Secrets::new(&values, query)
    }
}

/// Lines taken from the worker, with their count (known from the worker's line index, so never
/// counted again here).
struct Batch {
    bytes: Vec<u8>,
    lines: usize,
}

/// Where the sink is between batches.
enum State {
    /// No batch: ready for the next.
    Idle,
    /// An exchange for the front batch is under way: its head, then its body (the batch itself,
    /// or `gz`, its compressed copy), sent from where they lie.
    Exchanging {
        head: Vec<u8>,
        gz: Option<Vec<u8>>,
        sent: usize,
        reader: ResponseReader,
    },
    /// Waiting for the retry timer before the next attempt at the front batch.
    BackingOff,
}

/// What the last exchange said about the upstream's health, for the pool (`http_pool`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum News {
    /// It answered with a status that settles the batch: it works.
    Answered,
    /// No answer, or one to retry: the batch waits this long before its next attempt here.
    /// `unanswered`: the upstream could not be reached or gave no usable answer in time (its
    /// name is worth looking up again).
    Failed { retry_in_ms: u64, unanswered: bool },
}

pub struct HttpSink {
    target: HttpTarget,
    /// For the error log: scheme, host, port and path, never the query or headers.
    address: String,
    secrets: Secrets,
    /// Where connections go: nginx points into it, so it is replaced (after the upstream's name
    /// resolved to a new address) only while no connection is open.
    peer: Box<PeerAddress>,
    /// The address in `peer`; `target.peer` differs from it once the name moved.
    peer_at: SocketAddr,
    /// The batch being delivered; two after a `413` split it.
    queue: VecDeque<Batch>,
    state: State,
    conn: Option<Connection>,
    /// `https://`: TLS on each connection, and the session a reconnect resumes.
    tls: Option<TlsClient>,
    /// The connection is open but its TLS handshake is not over.
    handshaking: bool,
    /// The TLS failure last logged: the same one is logged once per outage, not on every retry.
    tls_failure_logged: Option<String>,
    delivery: Delivery,
    /// One absolute deadline per exchange: progress never pushes it back.
    deadline: Alarm,
    retry: Alarm,
    /// Set when this worker is first seen shutting down: `exit_timeout=` from then.
    exit_deadline: Option<ngx_msec_t>,
    shared: &'static SharedState,
    log: *mut ngx_log_t,
    last_notice: i64,
    /// Not yet taken by the pool.
    news: Option<News>,
}

impl HttpSink {
    pub fn new(
        target: HttpTarget,
        address: &str,
        shared: &'static SharedState,
        log: *mut ngx_log_t,
    ) -> HttpSink {
        let logged = address.split('?').next().unwrap_or(address).to_owned();
        let tls = target.tls.as_ref().map(TlsClient::new);
        HttpSink {
            peer: PeerAddress::new(target.peer, &logged),
            peer_at: target.peer,
            secrets: target.secrets(),
            target,
            address: logged,
            queue: VecDeque::new(),
            state: State::Idle,
            conn: None,
            tls,
            handshaking: false,
            tls_failure_logged: None,
            delivery: Delivery::new(),
            deadline: Alarm::new(Some(on_deadline), log),
            retry: Alarm::new(Some(on_retry_timer), log),
            exit_deadline: None,
            shared,
            log,
            last_notice: 0,
            news: None,
        }
    }

    /// What the exchanges since the last call said about the upstream (the latest word).
    pub fn take_news(&mut self) -> Option<News> {
        self.news.take()
    }

    /// Where this exchange connects (its next connection, once the upstream's name moved).
    pub fn peer(&self) -> SocketAddr {
        self.target.peer
    }

    /// The upstream's name now resolves to `peer`: the next connection goes there (the open one,
    /// if any, is left to finish), and a batch waiting for its retry is tried there at once.
    pub fn move_to(&mut self, peer: SocketAddr) {
        self.target.peer = peer;
        if self.backing_off() {
            self.retry.clear();
            self.start();
        }
    }

    /// Waiting to retry its batch on this upstream.
    pub fn backing_off(&self) -> bool {
        matches!(self.state, State::BackingOff)
    }

    /// Gives the batches this sink waits to retry to `other`, which holds none, and starts it on
    /// them: the pool's failover to another upstream.
    pub fn hand_over(&mut self, other: &mut HttpSink) {
        other.take_batches_of(self);
        other.start();
    }

    /// Takes every batch `other` holds (behind its own), leaving `other` idle, without starting an
    /// exchange: a request in flight on `other` is given up, and its batch sent again from here.
    pub fn take_batches_of(&mut self, other: &mut HttpSink) {
        other.conn = None;
        other.deadline.clear();
        other.retry.clear();
        other.state = State::Idle;
        other.delivery.settled();
        self.queue.append(&mut other.queue);
    }

    pub fn batch_lines(&self) -> usize {
        self.target.batch_lines
    }

    /// Ready for a new batch: nothing in flight, nothing waiting to be retried.
    pub fn ready(&self) -> bool {
        self.queue.is_empty()
    }

    /// Bytes this sink holds: the batch (or its halves), and the request head and compressed body
    /// of the exchange under way.
    pub fn held_bytes(&self) -> usize {
        let batches: usize = self.queue.iter().map(|b| b.bytes.len()).sum();
        let exchange = match &self.state {
            State::Exchanging { head, gz, .. } => head.len() + gz.as_ref().map_or(0, Vec::len),
            State::Idle | State::BackingOff => 0,
        };
        batches + exchange
    }

    /// Takes a batch of whole lines to deliver, unless one is still on its way.
    pub fn send(&mut self, batch: &[u8], lines: usize) -> SendOutcome {
        if !self.ready() {
            return SendOutcome::Busy;
        }
        self.queue.push_back(Batch {
            bytes: batch.to_vec(),
            lines,
        });
        self.start();
        SendOutcome::Taken(batch.len())
    }

    /// Starts an exchange for the front batch, on the open connection or a new one.
    fn start(&mut self) {
        let Some(batch) = self.queue.front() else {
            self.state = State::Idle;
            return;
        };
        let (head, gz) = request_for(&self.target, &batch.bytes);
        self.state = State::Exchanging {
            head,
            gz,
            sent: 0,
            reader: ResponseReader::new(Limits::default()),
        };
        self.deadline.set(self.target.timeout_ms);
        if self.conn.is_none() {
            if self.peer_at != self.target.peer {
                // No connection points into the old box any more.
                self.peer = PeerAddress::new(self.target.peer, &self.address);
                self.peer_at = self.target.peer;
            }
            match Connection::connect(&mut self.peer, self.log, Some(on_connection_event)) {
                Ok((conn, connected)) => {
                    self.conn = Some(conn);
                    self.handshaking = self.tls.is_some();
                    if !connected {
                        // The write event reports the end of the connect.
                        return self.wait_writable();
                    }
                }
                Err(()) => return self.exchange_failed("cannot connect"),
            }
        }
        if self.handshaking {
            return self.handshake();
        }
        self.on_writable();
    }

    /// Whether `ev` is an event of this sink's connection.
    pub fn owns_event(&self, ev: *mut ngx_event_t) -> bool {
        self.conn.as_ref().is_some_and(|c| c.owns_event(ev))
    }

    /// Starts or continues the TLS handshake of a new connection; the request follows it, within
    /// the same exchange deadline.
    fn handshake(&mut self) {
        let (Some(conn), Some(tls)) = (self.conn.as_mut(), self.tls.as_mut()) else {
            return;
        };
        match tls.handshake(conn) {
            Handshake::Done => {
                self.handshaking = false;
                self.on_writable();
            }
            Handshake::Again => {}
            Handshake::Failed(reason) => {
                // Logged once until the next delivery, whatever the retries: the reason says
                // what to fix, and repeating it every back-off would bury the rest of the log.
                if self.tls_failure_logged.as_deref() != Some(reason.as_str()) {
                    ngx_log_error!(
                        NGX_LOG_ERR,
                        self.log,
                        "analytics: {}: {}; lines keep waiting in the buffer and are retried",
                        self.address,
                        reason
                    );
                    self.tls_failure_logged = Some(reason.clone());
                }
                self.failed_without_notice();
            }
        }
    }

    /// An event of our connection.
    fn on_connection_event(&mut self, ev: *mut ngx_event_t) {
        let Some(conn) = &self.conn else { return };
        if !conn.owns_event(ev) {
            return;
        }
        if conn.close_requested() {
            // worker_shutdown_timeout passed: nginx asks every connection to close now.
            return self.abandon("the worker's shutdown timeout passed before the sink took them");
        }
        let is_write = conn.is_write_event(ev);
        match self.state {
            State::Exchanging { .. } if self.handshaking => self.handshake(),
            State::Exchanging { .. } if is_write => self.on_writable(),
            State::Exchanging { .. } => self.on_readable(),
            // An idle keep-alive connection became readable: the upstream closed it, or sent
            // something unasked. Either way it is of no further use.
            State::Idle | State::BackingOff if !is_write => self.conn = None,
            State::Idle | State::BackingOff => {}
        }
    }

    fn wait_writable(&mut self) {
        if self.conn.as_mut().is_none_or(|c| c.wait_writable().is_err()) {
            self.exchange_failed("cannot wait to send");
        }
    }

    fn on_writable(&mut self) {
        let (Some(conn), State::Exchanging { head, gz, sent, .. }, Some(batch)) =
            (self.conn.as_mut(), &mut self.state, self.queue.front())
        else {
            return;
        };
        let body = gz.as_deref().unwrap_or(&batch.bytes);
        let total = head.len() + body.len();
        while *sent < total {
            let rest = match head.get(*sent..) {
                Some(head_rest) if !head_rest.is_empty() => head_rest,
                _ => body.get(*sent - head.len()..).unwrap_or_default(),
            };
            match conn.send(rest) {
                Io::Done(n) => *sent += n,
                Io::Again => return self.wait_writable(),
                Io::Closed | Io::Error => return self.exchange_failed("connection lost while sending"),
            }
        }
        // With level-triggered event methods (poll, select) this removes the write event, which
        // would otherwise fire on every pass while we wait for the answer.
        if conn.wait_writable().is_err() {
            return self.exchange_failed("cannot wait for the answer");
        }
        self.on_readable();
    }

    /// Reads what has arrived. The parser's caps bound how much one answer can make us read, so
    /// this loop ends: with the answer, an error, or an empty socket.
    fn on_readable(&mut self) {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            let (Some(conn), State::Exchanging { reader, .. }) = (self.conn.as_mut(), &mut self.state) else {
                return;
            };
            let step = match conn.recv(&mut buf) {
                Io::Done(n) => reader.feed(&buf[..n]),
                Io::Closed => reader.closed().map(Progress::Done),
                Io::Again => {
                    if conn.wait_readable().is_err() {
                        return self.exchange_failed("cannot wait for the answer");
                    }
                    return;
                }
                Io::Error => return self.exchange_failed("connection lost while reading"),
            };
            match step {
                Ok(Progress::NeedMore) => {}
                Ok(Progress::Done(response)) => return self.answered(response),
                Err(e) => {
                    // The error may quote the answer's first line: an echoing proxy could put
                    // the request's query string there.
                    let reason = self.secrets.redacted(&format!("unusable answer: {e}"));
                    return self.exchange_failed(&reason);
                }
            }
        }
    }

    fn answered(&mut self, response: Response) {
        self.deadline.clear();
        self.news = Some(News::Answered);
        // An answer that came before the whole request was sent leaves the rest of the request
        // unread on the connection (a proxy answering 401 early, say): never reuse it.
        let body_len = |gz: &Option<Vec<u8>>| match gz {
            Some(gz) => gz.len(),
            None => self.queue.front().map_or(0, |b| b.bytes.len()),
        };
        let fully_sent = matches!(&self.state,
            State::Exchanging { head, gz, sent, .. } if *sent >= head.len() + body_len(gz));
        if !response.keep_alive || !fully_sent || exiting() {
            self.conn = None;
        }
        let lines = self.front_lines();
        let delivered = verdict(Some(response.status)) == Verdict::Delivered;
        self.shared.add(
            if delivered {
                Counter::BatchesOk
            } else {
                Counter::BatchesFailed
            },
            1,
        );
        let exchange = Exchange::Answered {
            status: response.status,
            retry_after_s: response
                .retry_after
                .map(|r| r.seconds(u64::try_from(ngx_time()).unwrap_or(0))),
        };
        let action = self.next_action(&exchange, lines);
        let excerpt = || upstream_excerpt(&response.body, response.json, &self.secrets);
        match action {
            Action::Delivered => {
                self.tls_failure_logged = None;
                self.shared.add(Counter::LinesWritten, lines as u64);
                self.shared.add(
                    Counter::BytesWritten,
                    self.queue.front().map_or(0, |b| b.bytes.len()) as u64,
                );
                self.settled();
            }
            Action::Refused => {
                self.count_refusal(&response, lines, self.queue.front().map_or(0, |b| b.bytes.len()));
                self.settled();
            }
            Action::Split => self.split_front(),
            Action::DropTooLarge => {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    self.log,
                    "analytics: {} refused one line as too large",
                    self.address
                );
                self.shared.add(Counter::DroppedRefused, lines as u64);
                self.settled();
            }
            Action::RetryIn(ms) => {
                if verdict(Some(response.status)) == Verdict::Misconfigured {
                    ngx_log_error!(
                        NGX_LOG_ERR,
                        self.log,
                        "analytics: {} answered {}: check the sink's URL, database and token ({}); lines keep \
                         waiting in the buffer",
                        self.address,
                        response.status,
                        excerpt()
                    );
                } else {
                    let reason = format!("answered {}: {}", response.status, excerpt());
                    self.notice(&reason);
                }
                self.back_off(ms, false);
            }
            Action::Abandon => self.abandon("the worker is exiting and the sink still does not take them"),
        }
    }

    fn next_action(&mut self, exchange: &Exchange, lines: usize) -> Action {
        let exit_timeout = exiting().then_some(self.target.exit_timeout_ms as u64);
        self.delivery.on_exchange(
            exchange,
            lines,
            now_ms() as u64,
            exit_timeout,
            ngx_random() as u64,
        )
    }

    /// `exit_timeout=` after this worker was first seen shutting down; `None` while it is not.
    fn exit_deadline(&mut self) -> Option<ngx_msec_t> {
        if !exiting() {
            return None;
        }
        let timeout = self.target.exit_timeout_ms;
        Some(
            *self
                .exit_deadline
                .get_or_insert_with(|| now_ms().saturating_add(timeout)),
        )
    }

    fn exchange_failed(&mut self, reason: &str) {
        self.fail_exchange(Some(reason));
    }

    /// A failure its caller has logged already (a TLS failure, logged once per outage).
    fn failed_without_notice(&mut self) {
        self.fail_exchange(None);
    }

    /// `notice`: the reason for the throttled notice, if the failure is not in the log yet.
    fn fail_exchange(&mut self, notice: Option<&str>) {
        self.deadline.clear();
        self.conn = None;
        self.shared.add(Counter::BatchesFailed, 1);
        let lines = self.front_lines();
        match self.next_action(&Exchange::Failed, lines) {
            Action::Abandon => self.abandon("the worker is exiting and the sink still does not take them"),
            Action::RetryIn(ms) => {
                if let Some(reason) = notice {
                    self.notice(reason);
                }
                self.back_off(ms, true);
            }
            // The rules answer a failed exchange with a retry or an abandon; anything else would
            // settle a batch that no upstream saw, so retry it after the shortest back-off.
            _ => self.back_off(analytics_core::delivery::MIN_RETRY_MS, true),
        }
    }

    fn on_deadline(&mut self) {
        // While shutting down, the exchange may not outlast the worker's exit deadline.
        let exit_deadline = self.exit_deadline();
        if self.deadline.ring(exit_deadline) && matches!(self.state, State::Exchanging { .. }) {
            self.exchange_failed("no complete answer within timeout=");
        }
    }

    fn back_off(&mut self, delay_ms: u64, unanswered: bool) {
        self.news = Some(News::Failed {
            retry_in_ms: delay_ms,
            unanswered,
        });
        self.state = State::BackingOff;
        self.retry.set(delay_ms as ngx_msec_t);
    }

    fn on_retry_timer(&mut self) {
        // A worker that is shutting down retries at once; the delivery rules pace it from there.
        let now_if_exiting = exiting().then(now_ms);
        if self.retry.ring(now_if_exiting) && matches!(self.state, State::BackingOff) {
            self.start();
        }
    }

    fn split_front(&mut self) {
        self.split_front_batch();
        self.start();
    }

    /// Replaces the front batch by its two halves (a single line stays as it is).
    fn split_front_batch(&mut self) {
        let Some(batch) = self.queue.pop_front() else {
            return;
        };
        match split_in_two(&batch.bytes) {
            Some((first, second)) => {
                // Only here are lines counted again: a 413 is rare, and the halves need their own.
                let first_lines = count_lines(first);
                self.queue.push_front(Batch {
                    bytes: second.to_vec(),
                    lines: batch.lines.saturating_sub(first_lines),
                });
                self.queue.push_front(Batch {
                    bytes: first.to_vec(),
                    lines: first_lines,
                });
            }
            None => self.queue.push_front(batch),
        }
    }

    /// The front batch is settled: go on with the next, if a split left one.
    fn settled(&mut self) {
        self.queue.pop_front();
        self.delivery.settled();
        self.start();
    }

    fn front_lines(&self) -> usize {
        self.queue.front().map_or(0, |b| b.lines)
    }

    /// `nginx -s stop`: sends what this sink holds, then the worker's `pending` lines, over a
    /// blocking connection for at most `budget` (see `http_last_attempt`), applying the answers as
    /// on the event loop. What is left afterwards is for the caller to count as dropped.
    pub fn last_attempt(&mut self, pending: &mut PendingLines, budget: Duration) {
        self.conn = None;
        self.deadline.clear();
        self.retry.clear();
        self.state = State::Idle;
        let target = self.target.clone();
        let mut attempt = LastAttempt::new(&target, budget, self.log);
        loop {
            if self.queue.is_empty() {
                if pending.is_empty() {
                    return;
                }
                let bytes = pending.next_batch(MAX_BATCH_BYTES, target.batch_lines).to_vec();
                let lines = pending.lines_in_front(bytes.len());
                pending.consume(bytes.len());
                self.queue.push_back(Batch { bytes, lines });
            }
            let Some(batch) = self.queue.front() else { return };
            let (lines, bytes) = (batch.lines, batch.bytes.len());
            let response = match attempt.exchange(&batch.bytes) {
                Ok(response) => response,
                Err(reason) => {
                    let reason = self.secrets.redacted(&reason);
                    ngx_log_error!(
                        NGX_LOG_ERR,
                        self.log,
                        "analytics: {}: the last attempt before nginx stops failed: {}",
                        self.address,
                        reason
                    );
                    return;
                }
            };
            let status = response.status;
            match verdict(Some(status)) {
                Verdict::Delivered => {
                    self.shared.add(Counter::BatchesOk, 1);
                    self.shared.add(Counter::LinesWritten, lines as u64);
                    self.shared.add(Counter::BytesWritten, bytes as u64);
                    self.queue.pop_front();
                }
                Verdict::Refused => {
                    self.shared.add(Counter::BatchesFailed, 1);
                    self.count_refusal(&response, lines, bytes);
                    self.queue.pop_front();
                }
                Verdict::TooLarge if lines > 1 => {
                    self.shared.add(Counter::BatchesFailed, 1);
                    self.split_front_batch();
                }
                Verdict::TooLarge => {
                    self.shared.add(Counter::BatchesFailed, 1);
                    self.shared.add(Counter::DroppedRefused, lines as u64);
                    self.queue.pop_front();
                }
                // No time to wait for a better answer.
                Verdict::Misconfigured | Verdict::SlowDown | Verdict::Retry => {
                    self.shared.add(Counter::BatchesFailed, 1);
                    ngx_log_error!(
                        NGX_LOG_ERR,
                        self.log,
                        "analytics: {} answered {} to the last attempt before nginx stops",
                        self.address,
                        status
                    );
                    return;
                }
            }
        }
    }

    /// Counts and logs a refusal (`400`, `422`) of a batch of `lines` lines and `bytes` bytes: a
    /// partial write stores the lines it does not refuse, so they are written.
    fn count_refusal(&self, response: &Response, lines: usize, bytes: usize) {
        let refused = refused_lines(&response.body, lines);
        let written = lines - refused;
        ngx_log_error!(
            NGX_LOG_ERR,
            self.log,
            "analytics: {} refused {} of {} lines with {}: {}",
            self.address,
            refused,
            lines,
            response.status,
            upstream_excerpt(&response.body, response.json, &self.secrets)
        );
        if written > 0 {
            self.shared.add(Counter::LinesWritten, written as u64);
            self.shared.add(Counter::BytesWritten, bytes as u64);
        }
        self.shared.add(Counter::DroppedRefused, refused as u64);
    }

    /// Gives up on every batch this sink holds, counting them.
    pub fn abandon(&mut self, reason: &str) {
        self.conn = None;
        self.deadline.clear();
        self.retry.clear();
        self.state = State::Idle;
        let lines: usize = self.queue.iter().map(|b| b.lines).sum();
        self.queue.clear();
        self.delivery.settled();
        if lines > 0 {
            drop_at_exit(self.shared, self.log, lines as u64, &self.address, reason);
        }
    }

    /// Transient trouble is worth a line in the log, at most every 10 seconds.
    fn notice(&mut self, reason: &str) {
        let now = ngx_time() as i64;
        if now >= self.last_notice.saturating_add(10) {
            ngx_log_error!(
                NGX_LOG_NOTICE,
                self.log,
                "analytics: {}: {}; retrying (attempt {})",
                self.address,
                reason,
                self.delivery.attempt().saturating_add(1)
            );
            self.last_notice = now;
        }
    }
}

/// The head of the request that carries `body`, and the compressed body with `gzip=on`.
fn request_for(target: &HttpTarget, body: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut head = Vec::with_capacity(256);
    if target.gzip {
        // Fastest level: a batch compresses in a few milliseconds, and text still shrinks ~8x.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let compressed = std::io::Write::write_all(&mut encoder, body).and_then(|()| encoder.finish());
        if let Ok(gz) = compressed {
            let mut headers = target.headers.clone();
            headers.push(("Content-Encoding".to_owned(), "gzip".to_owned()));
            write_request_head(
                &mut head,
                &target.host,
                &target.path_and_query,
                &headers,
                gz.len(),
            );
            return (head, Some(gz));
        }
    }
    write_request_head(
        &mut head,
        &target.host,
        &target.path_and_query,
        &target.headers,
        body.len(),
    );
    (head, None)
}

/// The whole request that carries `body`, for the blocking last attempt at exit.
pub fn whole_request(target: &HttpTarget, body: &[u8]) -> Vec<u8> {
    let (mut request, gz) = request_for(target, body);
    request.extend_from_slice(gz.as_deref().unwrap_or(body));
    request
}

fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
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

/// Runs `f` on this worker's HTTP sinks, then lets the worker send more if one became ready.
fn with_http_pool(entry_point: &str, log: *mut ngx_log_t, f: impl FnOnce(&mut HttpPool)) {
    contain(entry_point, log, || {
        worker::with(|w| {
            if let crate::sink::Sink::Http(pool) = w.sink_mut() {
                f(pool);
            }
            w.after_sink_event();
        })
    });
}

/// A lookup of an upstream's name finished: the pool takes its answer.
pub(super) fn after_name_lookup(log: *mut ngx_log_t) {
    with_http_pool("the HTTP sink's name lookup", log, HttpPool::take_name_lookups);
}

extern "C" fn on_connection_event(ev: *mut ngx_event_t) {
    // SAFETY: nginx calls event handlers with the event; its log is set by Connection::connect.
    let log = unsafe { (*ev).log };
    with_http_pool("the HTTP sink's connection", log, |pool| {
        pool.on_sink_event(|sink| sink.owns_event(ev), |sink| sink.on_connection_event(ev))
    });
}

extern "C" fn on_deadline(ev: *mut ngx_event_t) {
    // SAFETY: as above; the log was set by Timer::new.
    let log = unsafe { (*ev).log };
    // The timer's event does not say whose it is: each sink's alarm knows whether it is due.
    with_http_pool("the HTTP sink's deadline", log, |pool| {
        pool.on_sink_event(|_| true, HttpSink::on_deadline)
    });
}

extern "C" fn on_retry_timer(ev: *mut ngx_event_t) {
    // SAFETY: as above.
    let log = unsafe { (*ev).log };
    with_http_pool("the HTTP sink's retry timer", log, |pool| {
        pool.on_sink_event(|_| true, HttpSink::on_retry_timer)
    });
}
