//! What the HTTP sink does with its front batch after each exchange with the write API: the
//! response-handling rules, the retry back-off and the deadlines, as a pure state machine.
//!
//! ```text
//!            ┌───────────────────────────────────────────────────────────────┐
//!            ▼                                                               │
//!   attempt 1 ──exchange──┬─ 2xx ──────────────────▶ Delivered     ┐         │
//!       ▲                 ├─ 400, 422 ─────────────▶ Refused       │ settled ┘
//!       │                 ├─ 413, several lines ───▶ Split         │ (attempt 1)
//!       │                 ├─ 413, one line ────────▶ DropTooLarge  ┘
//!       │                 └─ anything else, or no answer
//!       │                        │
//!       │                 exiting and past the exit deadline? ──yes──▶ Abandon
//!       │                        │ no
//!       └── attempt + 1 ◀── RetryIn(Retry-After or back-off, clamped; ≤ 500 ms when exiting)
//! ```

/// Whatever `Retry-After` says, never sooner.
pub const MIN_RETRY_MS: u64 = 250;
/// Whatever `Retry-After` says, never later.
pub const MAX_RETRY_AFTER_MS: u64 = 300_000;
/// The back-off doubles up to this.
pub const MAX_BACKOFF_MS: u64 = 30_000;
/// While the worker exits, retries come at least this often, to use the time left.
pub const EXITING_RETRY_MS: u64 = 500;

/// The class of an answer (or of its absence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the lines are stored.
    Delivered,
    /// 400 or 422: the upstream refused (part of) the data; retrying cannot help. Count the lines
    /// as dropped and log the upstream's message.
    Refused,
    /// 413: the batch is too large for the upstream; send it in halves.
    TooLarge,
    /// 401, 403, 404: the sink is misconfigured (token, database, URL). Log loudly and retry with
    /// back-off while lines keep buffering up to the bound.
    Misconfigured,
    /// 429 or 503: the upstream asks to slow down; retry after `Retry-After` or the back-off.
    SlowDown,
    /// Any other answer, or no answer (connection refused, reset, timed out): retry with back-off.
    Retry,
}

pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        Some(400 | 422) => Verdict::Refused,
        Some(413) => Verdict::TooLarge,
        Some(401 | 403 | 404) => Verdict::Misconfigured,
        Some(429 | 503) => Verdict::SlowDown,
        _ => Verdict::Retry,
    }
}

/// Delay before retry number `attempt` (1, 2, ...): 500 ms doubling up to [`MAX_BACKOFF_MS`],
/// with "equal jitter" (half fixed, half random from `random`, any u64) so that workers do not
/// retry in step. Never below [`MIN_RETRY_MS`].
pub fn backoff_ms(attempt: u32, random: u64) -> u64 {
    let doublings = attempt.clamp(1, 20).saturating_sub(1);
    let ceiling = (2 * MIN_RETRY_MS)
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_MS);
    ceiling / 2 + random % (ceiling / 2 + 1)
}

/// What the sink saw for one exchange (connect + send + answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    Answered {
        status: u16,
        retry_after_s: Option<u64>,
    },
    /// Refused, reset, timed out, or an invalid or oversized answer.
    Failed,
}

/// What the sink must do with the front batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Delivered,
    /// Drop the batch and count its lines: the upstream will never take them.
    Refused,
    /// Send the two halves of the batch in its place.
    Split,
    /// A single line the upstream refuses as too large: drop it and count it.
    DropTooLarge,
    /// Send the batch again after this many milliseconds.
    RetryIn(u64),
    /// The worker is exiting and its exit deadline passed: drop and count what is left.
    Abandon,
}

/// The delivery state of the sink's front batch. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    attempt: u32,
    exit_deadline_ms: Option<u64>,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery::new()
    }
}

impl Delivery {
    pub fn new() -> Delivery {
        Delivery {
            attempt: 1,
            exit_deadline_ms: None,
        }
    }

    /// `lines`: lines in the batch (1 means it cannot be split); `now_ms`; `exiting`: the exit
    /// timeout when the worker is shutting down (the first call while exiting fixes the deadline);
    /// `random`: any u64 for jitter. A retry waits for `Retry-After` when the answer has one,
    /// else for the back-off, clamped to [`MIN_RETRY_MS`, `MAX_RETRY_AFTER_MS`]; while exiting it
    /// waits at most [`EXITING_RETRY_MS`], and once the deadline passed the answer is `Abandon`.
    pub fn on_exchange(
        &mut self,
        exchange: &Exchange,
        lines: usize,
        now_ms: u64,
        exiting: Option<u64>,
        random: u64,
    ) -> Action {
        if let Some(timeout_ms) = exiting {
            self.exit_deadline_ms
                .get_or_insert(now_ms.saturating_add(timeout_ms));
        }
        let (status, retry_after_s) = match *exchange {
            Exchange::Answered {
                status,
                retry_after_s,
            } => (Some(status), retry_after_s),
            Exchange::Failed => (None, None),
        };
        let settled = match verdict(status) {
            Verdict::Delivered => Action::Delivered,
            Verdict::Refused => Action::Refused,
            Verdict::TooLarge if lines > 1 => Action::Split,
            Verdict::TooLarge => Action::DropTooLarge,
            Verdict::Misconfigured | Verdict::SlowDown | Verdict::Retry => {
                return self.retry(retry_after_s, now_ms, random)
            }
        };
        self.settled();
        settled
    }

    /// A batch was settled (delivered, refused, dropped): the next one starts with attempt 1.
    pub fn settled(&mut self) {
        self.attempt = 1;
    }

    /// The attempt the front batch is at: 1 for its first sending.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    fn retry(&mut self, retry_after_s: Option<u64>, now_ms: u64, random: u64) -> Action {
        if self.exit_deadline_ms.is_some_and(|deadline| now_ms >= deadline) {
            self.settled();
            return Action::Abandon;
        }
        let wanted = match retry_after_s {
            Some(seconds) => seconds.saturating_mul(1000),
            None => backoff_ms(self.attempt, random),
        };
        let mut delay = wanted.clamp(MIN_RETRY_MS, MAX_RETRY_AFTER_MS);
        if self.exit_deadline_ms.is_some() {
            delay = delay.min(EXITING_RETRY_MS);
        }
        self.attempt = self.attempt.saturating_add(1);
        Action::RetryIn(delay)
    }
}

/// One absolute deadline per exchange (connect, send and answer together) that progress cannot
/// re-arm: a peer that trickles one byte a second still runs out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeDeadline {
    at_ms: u64,
}

impl ExchangeDeadline {
    pub fn start(now_ms: u64, timeout_ms: u64) -> Self {
        ExchangeDeadline {
            at_ms: now_ms.saturating_add(timeout_ms),
        }
    }

    /// Time left, to arm the next timer with; `None` once the deadline passed.
    pub fn remaining(&self, now_ms: u64) -> Option<u64> {
        self.at_ms.checked_sub(now_ms).filter(|&left| left > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16) -> Exchange {
        Exchange::Answered {
            status,
            retry_after_s: None,
        }
    }

    fn slow_down(status: u16, seconds: u64) -> Exchange {
        Exchange::Answered {
            status,
            retry_after_s: Some(seconds),
        }
    }

    /// The action for one exchange of a fresh batch of `lines` lines, not exiting.
    fn action(exchange: Exchange, lines: usize) -> Action {
        Delivery::new().on_exchange(&exchange, lines, 1_000, None, 7)
    }

    #[test]
    fn classifies_write_api_answers() {
        assert_eq!(verdict(Some(204)), Verdict::Delivered);
        assert_eq!(verdict(Some(200)), Verdict::Delivered);
        assert_eq!(verdict(Some(400)), Verdict::Refused);
        assert_eq!(verdict(Some(422)), Verdict::Refused);
        assert_eq!(verdict(Some(413)), Verdict::TooLarge);
        assert_eq!(verdict(Some(401)), Verdict::Misconfigured);
        assert_eq!(verdict(Some(404)), Verdict::Misconfigured);
        assert_eq!(verdict(Some(429)), Verdict::SlowDown);
        assert_eq!(verdict(Some(503)), Verdict::SlowDown);
        assert_eq!(verdict(Some(500)), Verdict::Retry);
        assert_eq!(verdict(None), Verdict::Retry);
    }

    #[test]
    fn each_answer_has_its_action() {
        assert_eq!(action(answered(204), 10), Action::Delivered);
        assert_eq!(action(answered(200), 1), Action::Delivered);
        assert_eq!(action(answered(400), 10), Action::Refused);
        assert_eq!(action(answered(422), 1), Action::Refused);
        assert_eq!(action(answered(413), 2), Action::Split);
        assert_eq!(action(answered(413), 1), Action::DropTooLarge);
        assert_eq!(action(answered(413), 0), Action::DropTooLarge);
        for retried in [
            answered(401),
            answered(403),
            answered(404),
            answered(429),
            answered(503),
            answered(500),
            answered(302),
            Exchange::Failed,
        ] {
            // The first retry waits the first back-off step: 250 to 500 ms.
            assert!(
                matches!(action(retried, 10), Action::RetryIn(250..=500)),
                "{retried:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_followed_within_bounds() {
        assert_eq!(action(slow_down(429, 7), 3), Action::RetryIn(7_000));
        assert_eq!(action(slow_down(503, 0), 3), Action::RetryIn(MIN_RETRY_MS));
        assert_eq!(
            action(slow_down(503, 86_400), 3),
            Action::RetryIn(MAX_RETRY_AFTER_MS)
        );
        assert_eq!(
            action(slow_down(503, u64::MAX), 3),
            Action::RetryIn(MAX_RETRY_AFTER_MS)
        );
        // Whoever sends it: a proxy's 502 with Retry-After is followed too.
        assert_eq!(action(slow_down(502, 2), 3), Action::RetryIn(2_000));
        // An answer that settles the batch ignores it.
        assert_eq!(action(slow_down(204, 5), 3), Action::Delivered);
    }

    #[test]
    fn back_off_grows_is_jittered_and_has_a_ceiling() {
        let mut delivery = Delivery::new();
        let mut delays = Vec::new();
        for attempt in 1..=12u32 {
            assert_eq!(delivery.attempt(), attempt);
            let Action::RetryIn(delay) = delivery.on_exchange(&Exchange::Failed, 5, 0, None, 0) else {
                panic!("a failure is retried");
            };
            delays.push(delay);
        }
        // With no jitter (random 0), each delay is half its ceiling: 250, 500, ... 15 000.
        assert_eq!(&delays[..4], &[250, 500, 1_000, 2_000]);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(delays[11], MAX_BACKOFF_MS / 2);
        for attempt in [1, 3, 8, 50, u32::MAX] {
            let ceiling = (500u64 << attempt.clamp(1, 20).saturating_sub(1).min(10)).min(MAX_BACKOFF_MS);
            let spread: Vec<u64> = [0, 1, 12_345, u64::MAX]
                .iter()
                .map(|&r| backoff_ms(attempt, r))
                .collect();
            assert!(
                spread.iter().all(|d| (ceiling / 2..=ceiling).contains(d)),
                "{attempt}: {spread:?}"
            );
            assert!(spread.iter().all(|&d| d >= MIN_RETRY_MS));
        }
        assert_ne!(backoff_ms(5, 1), backoff_ms(5, 2));
    }

    #[test]
    fn a_settled_batch_starts_the_next_at_attempt_one() {
        let mut delivery = Delivery::new();
        for _ in 0..3 {
            delivery.on_exchange(&Exchange::Failed, 5, 0, None, 0);
        }
        assert_eq!(delivery.attempt(), 4);
        assert_eq!(
            delivery.on_exchange(&answered(204), 5, 0, None, 0),
            Action::Delivered
        );
        assert_eq!(delivery.attempt(), 1);
        delivery.on_exchange(&Exchange::Failed, 5, 0, None, 0);
        delivery.settled();
        assert_eq!(delivery.attempt(), 1);
    }

    #[test]
    fn an_exiting_worker_retries_often_then_abandons_at_its_deadline() {
        let mut delivery = Delivery::new();
        // Long back-off before the exit...
        for _ in 0..8 {
            delivery.on_exchange(&Exchange::Failed, 5, 0, None, 0);
        }
        // ...then the exit starts at 10 000 with 2 000 ms to go: deadline 12 000, fixed by the first
        // call; later calls do not move it.
        assert_eq!(
            delivery.on_exchange(&Exchange::Failed, 5, 10_000, Some(2_000), u64::MAX),
            Action::RetryIn(EXITING_RETRY_MS)
        );
        assert_eq!(
            delivery.on_exchange(&slow_down(429, 60), 5, 11_000, Some(2_000), 0),
            Action::RetryIn(EXITING_RETRY_MS)
        );
        assert_eq!(
            delivery.on_exchange(&slow_down(429, 0), 5, 11_999, Some(60_000), 0),
            Action::RetryIn(MIN_RETRY_MS)
        );
        assert_eq!(
            delivery.on_exchange(&Exchange::Failed, 5, 12_000, Some(2_000), 0),
            Action::Abandon
        );
        assert_eq!(
            delivery.on_exchange(&answered(500), 5, 20_000, Some(60_000), 0),
            Action::Abandon
        );
        // Answers that settle a batch are still taken after the deadline.
        assert_eq!(
            delivery.on_exchange(&answered(204), 5, 30_000, Some(2_000), 0),
            Action::Delivered
        );
        // No time at all to exit: the first failure abandons.
        assert_eq!(
            Delivery::new().on_exchange(&Exchange::Failed, 5, 500, Some(0), 0),
            Action::Abandon
        );
    }

    #[test]
    fn an_exchange_deadline_is_not_moved_by_progress() {
        let deadline = ExchangeDeadline::start(1_000, 5_000);
        // A peer trickling one byte a second: each byte asks how long is left, and the answer
        // only shrinks.
        let left: Vec<Option<u64>> = (1_000..=7_000)
            .step_by(1_000)
            .map(|now| deadline.remaining(now))
            .collect();
        assert_eq!(
            left,
            [
                Some(5_000),
                Some(4_000),
                Some(3_000),
                Some(2_000),
                Some(1_000),
                None,
                None
            ]
        );
        assert_eq!(
            ExchangeDeadline::start(u64::MAX - 1, 5_000).remaining(u64::MAX - 1),
            Some(1)
        );
        assert_eq!(ExchangeDeadline::start(10, 0).remaining(10), None);
        assert_eq!(deadline.remaining(0), Some(6_000));
    }
}
