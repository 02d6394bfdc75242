//! Which upstream of an HTTP sink takes the next batch, and each upstream's health: the pure rules
//! behind `analytics_sink http://a/.. http://b/.. balance=failover|round-robin`.
//!
//! An upstream is up until one of its exchanges fails (no answer, a timeout, or an answer that is
//! retried: 5xx, 429, 401, 403, 404...); it is then down for a back-off that doubles with each
//! failure in a row (the delivery back-off of `crate::delivery`, or the upstream's `Retry-After`
//! when longer). Once that time has passed it is offered batches again; its next answer (any
//! answer that settles a batch, refusals included) makes it healthy and resets its back-off.

use crate::delivery::backoff_ms;

/// How batches are spread over the upstreams (`balance=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// Every batch to the first upstream that is up; the next ones only while it is down.
    Failover,
    /// Each batch to the next upstream in turn that is up.
    RoundRobin,
}

impl Balance {
    pub fn parse(value: &str) -> Option<Balance> {
        match value {
            "failover" => Some(Balance::Failover),
            "round-robin" => Some(Balance::RoundRobin),
            _ => None,
        }
    }
}

/// One upstream's health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Failed exchanges in a row.
    failures: u32,
    /// Down until this moment (milliseconds on the caller's clock).
    down_until_ms: Option<u64>,
}

impl Health {
    pub fn is_up(&self, now_ms: u64) -> bool {
        self.down_until_ms.is_none_or(|until| now_ms >= until)
    }

    /// An exchange failed: down for the next back-off step, or for `at_least_ms` (a `Retry-After`)
    /// when longer. Returns how long.
    pub fn failed(&mut self, now_ms: u64, at_least_ms: u64, random: u64) -> u64 {
        self.failures = self.failures.saturating_add(1);
        let down_for = backoff_ms(self.failures, random).max(at_least_ms);
        let until = now_ms.saturating_add(down_for);
        // Several connections to one upstream may fail one after the other: the longest wins.
        self.down_until_ms = Some(self.down_until_ms.map_or(until, |u| u.max(until)));
        down_for
    }

    /// It answered: healthy again.
    pub fn answered(&mut self) {
        *self = Health::default();
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The upstreams' health and the balance between them.
#[derive(Debug, Clone)]
pub struct Upstreams {
    balance: Balance,
    health: Vec<Health>,
    /// Round-robin: the upstream whose turn is next.
    next: usize,
}

impl Upstreams {
    pub fn new(balance: Balance, count: usize) -> Upstreams {
        Upstreams {
            balance,
            health: vec![Health::default(); count],
            next: 0,
        }
    }

    pub fn health_mut(&mut self, upstream: usize) -> Option<&mut Health> {
        self.health.get_mut(upstream)
    }

    pub fn is_up(&self, upstream: usize, now_ms: u64) -> bool {
        self.health.get(upstream).is_some_and(|h| h.is_up(now_ms))
    }

    /// The upstream the next batch goes to, given which upstreams have a free connection
    /// (`has_free`); `None` if it must wait. With `failover`, that is the first upstream that is up,
    /// if it has a free connection: a busy first upstream is waited for, not overflowed. With
    /// `round-robin`, the next one in turn that is up and has a free connection. When every
    /// upstream is down, the batch waits too.
    pub fn choose(&mut self, now_ms: u64, has_free: impl Fn(usize) -> bool) -> Option<usize> {
        let chosen = self.peek(now_ms, has_free)?;
        if self.balance == Balance::RoundRobin {
            self.next = (chosen + 1) % self.health.len();
        }
        Some(chosen)
    }

    /// What [`Upstreams::choose`] would answer now, without taking a round-robin turn.
    pub fn peek(&self, now_ms: u64, has_free: impl Fn(usize) -> bool) -> Option<usize> {
        let count = self.health.len();
        match self.balance {
            Balance::Failover => {
                let first_up = (0..count).find(|&u| self.is_up(u, now_ms))?;
                has_free(first_up).then_some(first_up)
            }
            Balance::RoundRobin => (0..count)
                .map(|step| (self.next + step) % count)
                .find(|&u| self.is_up(u, now_ms) && has_free(u)),
        }
    }

    /// Where a batch held by `from`, which is down, can go now: another upstream that is up and
    /// has a free connection, in the order of the balance; `None` to keep it where it is.
    pub fn failover_for(&self, from: usize, now_ms: u64, has_free: impl Fn(usize) -> bool) -> Option<usize> {
        if self.is_up(from, now_ms) {
            return None;
        }
        let count = self.health.len();
        match self.balance {
            // The first upstream that is up takes it, if it has room.
            Balance::Failover => self.peek(now_ms, has_free).filter(|&u| u != from),
            Balance::RoundRobin => {
                let chosen = (1..count)
                    .map(|step| (from + step) % count)
                    .find(|&u| self.is_up(u, now_ms) && has_free(u))?;
                Some(chosen)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_balance() {
        assert_eq!(Balance::parse("failover"), Some(Balance::Failover));
        assert_eq!(Balance::parse("round-robin"), Some(Balance::RoundRobin));
        assert_eq!(Balance::parse("roundrobin"), None);
        assert_eq!(Balance::parse(""), None);
    }

    #[test]
    fn failover_uses_the_first_upstream_that_is_up_and_waits_for_it_when_busy() {
        let mut ups = Upstreams::new(Balance::Failover, 3);
        assert_eq!(ups.choose(0, |_| true), Some(0));
        assert_eq!(ups.choose(0, |_| true), Some(0));
        // Busy but up: wait for it rather than spread.
        assert_eq!(ups.choose(0, |u| u != 0), None);
        let down_for = ups.health_mut(0).unwrap().failed(1_000, 0, 0);
        assert_eq!(down_for, 250);
        assert_eq!(ups.choose(1_000, |_| true), Some(1));
        assert_eq!(ups.choose(1_249, |_| true), Some(1));
        // Its back-off over, the first upstream is tried again.
        assert_eq!(ups.choose(1_250, |_| true), Some(0));
        ups.health_mut(1).unwrap().failed(1_300, 0, 0);
        ups.health_mut(0).unwrap().failed(1_300, 0, 0);
        assert_eq!(ups.choose(1_300, |_| true), Some(2));
        ups.health_mut(2).unwrap().failed(1_300, 0, 0);
        // All down: wait.
        assert_eq!(ups.choose(1_300, |_| true), None);
    }

    #[test]
    fn round_robin_takes_turns_over_the_upstreams_that_are_up() {
        let mut ups = Upstreams::new(Balance::RoundRobin, 3);
        let turns: Vec<_> = (0..6).map(|_| ups.choose(0, |_| true).unwrap()).collect();
        assert_eq!(turns, [0, 1, 2, 0, 1, 2]);
        ups.health_mut(1).unwrap().failed(0, 0, 0);
        let turns: Vec<_> = (0..4).map(|_| ups.choose(10, |_| true).unwrap()).collect();
        assert_eq!(turns, [0, 2, 0, 2]);
        // A busy upstream's turn passes to the next; peeking takes no turn.
        assert_eq!(ups.peek(10, |u| u != 0), Some(2));
        assert_eq!(ups.peek(10, |u| u != 0), Some(2));
        assert_eq!(ups.choose(10, |u| u != 0), Some(2));
        ups.health_mut(1).unwrap().answered();
        let turns: Vec<_> = (0..3).map(|_| ups.choose(10, |_| true).unwrap()).collect();
        assert_eq!(turns, [0, 1, 2]);
        assert_eq!(ups.choose(10, |_| false), None);
    }

    #[test]
    fn back_off_grows_with_failures_in_a_row_and_an_answer_resets_it() {
        let mut health = Health::default();
        let steps: Vec<u64> = (0..5).map(|_| health.failed(0, 0, 0)).collect();
        assert_eq!(steps, [250, 500, 1_000, 2_000, 4_000]);
        assert_eq!(health.failures(), 5);
        assert!(!health.is_up(3_999));
        assert!(health.is_up(4_000));
        // A Retry-After longer than the back-off is followed.
        health.answered();
        assert_eq!(health.failed(0, 60_000, 0), 60_000);
        assert!(!health.is_up(59_999));
        // Another connection's shorter failure does not shorten it.
        health.failed(0, 0, 0);
        assert!(!health.is_up(59_999));
        health.answered();
        assert!(health.is_up(0));
        assert_eq!(health.failures(), 0);
    }

    #[test]
    fn a_batch_held_by_a_dead_upstream_moves_only_to_one_that_is_up_with_room() {
        let mut ups = Upstreams::new(Balance::Failover, 2);
        // Up: keep it.
        assert_eq!(ups.failover_for(0, 0, |_| true), None);
        ups.health_mut(0).unwrap().failed(0, 0, 0);
        assert_eq!(ups.failover_for(0, 0, |_| true), Some(1));
        assert_eq!(ups.failover_for(0, 0, |_| false), None);
        ups.health_mut(1).unwrap().failed(0, 0, 0);
        assert_eq!(ups.failover_for(0, 0, |_| true), None);

        let mut ups = Upstreams::new(Balance::RoundRobin, 3);
        ups.health_mut(1).unwrap().failed(0, 0, 0);
        assert_eq!(ups.failover_for(1, 0, |_| true), Some(2));
        assert_eq!(ups.failover_for(1, 0, |u| u != 2), Some(0));
        // Moving a batch does not take a turn from the round.
        assert_eq!(ups.choose(0, |_| true), Some(0));
    }
}
