//! Unique timestamps without identifiers.
//!
//! InfluxDB keeps one point per series key and timestamp: two identical page views written with
//! the same timestamp become one. Rather than tagging points with an identifier (the original
//! system's per-session UUID), every line gets a timestamp no other line can have:
//!
//! - The lowest three decimal digits of the nanosecond timestamp are the nginx instance's number
//!   (`analytics_instance`, 0–999): two instances can never write the same timestamp.
//! - Above them, a microsecond counter in memory shared by all workers of the instance hands out
//!   `max(now, last + 1 µs)`: two workers, or two hits in one microsecond, never share one.
//!
//! Under a burst of more than one hit per microsecond the counter runs ahead of the clock by one
//! microsecond per extra hit (10,000 simultaneous hits: at most 10 ms), and falls back to the
//! clock as soon as the rate drops below a million hits a second.
//!
//! Stores that keep milliseconds (VictoriaMetrics) drop the lower six digits, instance included:
//! for them only aggregation helps (see `crate::aggregate`), whose lines take one millisecond per
//! flush from [`next_unique_millisecond`].

use std::sync::atomic::{AtomicU64, Ordering};

/// Instances have numbers 0..INSTANCES: the three lowest decimal digits of a timestamp.
pub const INSTANCES: u16 = 1000;

/// The number of one nginx instance among those writing into the same store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance(u16);

impl Instance {
    pub fn new(number: u16) -> Option<Instance> {
        (number < INSTANCES).then_some(Instance(number))
    }

    pub fn parse(text: &str) -> Option<Instance> {
        if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok().and_then(Instance::new)
    }

    /// The default when `analytics_instance` is not set: derived from the host name (FNV-1a,
    /// modulo 1000), so that edges configured alike still differ. Two hosts get the same number
    /// with probability 1/1000; among n hosts some pair shares one with probability
    /// 1 − ∏(1 − i/1000) for i < n (2 hosts: 0.1 %, 10: 4.4 %, 38: 50 %). Set it explicitly when
    /// more than one instance writes into a store.
    pub fn from_host_name(host: &str) -> Instance {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in host.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Instance((hash % u64::from(INSTANCES)) as u16)
    }

    pub fn number(self) -> u16 {
        self.0
    }
}

/// Returns `max(now, last + 1)` and stores it as the new `last`, atomically.
fn next_after(last: &AtomicU64, now: u64) -> u64 {
    let mut current = last.load(Ordering::Relaxed);
    loop {
        let next = now.max(current.saturating_add(1));
        match last.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => current = seen,
        }
    }
}

/// The next timestamp of a hit, in nanoseconds: a microsecond no other caller of this counter
/// got, with `instance` in the lowest three digits. `last_us` is the shared microsecond counter.
pub fn next_unique_timestamp(last_us: &AtomicU64, now_ns: u64, instance: Instance) -> u64 {
    let micros = next_after(last_us, now_ns / 1000);
    micros.saturating_mul(1000).saturating_add(u64::from(instance.0))
}

/// The timestamp of a flush of aggregated lines, in nanoseconds: a millisecond no other flush of
/// this instance got (so a millisecond store cannot merge two flushes of one series by two
/// workers), with `instance` in the lowest three digits. Flushes are few (one per worker and
/// interval), so this counter stays on the clock.
pub fn next_unique_millisecond(last_ms: &AtomicU64, now_ns: u64, instance: Instance) -> u64 {
    let millis = next_after(last_ms, now_ns / 1_000_000);
    millis
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(instance.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn instance(n: u16) -> Instance {
        Instance::new(n).unwrap()
    }

    #[test]
    fn follows_the_clock_in_microseconds_and_never_repeats() {
        let last = AtomicU64::new(0);
        let i = instance(7);
        assert_eq!(next_unique_timestamp(&last, 100_000, i), 100_007);
        assert_eq!(next_unique_timestamp(&last, 100_999, i), 101_007);
        assert_eq!(next_unique_timestamp(&last, 50_000, i), 102_007);
        assert_eq!(next_unique_timestamp(&last, 500_000, i), 500_007);
    }

    #[test]
    fn a_burst_runs_ahead_by_one_microsecond_per_hit_and_falls_back_to_the_clock() {
        let last = AtomicU64::new(0);
        let now = 1_795_940_673_982_000_000;
        let burst: Vec<u64> = (0..10_000)
            .map(|_| next_unique_timestamp(&last, now, instance(0)))
            .collect();
        assert_eq!(
            burst.last().unwrap() - now,
            9_999_000,
            "10,000 hits: under 10 ms ahead"
        );
        // 10 ms later the clock has caught up again.
        assert_eq!(
            next_unique_timestamp(&last, now + 10_000_000, instance(0)),
            now + 10_000_000
        );
    }

    #[test]
    fn instance_numbers_are_0_to_999() {
        assert_eq!(Instance::parse("0"), Some(instance(0)));
        assert_eq!(Instance::parse("999"), Some(instance(999)));
        for bad in ["1000", "", "-1", "+1", "1.0", " 1", "0x1", "0999"] {
            assert_eq!(Instance::parse(bad), None, "{bad:?}");
        }
        assert!(Instance::new(1000).is_none());
    }

    #[test]
    fn host_names_spread_over_all_instance_numbers() {
        let numbers: HashSet<u16> = (0..20_000)
            .map(|n| Instance::from_host_name(&format!("edge-{n}.example.net")).number())
            .collect();
        assert_eq!(numbers.len(), 1000);
        assert_eq!(
            Instance::from_host_name("edge-1"),
            Instance::from_host_name("edge-1"),
            "stable"
        );
    }

    #[test]
    fn flushes_take_distinct_milliseconds() {
        let last = AtomicU64::new(0);
        let now = 1_795_940_673_982_123_456;
        let a = next_unique_millisecond(&last, now, instance(5));
        let b = next_unique_millisecond(&last, now, instance(5));
        assert_eq!(a, 1_795_940_673_982_000_005);
        assert_eq!(b, 1_795_940_673_983_000_005);
    }

    #[test]
    fn concurrent_callers_get_distinct_timestamps() {
        let last = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let last = Arc::clone(&last);
                std::thread::spawn(move || {
                    (0..10_000)
                        .map(|_| next_unique_timestamp(&last, 7_000, instance(3)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let all: HashSet<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert_eq!(all.len(), 40_000);
    }

    proptest! {
        /// Two instances, each with its own counter fed any clock readings, never hand out the
        /// same timestamp, and every timestamp carries its instance in the lowest digits.
        #[test]
        fn two_instances_never_share_a_timestamp(
            a in 0u16..1000,
            b in 0u16..1000,
            clock in proptest::collection::vec((any::<bool>(), 0u64..5_000_000), 1..200),
        ) {
            prop_assume!(a != b);
            let (last_a, last_b) = (AtomicU64::new(0), AtomicU64::new(0));
            let mut seen = HashSet::new();
            for (on_a, now) in clock {
                let (last, i) = if on_a { (&last_a, instance(a)) } else { (&last_b, instance(b)) };
                let t = next_unique_timestamp(last, now, i);
                prop_assert_eq!(t % 1000, u64::from(i.number()));
                prop_assert!(t / 1000 >= now / 1000);
                prop_assert!(seen.insert(t));
            }
        }
    }
}
