//! Requests that are answered but not recorded: requests the site owner skips
//! (`analytics_skip`), visitors who ask not to be tracked (`DNT: 1`, `Sec-GPC: 1`) and robots.
//! They get the same answer as a recorded hit, so nothing tells a robot it was seen through, and
//! are counted by reason.

use analytics_core::bots::detect_bot;
use nginx_sys::{ngx_http_complex_value, ngx_http_request_t, ngx_int_t, ngx_str_t, NGX_OK};

use crate::conf::{Merged, SkipConditions};
use crate::response::request_headers;
use crate::shared_state::Counter;

/// Why this request must not be recorded, as the counter that counts it; `None` to record it.
/// The site owner's `analytics_skip` is asked first, then Do Not Track, then the robot filter.
///
/// # Safety
/// `r` must be a valid request.
pub unsafe fn skip_reason(r: *mut ngx_http_request_t, conf: &Merged) -> Option<Counter> {
    if let Some(conditions) = &conf.skip {
        // SAFETY (caller): valid request.
        if unsafe { skipped(r, conditions) } {
            return Some(Counter::IgnoredSkip);
        }
    }
    // SAFETY (caller): valid request.
    let req = unsafe { &*r };
    if conf.respect_dnt {
        // SAFETY (caller): valid request.
        let [dnt, gpc] = unsafe { request_headers(req, ["DNT", "Sec-GPC"]) };
        if dnt.is_some_and(|v| v.trim() == "1") || gpc.is_some_and(|v| v.trim() == "1") {
            return Some(Counter::IgnoredDnt);
        }
    }
    if conf.filter_bots {
        // SAFETY (caller): `user_agent` is null or points to the request's parsed header.
        let agent = unsafe { req.headers_in.user_agent.as_ref() }.and_then(|h| h.value.to_str().ok());
        if detect_bot(agent).is_some() {
            return Some(Counter::RejectedBot);
        }
    }
    None
}

/// Whether any of the `analytics_skip` values is, for this request, non-empty and not `0` (the
/// rule of nginx's `proxy_no_cache`). A value nginx cannot evaluate (it could not allocate)
/// skips nothing: the request is recorded as if the directive were not there.
///
/// # Safety
/// `r` must be a valid request of the configuration `conditions` were compiled for.
unsafe fn skipped(r: *mut ngx_http_request_t, conditions: &SkipConditions) -> bool {
    conditions.0.iter().any(|condition| {
        let mut condition = *condition;
        let mut value = ngx_str_t::default();
        // SAFETY (caller): a valid request; `condition` is a copy of a value compiled for this
        // configuration, whose lengths and codes live in its pool. nginx writes the result into
        // `value`, in the request's pool.
        let rc = unsafe { ngx_http_complex_value(r, &mut condition, &mut value) };
        rc == NGX_OK as ngx_int_t && !(value.is_empty() || value.as_bytes() == b"0")
    })
}
