//! The UDP sink: whole lines packed into datagrams, sent from a non-blocking, connected socket.
//!
//! UDP confirms nothing; the socket only reports refusals. A connected socket learns of an ICMP
//! "port unreachable" for one of its datagrams and reports it (ECONNREFUSED) on its next call.
//! So a datagram's lines are counted as written only once the socket was asked about them and
//! reported no error: at once after the send for a listener on this host (the loopback interface
//! delivers the refusal before `send` returns), and after [`REMOTE_CONFIRM_MS`] for a remote one
//! (the refusal takes a round trip). A refusal is blamed on the oldest datagram not yet confirmed
//! and its lines are counted as dropped. What UDP can never tell: a listener that exists but drops
//! datagrams (a full receive buffer), a datagram lost on the way, a remote host whose refusals are
//! rate-limited or filtered. The HTTP sink is the choice when every line must be confirmed.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use nginx_sys::{ngx_log_t, ngx_msec_t, NGX_LOG_EMERG};
use ngx::ngx_log_error;

use super::SendOutcome;

/// How long a datagram to another host stays unconfirmed: a refusal comes a round trip later.
pub const REMOTE_CONFIRM_MS: ngx_msec_t = 250;
/// Most datagrams waiting for confirmation: past it, the oldest is confirmed early, so that a
/// flood to a remote listener cannot grow this list.
const MAX_UNCONFIRMED: usize = 1024;

/// A datagram sent and not yet confirmed.
struct Unconfirmed {
    lines: usize,
    bytes: usize,
    sent_at: ngx_msec_t,
}

/// What the socket said about the datagrams sent before.
pub enum Confirmation {
    /// These lines and bytes, in this many datagrams, drew no refusal.
    Written {
        lines: usize,
        bytes: usize,
        datagrams: usize,
    },
    /// The socket reported a refusal for the oldest unconfirmed datagram, of this many lines.
    Lost { lines: usize, reason: String },
}

pub struct UdpSink {
    socket: UdpSocket,
    peer: SocketAddr,
    datagram_size: usize,
    unconfirmed: VecDeque<Unconfirmed>,
    /// 0 for a listener on this host, [`REMOTE_CONFIRM_MS`] otherwise.
    confirm_after_ms: ngx_msec_t,
    /// A refusal that `send` received (and so took from the socket) for an earlier datagram.
    reported: Option<std::io::Error>,
}

impl UdpSink {
    pub fn open(peer: SocketAddr, datagram_size: usize, log: *mut ngx_log_t) -> Result<UdpSink, ()> {
        // The unspecified address of the peer's family, any port: built, not parsed.
        let local = SocketAddr::new(
            if peer.is_ipv4() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            },
            0,
        );
        let open = || -> std::io::Result<UdpSocket> {
            let socket = UdpSocket::bind(local)?;
            // Connected, so the kernel reports an unreachable listener to this socket.
            socket.connect(peer)?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        };
        match open() {
            Ok(socket) => Ok(UdpSink {
                socket,
                peer,
                datagram_size,
                unconfirmed: VecDeque::new(),
                confirm_after_ms: if peer.ip().is_loopback() {
                    0
                } else {
                    REMOTE_CONFIRM_MS
                },
                reported: None,
            }),
            Err(e) => {
                ngx_log_error!(
                    NGX_LOG_EMERG,
                    log,
                    "analytics_sink udp://{}: cannot open socket: {}",
                    peer,
                    e
                );
                Err(())
            }
        }
    }

    pub fn datagram_size(&self) -> usize {
        self.datagram_size
    }

    /// Whether datagrams wait for confirmation, and how long the oldest still has to wait.
    pub fn confirmation_due_in(&self, now: ngx_msec_t) -> Option<ngx_msec_t> {
        let oldest = self.unconfirmed.front()?;
        Some(
            oldest
                .sent_at
                .saturating_add(self.confirm_after_ms)
                .saturating_sub(now),
        )
    }

    /// Asks the socket about the datagrams sent so far: a refusal it reports is for the oldest
    /// unconfirmed one; datagrams old enough (all of them when `all`) without one are written.
    pub fn confirm(&mut self, now: ngx_msec_t, all: bool) -> Vec<Confirmation> {
        let mut found = Vec::new();
        if self.confirm_after_ms == 0 && self.unconfirmed.is_empty() && self.reported.is_none() {
            // A listener on this host: every datagram was asked about right after its send, and
            // the loopback interface reports a refusal before `send` returns, so there is nothing
            // to ask the socket (one system call less per datagram).
            return found;
        }
        let error = match self.reported.take() {
            Some(e) => Some(e),
            None => self.socket.take_error().unwrap_or_else(Some),
        };
        match error {
            None => {}
            Some(e) => {
                // An error with no datagram left to blame came for one already counted, from a
                // remote listener slower than REMOTE_CONFIRM_MS: nothing left to correct.
                if let Some(lost) = self.unconfirmed.pop_front() {
                    found.push(Confirmation::Lost {
                        lines: lost.lines,
                        reason: self.describe(&e),
                    });
                }
            }
        }
        let (mut lines, mut bytes, mut datagrams) = (0, 0, 0);
        while let Some(oldest) = self.unconfirmed.front() {
            let due = oldest.sent_at.saturating_add(self.confirm_after_ms);
            if !(all || now >= due || self.unconfirmed.len() > MAX_UNCONFIRMED) {
                break;
            }
            lines += oldest.lines;
            bytes += oldest.bytes;
            datagrams += 1;
            self.unconfirmed.pop_front();
        }
        if datagrams > 0 {
            found.push(Confirmation::Written {
                lines,
                bytes,
                datagrams,
            });
        }
        found
    }

    /// Sends `batch` (`lines` whole lines) as one datagram. Its lines wait for [`Self::confirm`].
    pub fn send(&mut self, batch: &[u8], lines: usize, now: ngx_msec_t) -> SendOutcome {
        if batch.len() > self.datagram_size {
            // Batches are cut at `datagram=`, so this is one line longer than a datagram may be.
            return SendOutcome::Failed(format!(
                "udp://{}: a line of {} bytes is longer than datagram={}",
                self.peer,
                batch.len(),
                self.datagram_size
            ));
        }
        match self.socket.send(batch) {
            Ok(n) if n == batch.len() => {
                self.unconfirmed.push_back(Unconfirmed {
                    lines,
                    bytes: n,
                    sent_at: now,
                });
                SendOutcome::Unconfirmed(n)
            }
            Ok(n) => SendOutcome::Failed(format!("udp://{}: datagram cut to {n} bytes", self.peer)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                SendOutcome::Retry(format!("udp://{}: socket buffer full", self.peer))
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                // The refusal of an earlier datagram, reported now; this one was not sent.
                let reason = self.describe(&e);
                self.reported = Some(e);
                SendOutcome::Retry(reason)
            }
            Err(e) if e.raw_os_error() == Some(90) => {
                // EMSGSIZE: larger than the socket can send at all.
                SendOutcome::Failed(format!("udp://{}: line too long for a datagram", self.peer))
            }
            // Not sent: the batch is offered again after the flush interval.
            Err(e) => SendOutcome::Retry(format!("udp://{}: {e}", self.peer)),
        }
    }

    fn describe(&self, e: &std::io::Error) -> String {
        if e.kind() == ErrorKind::ConnectionRefused {
            format!("udp://{}: nothing listens there (port unreachable)", self.peer)
        } else {
            format!("udp://{}: {e}", self.peer)
        }
    }
}
