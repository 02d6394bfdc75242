//! Requests that are answered but not recorded: requests the site owner skips
//! (`analytics_skip`), visitors who ask not to be tracked (`DNT: 1`, `Sec-GPC: 1`) and robots.
//! They get the same answer as a recorded hit, so nothing tells a robot it was seen through, and
//! are counted by reason.

use nginx_sys::{ngx_http_complex_value, ngx_http_request_t, ngx_int_t, ngx_str_t, NGX_OK};

use crate::agent_memory::robot_verdict;
use crate::conf::{Merged, SkipConditions};
use crate::shared_state::Counter;
use crate::visitor_headers::VisitorHeaders;

/// Why this request must not be recorded, as the counter that counts it; `None` to record it.
/// The site owner's `analytics_skip` is asked first, then Do Not Track, then the robot filter.
///
/// # Safety
/// `r` must be a valid request.
pub unsafe fn skip_reason(
    r: *mut ngx_http_request_t,
    conf: &Merged,
    headers: &VisitorHeaders,
) -> Option<Counter> {
    if let Some(conditions) = &conf.skip {
        // SAFETY (caller): valid request.
        if unsafe { skipped(r, conditions) } {
            return Some(Counter::IgnoredSkip);
        }
    }
    if conf.respect_dnt && headers.asks_not_to_be_tracked() {
        return Some(Counter::IgnoredDnt);
    }
    if conf.filter_bots && robot_verdict(headers.user_agent).is_some() {
        return Some(Counter::RejectedBot);
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
