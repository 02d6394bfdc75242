//! Sinks: where a worker's batches of lines go. Each one is non-blocking from the worker's point of
//! view: a send either completes at once, or says "try later", or fails for good.

pub mod file;
pub mod http;
pub mod udp;

use nginx_sys::ngx_log_t;

use crate::config::SinkConfig;
use crate::shared_state::SharedState;

/// What happened to one batch.
pub enum SendOutcome {
    /// This many bytes (from the front of the batch) were delivered.
    Sent(usize),
    /// Nothing was delivered; the same batch should be offered again later.
    Retry(String),
    /// The batch can never be delivered (e.g. too large for a datagram); drop and count it.
    Failed(String),
    /// This many bytes were taken by a sink that delivers (and counts) them on its own.
    Taken(usize),
    /// The sink is still delivering an earlier batch: not trouble, just not now.
    Busy,
}

pub enum SinkTarget {
    Udp(udp::UdpSink),
    File(file::FileSink),
    /// Boxed: nginx keeps pointers to it while requests are on their way.
    Http(Box<http::HttpSink>),
}

impl SinkTarget {
    pub fn open(
        config: &SinkConfig,
        shared: &'static SharedState,
        log: *mut ngx_log_t,
    ) -> Result<SinkTarget, ()> {
        if let Some(target) = &config.http {
            let sink = http::HttpSink::new(target.clone(), config.address.to_string(), shared, log);
            return Ok(SinkTarget::Http(Box::new(sink)));
        }
        if let Some(peer) = config.udp_peer {
            return udp::UdpSink::open(peer, config.datagram_size, log).map(SinkTarget::Udp);
        }
        Ok(SinkTarget::File(file::FileSink::new(config.file)))
    }

    /// The most bytes and lines one send may carry.
    pub fn max_batch(&self) -> (usize, usize) {
        match self {
            SinkTarget::Udp(udp) => (udp.datagram_size(), usize::MAX),
            // Large writes are cheap, but a write to a regular file blocks the worker for its
            // length: cap it, so a backlog of `buffer=1g` is written in pieces.
            SinkTarget::File(_) => (file::MAX_WRITE, usize::MAX),
            SinkTarget::Http(http) => (usize::MAX, http.batch_lines()),
        }
    }

    /// Whether the pending lines make a batch worth sending before the flush timer fires.
    pub fn batch_is_full(&self, pending_bytes: usize, pending_lines: usize) -> bool {
        match self {
            SinkTarget::Udp(udp) => pending_bytes >= udp.datagram_size(),
            SinkTarget::File(_) => pending_bytes >= file::FLUSH_THRESHOLD,
            SinkTarget::Http(http) => pending_lines >= http.batch_lines(),
        }
    }

    pub fn send(&mut self, batch: &[u8]) -> SendOutcome {
        match self {
            SinkTarget::Udp(udp) => udp.send(batch),
            SinkTarget::File(file) => file.send(batch),
            SinkTarget::Http(http) => http.send(batch),
        }
    }
}
