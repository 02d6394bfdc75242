//! Ports for the servers a test starts (nginx, InfluxDB, VictoriaMetrics, DNS, browsers).
//!
//! A port is chosen here and bound later by another process, so nothing holds it in between.
//! Asking the kernel for any free port (`bind` to port 0) hands out ports of the ephemeral range,
//! the same range every outgoing connection takes its source port from: with many tests running
//! side by side, a connection made in that gap can take the port, and the server then fails with
//! "address already in use". So ports come from below the ephemeral range, which no outgoing
//! connection uses, in turn from a start that differs per test process, each checked free when
//! handed out.

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The pool when the kernel's ephemeral range cannot be read or leaves no room below it.
const FALLBACK_POOL: (u32, u32) = (20_000, 32_000);
/// Lowest port handed out: below it are well-known services.
const LOWEST: u32 = 10_000;

/// A TCP port on 127.0.0.1 that nobody listened on when this returned.
pub fn free_port() -> u16 {
    next_port(|port| TcpListener::bind(("127.0.0.1", port)).is_ok())
}

/// A UDP port on 127.0.0.1 that nobody was bound to when this returned.
pub fn free_udp_port() -> u16 {
    next_port(|port| UdpSocket::bind(("127.0.0.1", port)).is_ok())
}

fn next_port(is_free: impl Fn(u16) -> bool) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // The pool, and where this process starts in it: read once per test process. Test
    // processes running at the same time start far apart in the pool.
    static POOL: OnceLock<(u32, u32, u32)> = OnceLock::new();
    let &(low, high, start) = POOL.get_or_init(|| {
        let (low, high) = pool();
        (low, high, std::process::id().wrapping_mul(7_919) % (high - low))
    });
    let span = high - low;
    for _ in 0..span {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(low + offset).expect("the pool is below 65536");
        if is_free(port) {
            return port;
        }
    }
    panic!("no free port in {low}..{high}");
}

/// Ports below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`).
fn pool() -> (u32, u32) {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok());
    match ephemeral_start {
        Some(start) if start >= LOWEST + 2_000 => (LOWEST, start),
        _ => FALLBACK_POOL,
    }
}
