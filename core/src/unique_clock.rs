//! Unique timestamps without identifiers.
//!
//! InfluxDB keeps one point per series key and timestamp: two identical page views written with
//! the same timestamp become one. Rather than tagging points with an identifier (the original
//! system's per-session UUID), every line gets a nanosecond timestamp strictly greater than the
//! previous one handed out from the same counter. The counter lives in memory shared by all
//! workers, so concurrent identical hits on different workers never collide either. The clock
//! moves at most a few microseconds ahead of real time under bursts, which no query can notice.

use std::sync::atomic::{AtomicU64, Ordering};

/// Returns `max(now_ns, last + 1)` and stores it as the new `last`, atomically.
pub fn next_unique_timestamp(last: &AtomicU64, now_ns: u64) -> u64 {
    let mut current = last.load(Ordering::Relaxed);
    loop {
        let next = now_ns.max(current + 1);
        match last.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => current = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn follows_the_clock_and_never_repeats() {
        let last = AtomicU64::new(0);
        assert_eq!(next_unique_timestamp(&last, 100), 100);
        assert_eq!(next_unique_timestamp(&last, 100), 101);
        assert_eq!(next_unique_timestamp(&last, 50), 102);
        assert_eq!(next_unique_timestamp(&last, 500), 500);
    }

    #[test]
    fn concurrent_callers_get_distinct_timestamps() {
        let last = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let last = Arc::clone(&last);
                std::thread::spawn(move || {
                    (0..10_000)
                        .map(|_| next_unique_timestamp(&last, 7))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let all: HashSet<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert_eq!(all.len(), 40_000);
    }
}
