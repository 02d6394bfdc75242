//! Sinks: where a worker's batches of lines go. Each knows only its own target; each send either
//! completes at once (file), is sent and waits for the socket's word on it (UDP), says "try
//! later", fails for good, or hands the batch to a sink that delivers it on its own (HTTP). None
//! of them blocks the worker, except the HTTP sink's last attempt when nginx stops at once.

pub mod file;
pub mod http;
pub mod http_last_attempt;
pub mod http_pool;
pub mod udp;
pub mod upstream_lookup;

use nginx_sys::ngx_log_t;

use crate::conf::SinkTarget;
use crate::shared_state::SharedState;

/// What happened to one batch.
pub enum SendOutcome {
    /// This many bytes (from the front of the batch) were delivered.
    Sent(usize),
    /// This many bytes were sent as a datagram; its lines are counted when the socket confirms
    /// them (see `udp::UdpSink::confirm`).
    Unconfirmed(usize),
    /// Nothing was delivered; the same batch should be offered again after the flush interval.
    Retry(String),
    /// The batch can never be delivered (e.g. too large for a datagram); drop and count it.
    Failed(String),
    /// This many bytes were taken by a sink that delivers (and counts) them on its own.
    Taken(usize),
    /// The sink is still delivering an earlier batch: not trouble, just not now.
    Busy,
}

pub enum Sink {
    Udp(udp::UdpSink),
    File(file::FileSink),
    /// Boxed: it is much larger than the others (its exchanges, their timers and readers).
    Http(Box<http_pool::HttpPool>),
}

impl Sink {
    pub fn open(target: &SinkTarget, shared: &'static SharedState, log: *mut ngx_log_t) -> Result<Sink, ()> {
        Ok(match target {
            SinkTarget::Udp { peer, datagram_size } => {
                Sink::Udp(udp::UdpSink::open(*peer, *datagram_size, log)?)
            }
            SinkTarget::File(file) => Sink::File(file::FileSink::new(file)),
            SinkTarget::Http(http) => Sink::Http(Box::new(http_pool::HttpPool::new(http, shared, log))),
        })
    }

    /// The most bytes and lines one send may carry.
    pub fn max_batch(&self) -> (usize, usize) {
        match self {
            Sink::Udp(udp) => (udp.datagram_size(), usize::MAX),
            Sink::File(_) => (file::MAX_WRITE, usize::MAX),
            // A byte cap too: `batch=` long lines must not make one request (and its gzip run on
            // the event loop) unbounded.
            Sink::Http(http) => (http::MAX_BATCH_BYTES, http.batch_lines()),
        }
    }

    /// Whether the pending lines make a batch worth sending before the flush timer fires.
    pub fn batch_is_full(&self, pending_bytes: usize, pending_lines: usize) -> bool {
        match self {
            Sink::Udp(udp) => pending_bytes >= udp.datagram_size(),
            Sink::File(_) => pending_bytes >= file::FLUSH_THRESHOLD,
            Sink::Http(http) => pending_lines >= http.batch_lines(),
        }
    }

    /// Whether a send now could do anything: false while every connection of the HTTP sink that
    /// may take a batch delivers one or waits to retry one.
    pub fn ready(&self) -> bool {
        match self {
            Sink::Http(http) => http.ready(),
            Sink::Udp(_) | Sink::File(_) => true,
        }
    }

    /// Offers `batch`, which holds `lines` whole lines.
    pub fn send(&mut self, batch: &[u8], lines: usize) -> SendOutcome {
        match self {
            Sink::Udp(udp) => udp.send(batch, lines, crate::timer::now_ms()),
            Sink::File(file) => file.send(batch),
            Sink::Http(http) => http.send(batch, lines),
        }
    }

    /// Bytes the sink holds of its own (the HTTP sink's batch in flight and its request): they
    /// count against `buffer=` as the pending lines do.
    pub fn held_bytes(&self) -> usize {
        match self {
            Sink::Http(http) => http.held_bytes(),
            Sink::Udp(_) | Sink::File(_) => 0,
        }
    }

    /// Whether a send only hands the batch over, for the sink to deliver later on its own (HTTP).
    /// Such a sink is not sent to from `exit_process`, where the event loop no longer runs: it
    /// gets a blocking, bounded last attempt instead (`http_last_attempt`).
    pub fn delivers_later(&self) -> bool {
        matches!(self, Sink::Http(_))
    }

    /// Gives up what the sink holds of its own (the HTTP sink's batch in flight), counting it.
    pub fn abandon(&mut self, reason: &str) {
        if let Sink::Http(http) = self {
            http.abandon(reason);
        }
    }
}
