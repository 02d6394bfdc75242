//! What to do with a batch after the write API answered (or did not): the response-handling
//! rules of the HTTP sink, and its retry back-off.

/// The decision for one attempt at delivering a batch.
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

/// Delay before retry number `attempt` (1, 2, ...): 250 ms doubling up to 30 s, with "equal
/// jitter" (half fixed, half random from `random`, any u64) so that workers do not retry in step.
pub fn backoff_ms(attempt: u32, random: u64) -> u64 {
    let ceiling = 250u64
        .saturating_mul(1 << attempt.clamp(1, 20).saturating_sub(1))
        .min(30_000);
    ceiling / 2 + random % (ceiling / 2 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn backs_off_exponentially_with_jitter_and_a_ceiling() {
        assert!((125..=250).contains(&backoff_ms(1, 12345)));
        assert!((250..=500).contains(&backoff_ms(2, 999)));
        for random in [0, 1, u64::MAX] {
            assert!((15_000..=30_000).contains(&backoff_ms(50, random)));
        }
        assert_ne!(backoff_ms(5, 1), backoff_ms(5, 2));
    }
}
