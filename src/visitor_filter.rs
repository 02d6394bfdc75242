//! Requests that are answered but not recorded: visitors who ask not to be tracked (`DNT: 1`,
//! `Sec-GPC: 1`) and robots. They get the same answer as a recorded hit, so nothing tells a
//! robot it was seen through, and are counted by reason.

use analytics_core::bots::detect_bot;
use nginx_sys::ngx_http_request_t;

use crate::conf::Merged;
use crate::response::request_header;
use crate::shared_state::Counter;

/// Why this request must not be recorded, as the counter that counts it; `None` to record it.
///
/// # Safety
/// `r` must be a valid request.
pub unsafe fn skip_reason(r: &ngx_http_request_t, conf: &Merged) -> Option<Counter> {
    if conf.respect_dnt {
        // SAFETY (caller): valid request.
        let (dnt, gpc) = unsafe { (request_header(r, "DNT"), request_header(r, "Sec-GPC")) };
        if dnt.is_some_and(|v| v.trim() == "1") || gpc.is_some_and(|v| v.trim() == "1") {
            return Some(Counter::IgnoredDnt);
        }
    }
    if conf.filter_bots {
        // SAFETY (caller): `user_agent` is null or points to the request's parsed header.
        let agent = unsafe { r.headers_in.user_agent.as_ref() }.and_then(|h| h.value.to_str().ok());
        if detect_bot(agent).is_some() {
            return Some(Counter::RejectedBot);
        }
    }
    None
}
