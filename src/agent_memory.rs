//! This worker's memory of the `User-Agent`s it saw last: their robot verdicts and families
//! (`analytics_core::bots::VerdictCache`), so a repeated header is not scanned again.

use std::cell::RefCell;

use analytics_core::bots::{detect_bot, BotReason, VerdictCache};
use analytics_core::normalise::client::{agent_families, AgentFamilies};

thread_local! {
    static AGENTS: RefCell<VerdictCache> = RefCell::new(VerdictCache::new());
}

/// [`detect_bot`] of `user_agent`.
pub fn robot_verdict(user_agent: Option<&str>) -> Option<BotReason> {
    AGENTS.with(|cache| match cache.try_borrow_mut() {
        Ok(mut cache) => cache.detect_bot(user_agent),
        // Only if this were re-entered: judge without the cache.
        Err(_) => detect_bot(user_agent),
    })
}

/// [`agent_families`] of `user_agent`.
pub fn user_agent_families(user_agent: Option<&str>) -> AgentFamilies {
    AGENTS.with(|cache| match cache.try_borrow_mut() {
        Ok(mut cache) => cache.agent_families(user_agent),
        // As above.
        Err(_) => agent_families(user_agent),
    })
}
