//! Sinks: where a worker's batches of lines go. Each one is non-blocking from the worker's point of
//! view: a send either completes at once, or says "try later", or fails for good.

pub mod file;
pub mod udp;

use nginx_sys::ngx_log_t;

use crate::config::SinkConfig;

/// What happened to one batch.
pub enum SendOutcome {
    /// This many bytes (from the front of the batch) were delivered.
    Sent(usize),
    /// Nothing was delivered; the same batch should be offered again later.
    Retry(String),
    /// The batch can never be delivered (e.g. too large for a datagram); drop and count it.
    Failed(String),
}

pub enum SinkTarget {
    Udp(udp::UdpSink),
    File(file::FileSink),
}

impl SinkTarget {
    pub fn open(config: &SinkConfig, log: *mut ngx_log_t) -> Result<SinkTarget, ()> {
        if let Some(peer) = config.udp_peer {
            return udp::UdpSink::open(peer, config.datagram_size, log).map(SinkTarget::Udp);
        }
        Ok(SinkTarget::File(file::FileSink::new(config.file)))
    }

    /// The most bytes one send may carry.
    pub fn max_batch(&self) -> usize {
        match self {
            SinkTarget::Udp(udp) => udp.datagram_size(),
            // One write takes everything pending (bounded by `buffer=`).
            SinkTarget::File(_) => usize::MAX,
        }
    }

    /// Pending bytes that make a batch worth sending before the flush timer fires.
    pub fn flush_threshold(&self) -> usize {
        match self {
            SinkTarget::Udp(udp) => udp.datagram_size(),
            SinkTarget::File(_) => file::FLUSH_THRESHOLD,
        }
    }

    pub fn send(&mut self, batch: &[u8]) -> SendOutcome {
        match self {
            SinkTarget::Udp(udp) => udp.send(batch),
            SinkTarget::File(file) => file.send(batch),
        }
    }
}
