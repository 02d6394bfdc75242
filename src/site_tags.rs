//! `analytics_tag`: the site owner's own tags, whose values nginx evaluates for each request
//! (a `map`, GeoIP2, a CDN's header). The core checks each value; a refused one writes no tag
//! and is logged at `info` by the tag's name, never by its value.

use analytics_core::normalise::site_tag::{site_tag_value, Refused};
use analytics_core::Outcome;
use nginx_sys::{ngx_http_complex_value, ngx_http_request_t, ngx_int_t, ngx_str_t, NGX_LOG_INFO, NGX_OK};
use ngx::ngx_log_error;

use crate::conf::SiteTags;

/// Adds the tags of `tags` whose values are non-empty and valid to a page view or not-found
/// record (events and unlisted domains have a fixed schema).
///
/// # Safety
/// `r` must be a valid request of the configuration `tags` were compiled for.
pub unsafe fn add_site_tags(r: *mut ngx_http_request_t, tags: &SiteTags, outcome: &mut Outcome) {
    let (Outcome::PageView(record) | Outcome::NotFound(record)) = outcome else {
        return;
    };
    for (name, value) in &tags.0 {
        let mut value = *value;
        let mut text = ngx_str_t::default();
        // SAFETY (caller): a valid request; `value` is a copy of a value compiled for this
        // configuration, whose lengths and codes live in its pool. nginx writes the result into
        // `text`, in the request's pool.
        if unsafe { ngx_http_complex_value(r, &mut value, &mut text) } != NGX_OK as ngx_int_t {
            continue;
        }
        match site_tag_value(text.as_bytes()) {
            Ok(Some(value)) => record.site_tags.push((name.clone(), value.to_owned())),
            Ok(None) => {}
            Err(why) => {
                let why = match why {
                    Refused::TooLong => "longer than 64 bytes",
                    Refused::Character => "a character outside a-z A-Z 0-9 - _ . : / and space",
                    Refused::Identifier => "an address, e-mail, phone number, long number or token",
                };
                // SAFETY (caller): a live request has a live connection with a log.
                let log = unsafe { (*(*r).connection).log };
                ngx_log_error!(
                    NGX_LOG_INFO,
                    log,
                    "analytics: analytics_tag \"{}\": value refused: {}",
                    name,
                    why
                );
            }
        }
    }
}
