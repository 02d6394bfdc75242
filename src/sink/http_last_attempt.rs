//! The HTTP sink's last attempt when nginx stops at once (`nginx -s stop`, SIGTERM): the event
//! loop no longer runs, and the master kills the worker about 1.5 s after it was told to stop. So
//! the batches still held are sent over a plain blocking socket, with the same request writer and
//! answer reader as on the event loop, within [`LAST_ATTEMPT_MS`] in all: every connect, write and
//! read waits only for the time left, and a signal that interrupts one (the master repeats SIGTERM
//! while it waits) does not extend it. An `https://` sink does the same over a blocking TLS
//! session on its own `SSL_CTX` (`net::tls_blocking`), its handshake inside the same deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use analytics_core::http::response::{Limits, Progress, Response, ResponseReader};
use nginx_sys::ngx_log_t;

use super::http::{whole_request, HttpTarget};
use crate::net::tls_blocking::BlockingTls;

/// The whole last attempt, well under the 1.5 s after which the master kills the worker.
pub const LAST_ATTEMPT_MS: u64 = 1000;

/// Exchanges with the write API on one blocking connection, until a deadline.
pub struct LastAttempt<'t> {
    target: &'t HttpTarget,
    deadline: Instant,
    stream: Option<Stream>,
    /// For nginx's TLS callbacks.
    log: *mut ngx_log_t,
}

/// A plain or TLS connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<BlockingTls>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.tcp(),
        }
    }

    fn set_timeout(&self, left: Duration) -> Result<(), String> {
        let tcp = self.tcp();
        tcp.set_read_timeout(Some(left))
            .and_then(|()| tcp.set_write_timeout(Some(left)))
            .map_err(|e| e.to_string())
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(bytes),
            Stream::Tls(tls) => tls.write(bytes),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl<'t> LastAttempt<'t> {
    pub fn new(target: &'t HttpTarget, budget: Duration, log: *mut ngx_log_t) -> LastAttempt<'t> {
        LastAttempt {
            target,
            deadline: Instant::now() + budget,
            stream: None,
            log,
        }
    }

    /// Time left before the deadline, if any.
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// POSTs `body` and reads the answer, on the open connection or a new one.
    pub fn exchange(&mut self, body: &[u8]) -> Result<Response, String> {
        let request = whole_request(self.target, body);
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => self.connect()?,
        };
        self.write_all(&mut stream, &request)?;
        let response = self.read_answer(&mut stream)?;
        if response.keep_alive {
            self.stream = Some(stream);
        }
        Ok(response)
    }

    fn connect(&self) -> Result<Stream, String> {
        let left = self.time_left().ok_or("no time left")?;
        let tcp = TcpStream::connect_timeout(&self.target.peer, left).map_err(|e| format!("connect: {e}"))?;
        let Some(tls) = &self.target.tls else {
            return Ok(Stream::Plain(tcp));
        };
        Ok(Stream::Tls(Box::new(BlockingTls::connect(
            tls,
            tcp,
            self.log,
            self.deadline,
        )?)))
    }

    fn write_all(&self, stream: &mut Stream, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            let left = self.time_left().ok_or("no time left to send")?;
            stream.set_timeout(left)?;
            match stream.write(bytes) {
                Ok(0) => return Err("connection closed while sending".to_owned()),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        Ok(())
    }

    fn read_answer(&self, stream: &mut Stream) -> Result<Response, String> {
        let mut reader = ResponseReader::new(Limits::default());
        let mut buf = [0u8; 4096];
        loop {
            let left = self.time_left().ok_or("no complete answer in time")?;
            stream.set_timeout(left)?;
            let step = match stream.read(&mut buf) {
                Ok(0) => reader.closed().map(Progress::Done),
                Ok(n) => reader.feed(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read: {e}")),
            };
            match step {
                Ok(Progress::NeedMore) => {}
                Ok(Progress::Done(response)) => return Ok(response),
                Err(e) => return Err(format!("unusable answer: {e}")),
            }
        }
    }
}
