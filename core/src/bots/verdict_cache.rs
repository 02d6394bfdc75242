//! A worker's memory of what the `User-Agent`s it saw last say: their robot verdicts and the
//! browser, platform and device families they name.
//!
//! A site's visitors send few distinct `User-Agent`s (a handful of browser builds make most of
//! them), and the same header is judged and scanned again and again: remembering the verdict
//! and the families of each recent header makes a repeat cost one comparison of its bytes
//! instead of two scans. The cache is a fixed number of slots chosen by a cheap hash of the
//! header; a slot holds the whole header and is reused only for exactly the same bytes, so a hit
//! always gives what a scan would give. A hostile client can only make its own headers miss (and
//! be scanned). Headers longer than [`MAX_CACHED_LEN`] are scanned every time, so the cache holds
//! at most `SLOTS * MAX_CACHED_LEN` bytes. The headers live in this worker's memory only: they
//! are never written anywhere.

use super::{detect_bot, BotReason};
use crate::normalise::client::{agent_families, AgentFamilies};

/// Slots in the cache: more than the browser builds a site sees at once.
const SLOTS: usize = 64;
/// Longer headers are not remembered (browsers send 100 to 200 bytes).
pub const MAX_CACHED_LEN: usize = 256;

#[derive(Default)]
struct Slot {
    /// The header this slot is about; empty for a slot never used (an empty header is never
    /// cached: it is a robot's without a scan, and names no family).
    agent: Vec<u8>,
    /// Each answer once asked for: the filter asks for every request, the families only for
    /// the requests it lets through.
    verdict: Option<Option<BotReason>>,
    families: Option<AgentFamilies>,
}

pub struct VerdictCache {
    slots: Vec<Slot>,
}

impl Default for VerdictCache {
    fn default() -> Self {
        VerdictCache::new()
    }
}

impl VerdictCache {
    pub fn new() -> VerdictCache {
        VerdictCache {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
        }
    }

    /// The verdict of [`detect_bot`] for `user_agent`, from memory when this header was judged
    /// before.
    pub fn detect_bot(&mut self, user_agent: Option<&str>) -> Option<BotReason> {
        match self.slot(user_agent) {
            Some(slot) => *slot.verdict.get_or_insert_with(|| detect_bot(user_agent)),
            None => detect_bot(user_agent),
        }
    }

    /// [`agent_families`] of `user_agent`, from memory when this header was scanned before.
    pub fn agent_families(&mut self, user_agent: Option<&str>) -> AgentFamilies {
        match self.slot(user_agent) {
            Some(slot) => *slot.families.get_or_insert_with(|| agent_families(user_agent)),
            None => agent_families(user_agent),
        }
    }

    /// The slot that holds `user_agent`, emptied of another header's answers if it held one;
    /// `None` for a header that is not remembered (missing, empty, too long).
    fn slot(&mut self, user_agent: Option<&str>) -> Option<&mut Slot> {
        let agent = match user_agent {
            Some(agent) if !agent.is_empty() && agent.len() <= MAX_CACHED_LEN => agent.as_bytes(),
            _ => return None,
        };
        let slot = &mut self.slots[slot_of(agent)];
        if slot.agent != agent {
            // Reuses the slot's allocation: after the first few requests, no allocation at all.
            slot.agent.clear();
            slot.agent.extend_from_slice(agent);
            slot.verdict = None;
            slot.families = None;
        }
        Some(slot)
    }
}

/// The slot of a header: its length and three 8-byte samples (start, middle, end), mixed. Cheap
/// rather than strong: a slot is only a place to look, and the header's bytes decide a hit.
fn slot_of(agent: &[u8]) -> usize {
    let sample = |at: usize| {
        let mut word = [0u8; 8];
        let end = agent.len().min(at + 8);
        word[..end - at].copy_from_slice(&agent[at..end]);
        u64::from_le_bytes(word)
    };
    let len = agent.len();
    let mut hash = len as u64;
    for at in [0, len / 2, len.saturating_sub(8)] {
        hash = (hash ^ sample(at)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        hash ^= hash >> 29;
    }
    (hash as usize) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PEOPLE: &str = include_str!("../../tests/data/people.txt");
    const ROBOTS: &str = include_str!("../../tests/data/robots.txt");

    fn corpus() -> Vec<&'static str> {
        PEOPLE
            .lines()
            .chain(ROBOTS.lines())
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .collect()
    }

    #[test]
    fn gives_the_scans_verdict_for_every_header_of_the_corpora_seen_twice() {
        let mut cache = VerdictCache::new();
        let agents = corpus();
        // Twice over, so that the second pass is answered from memory where it can be.
        for agent in agents.iter().chain(agents.iter()) {
            assert_eq!(cache.detect_bot(Some(agent)), detect_bot(Some(agent)), "{agent}");
        }
    }

    #[test]
    fn answers_a_repeat_from_memory() {
        let mut cache = VerdictCache::new();
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        assert_eq!(cache.detect_bot(Some(chrome)), None);
        let slot = &cache.slots[slot_of(chrome.as_bytes())];
        assert_eq!(slot.agent, chrome.as_bytes());
        assert_eq!(cache.detect_bot(Some(chrome)), None);
    }

    #[test]
    fn never_remembers_missing_empty_or_long_headers() {
        let mut cache = VerdictCache::new();
        assert_eq!(cache.detect_bot(None), Some(BotReason::NoUserAgent));
        assert_eq!(cache.detect_bot(Some("")), Some(BotReason::NoUserAgent));
        let long = format!("Mozilla/5.0 {}", "x".repeat(MAX_CACHED_LEN));
        assert_eq!(cache.detect_bot(Some(&long)), detect_bot(Some(&long)));
        assert!(cache.slots.iter().all(|slot| slot.agent.is_empty()));
    }

    proptest! {
        /// Headers that share a slot, a length, or most of their bytes with one remembered (the
        /// samples the slot is chosen by) still get their own verdict.
        #[test]
        fn agrees_with_the_scan_on_any_sequence_of_headers(
            agents in proptest::collection::vec(
                prop_oneof![
                    Just("Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36".to_owned()),
                    Just("Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36 bot".to_owned()),
                    Just("Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.3b".to_owned()),
                    Just("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)".to_owned()),
                    Just("Mozilla/5.0 (compatible; Googlebat/2.1; +http//www.google.com/bot.html)".to_owned()),
                    "[ -~]{0,300}",
                    "(Mozilla/5.0 |curl/|)[a-zA-Z0-9 ;/()._-]{0,40}",
                ],
                1..60,
            )
        ) {
            let mut cache = VerdictCache::new();
            for agent in &agents {
                prop_assert_eq!(cache.detect_bot(Some(agent)), detect_bot(Some(agent)), "{}", agent);
            }
        }

        /// The families, asked for alone or after the verdict (as the beacon handler does, for
        /// the requests the filter lets through), are always the scan's: for browsers' headers
        /// that share slots with each other and with random ones, in any order.
        #[test]
        fn families_agree_with_the_scan_on_any_sequence_of_headers(
            agents in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36".to_owned()),
                        Just("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0".to_owned()),
                        Just("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1".to_owned()),
                        Just("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36".to_owned()),
                        Just("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1".to_owned()),
                        Just("   ".to_owned()),
                        "[ -~]{0,300}",
                        "Mozilla/5.0 \\((Windows NT 10.0|X11; Linux|Macintosh|iPhone|Linux; Android 1[0-4])[a-zA-Z0-9 ;._-]{0,20}\\) [a-zA-Z0-9 /()._-]{0,60}",
                    ],
                    any::<bool>(),
                ),
                1..80,
            )
        ) {
            let mut cache = VerdictCache::new();
            for (agent, judged_first) in &agents {
                if *judged_first {
                    prop_assert_eq!(cache.detect_bot(Some(agent)), detect_bot(Some(agent)), "{}", agent);
                }
                prop_assert_eq!(cache.agent_families(Some(agent)), agent_families(Some(agent)), "{}", agent);
                prop_assert_eq!(cache.detect_bot(Some(agent)), detect_bot(Some(agent)), "{}", agent);
            }
        }
    }

    #[test]
    fn gives_the_scans_families_for_every_header_of_the_corpora_seen_twice() {
        let mut cache = VerdictCache::new();
        let agents = corpus();
        for agent in agents.iter().chain(agents.iter()) {
            assert_eq!(
                cache.agent_families(Some(agent)),
                agent_families(Some(agent)),
                "{agent}"
            );
        }
        assert_eq!(cache.agent_families(None), AgentFamilies::default());
        assert_eq!(cache.agent_families(Some("")), AgentFamilies::default());
        let long = format!(
            "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0 {}",
            "x".repeat(MAX_CACHED_LEN)
        );
        assert_eq!(cache.agent_families(Some(&long)), agent_families(Some(&long)));
    }

    #[test]
    fn a_header_that_takes_a_slot_over_gets_its_own_families() {
        let mut cache = VerdictCache::new();
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        let before = cache.agent_families(Some(chrome));
        // Another header in the same slot, found by trying variants of one.
        let other = (0..)
            .map(|n| {
                format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/{n}.0")
            })
            .find(|agent| slot_of(agent.as_bytes()) == slot_of(chrome.as_bytes()))
            .unwrap();
        assert_ne!(agent_families(Some(&other)), before);
        assert_eq!(cache.detect_bot(Some(&other)), None);
        assert_eq!(cache.agent_families(Some(&other)), agent_families(Some(&other)));
        assert_eq!(cache.agent_families(Some(chrome)), before);
    }
}
