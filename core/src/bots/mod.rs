//! Telling robots from people, from the request headers alone.
//!
//! Crawlers, link-preview fetchers, monitors, headless browsers and scripts do not view pages;
//! counting them would inflate every figure, and counting a person as a robot would hide them. A
//! request is a robot's when it has no `User-Agent` (no browser sends none) or when its
//! `User-Agent` carries a robot's mark as a whole word or token, never as a fragment of one: a
//! `CUBOT` phone, `Instagram`'s or `TikTok`'s in-app browser, the Google and Bing apps, `Lynx`
//! with its `libwww-FM` are people. The rules are in [`scan`], the names in [`markers`]; the
//! corpora under `core/tests/data/` (real `User-Agent`s of people and of robots) keep them. The
//! header is only read here, never stored; [`VerdictCache`] remembers the verdicts of the recent
//! headers in the worker's memory only.

mod markers;
mod scan;
mod verdict_cache;

pub use scan::robot_mark;
pub use verdict_cache::VerdictCache;

/// Why a request was taken for a robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotReason {
    /// No `User-Agent` header, or an empty one.
    NoUserAgent,
    /// The `User-Agent` names a known robot, tool or headless browser.
    UserAgent,
}

/// `None` for what looks like a person's browser.
pub fn detect_bot(user_agent: Option<&str>) -> Option<BotReason> {
    let Some(agent) = user_agent.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(BotReason::NoUserAgent);
    };
    robot_mark(agent).map(|_| BotReason::UserAgent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_user_agent_is_a_robot() {
        assert_eq!(detect_bot(None), Some(BotReason::NoUserAgent));
        assert_eq!(detect_bot(Some("")), Some(BotReason::NoUserAgent));
        assert_eq!(detect_bot(Some(" \t ")), Some(BotReason::NoUserAgent));
    }
}
