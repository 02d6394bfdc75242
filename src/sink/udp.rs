//! The UDP sink: whole lines packed into datagrams, sent from a non-blocking socket.
//!
//! UDP cannot confirm delivery: a datagram the listener never reads is lost without a trace. The
//! sink retries what the local stack refuses (a full socket buffer, or an ICMP "port unreachable"
//! reported on the next send) and counts what it must drop; the HTTP sink is the choice when every
//! line must be confirmed.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use nginx_sys::{ngx_log_t, NGX_LOG_EMERG};
use ngx::ngx_log_error;

use super::SendOutcome;

pub struct UdpSink {
    socket: UdpSocket,
    peer: SocketAddr,
    datagram_size: usize,
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
            // Connected, so the kernel reports an unreachable listener on the next send.
            socket.connect(peer)?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        };
        match open() {
            Ok(socket) => Ok(UdpSink {
                socket,
                peer,
                datagram_size,
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

    pub fn send(&mut self, batch: &[u8]) -> SendOutcome {
        match self.socket.send(batch) {
            Ok(n) if n == batch.len() => SendOutcome::Sent(n),
            Ok(n) => SendOutcome::Failed(format!("udp://{}: datagram cut to {n} bytes", self.peer)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                SendOutcome::Retry(format!("udp://{}: socket buffer full", self.peer))
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                SendOutcome::Retry(format!("udp://{}: nothing listens there", self.peer))
            }
            Err(e) if e.raw_os_error() == Some(90) => {
                // EMSGSIZE: a single line longer than any datagram; it can never be sent.
                SendOutcome::Failed(format!("udp://{}: line too long for a datagram", self.peer))
            }
            Err(e) => SendOutcome::Retry(format!("udp://{}: {e}", self.peer)),
        }
    }
}
