//! The HTTP sink's last attempt when nginx stops at once (`nginx -s stop`, SIGTERM): the event
//! loop no longer runs, and the master kills the worker about 1.5 s after it was told to stop. So
//! the batches still held are sent over a plain blocking socket, with the same request writer and
//! answer reader as on the event loop, within [`LAST_ATTEMPT_MS`] in all: every connect, write and
//! read waits only for the time left, and a signal that interrupts one (the master repeats SIGTERM
//! while it waits) does not extend it.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use analytics_core::http::response::{Limits, Progress, Response, ResponseReader};

use super::http::{whole_request, HttpTarget};

/// The whole last attempt, well under the 1.5 s after which the master kills the worker.
pub const LAST_ATTEMPT_MS: u64 = 1000;

/// Exchanges with the write API on one blocking connection, until a deadline.
pub struct LastAttempt<'t> {
    target: &'t HttpTarget,
    deadline: Instant,
    stream: Option<TcpStream>,
}

impl<'t> LastAttempt<'t> {
    pub fn new(target: &'t HttpTarget, budget: Duration) -> LastAttempt<'t> {
        LastAttempt {
            target,
            deadline: Instant::now() + budget,
            stream: None,
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
            None => {
                let left = self.time_left().ok_or("no time left")?;
                TcpStream::connect_timeout(&self.target.peer, left).map_err(|e| format!("connect: {e}"))?
            }
        };
        self.write_all(&mut stream, &request)?;
        let response = self.read_answer(&mut stream)?;
        if response.keep_alive {
            self.stream = Some(stream);
        }
        Ok(response)
    }

    fn write_all(&self, stream: &mut TcpStream, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            let left = self.time_left().ok_or("no time left to send")?;
            stream.set_write_timeout(Some(left)).map_err(|e| e.to_string())?;
            match stream.write(bytes) {
                Ok(0) => return Err("connection closed while sending".to_owned()),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        Ok(())
    }

    fn read_answer(&self, stream: &mut TcpStream) -> Result<Response, String> {
        let mut reader = ResponseReader::new(Limits::default());
        let mut buf = [0u8; 4096];
        loop {
            let left = self.time_left().ok_or("no complete answer in time")?;
            stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
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
