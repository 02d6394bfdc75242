//! The beacon location (`analytics_beacon`): method and size checks, CORS, reading the body, and
//! handing the normalised outcome to the worker as one line. Every request is counted once.

use analytics_core::beacon::BeaconErrorKind;
use analytics_core::cors::origin_is_allowed;
use analytics_core::{normalise_for_client, Beacon, BeaconError};
use nginx_sys::{
    ngx_http_discard_request_body, ngx_http_finalize_request, ngx_http_read_client_request_body,
    ngx_http_request_t, ngx_int_t, NGX_DONE, NGX_ERROR, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_OPTIONS,
    NGX_HTTP_POST, NGX_HTTP_SPECIAL_RESPONSE, NGX_LOG_INFO, NGX_OK,
};
use ngx::http::HttpModuleLocationConf;
use ngx::ngx_log_error;

use crate::client_families::request_families;
use crate::conf::Merged;
use crate::handlers::{count, count_internal_error, guard_content_handler, record, shared_counters};
use crate::panic_guard::contain;
use crate::request_body::{read_body, take_preread_body, BodyError};
use crate::response::{send, Header};
use crate::shared_state::{Counter, SharedState};
use crate::site_tags::add_site_tags;
use crate::visitor_filter::skip_reason;
use crate::visitor_headers::{self, VisitorHeaders};
use crate::{worker, AnalyticsModule};

const NO_STORE: Header<'static> = ("Cache-Control", "no-store");
const ALLOW: Header<'static> = ("Allow", "POST, OPTIONS");

/// The content handler nginx calls for a request in a beacon location.
pub extern "C" fn beacon_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request.
    guard_content_handler("the beacon handler", r, || unsafe { start(r) })
}

/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn start(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY (caller): valid request.
    let req = unsafe { &*r };
    let (Some(conf), Some(shared)) = (settings(req), shared_counters(req)) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY (caller): valid request; `visitor` is dropped before this handler returns.
    let visitor = unsafe { visitor_headers::collect(req) };
    let method = req.method as u32;
    if method == NGX_HTTP_OPTIONS {
        // SAFETY (caller): valid request, no body expected.
        let (counter, rc) = unsafe { preflight(r, conf, visitor.origin) };
        // SAFETY (caller): valid request.
        unsafe { count(r, shared, counter) };
        return rc;
    }
    if method != NGX_HTTP_POST {
        // SAFETY (caller): valid request.
        unsafe { count(r, shared, Counter::RejectedMethod) };
        let text = "405 Method Not Allowed: send beacons with POST\n";
        // SAFETY (caller): valid request; discarding lets the connection be kept alive.
        return unsafe { reject_without_body(r, 405, &[ALLOW], text) };
    }
    // SAFETY (caller): valid request.
    if let Some(counter) = unsafe { skip_reason(r, conf, &visitor) } {
        // SAFETY (caller): valid request; the body is not needed.
        unsafe {
            count(r, shared, counter);
            return reject_without_body(r, 204, &[], "");
        }
    }
    if req.headers_in.content_length_n > i64::try_from(conf.max_body).unwrap_or(i64::MAX) {
        // SAFETY (caller): as above.
        unsafe {
            count(r, shared, Counter::RejectedSize);
            return reject_without_body(r, 413, &[], &too_large(conf));
        }
    }
    // SAFETY (caller): a valid main request whose body nobody has read; `body` is used before
    // this handler returns.
    if let Some(body) = unsafe { take_preread_body(r, conf.max_body) } {
        // SAFETY (caller): valid request, its body read; `visitor` was read from it.
        return unsafe { answer(r, conf, shared, &visitor, body) };
    }
    // SAFETY (caller): a valid request; nginx calls `body_received` once the body is in, after
    // which that handler finalizes the request. Requests whose body nginx itself refuses (over
    // client_max_body_size, malformed, the client gone) are counted in the log phase.
    let rc = unsafe { ngx_http_read_client_request_body(r, Some(body_received)) };
    if rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
        return rc;
    }
    NGX_DONE as ngx_int_t
}

fn settings(req: &ngx_http_request_t) -> Option<&'static Merged> {
    AnalyticsModule::location_conf(req)?.merged()
}

fn too_large(conf: &Merged) -> String {
    format!(
        "413 Payload Too Large: beacons are at most {} bytes\n",
        conf.max_body
    )
}

/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn reject_without_body(
    r: *mut ngx_http_request_t,
    status: usize,
    headers: &[Header],
    text: &str,
) -> ngx_int_t {
    // SAFETY (caller): valid request.
    let rc = unsafe { ngx_http_discard_request_body(r) };
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    let mut all = vec![NO_STORE];
    all.extend_from_slice(headers);
    // SAFETY (caller): valid request.
    unsafe { send(r, status, &all, text.as_bytes()) }
}

/// CORS preflight: allowed for origins whose host is on the allow-list.
///
/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn preflight(r: *mut ngx_http_request_t, conf: &Merged, origin: Option<&str>) -> (Counter, ngx_int_t) {
    let Some(origin) = origin else {
        // SAFETY (caller): valid request.
        return (Counter::Preflight, unsafe {
            reject_without_body(r, 204, &[ALLOW], "")
        });
    };
    if !origin_is_allowed(origin, &conf.policy.domains) {
        let text = "403 Forbidden: origin not allowed\n";
        // SAFETY (caller): valid request.
        return (Counter::RejectedOrigin, unsafe {
            reject_without_body(r, 403, &[("Vary", "Origin")], text)
        });
    }
    let headers = [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", "POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Content-Type"),
        ("Access-Control-Max-Age", "86400"),
        ("Vary", "Origin"),
    ];
    // SAFETY (caller): valid request.
    (Counter::Preflight, unsafe {
        reject_without_body(r, 204, &headers, "")
    })
}

/// Called by nginx once the whole body has been read.
extern "C" fn body_received(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the post-body handler with the valid request it read the body of.
    let log = unsafe { (*(*r).connection).log };
    // SAFETY: as above; the body has been read.
    let rc = contain("the beacon body handler", log, || unsafe { answer_beacon(r) }).unwrap_or_else(|| {
        count_internal_error(r);
        NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t
    });
    // SAFETY: ngx_http_read_client_request_body took a reference on the request that this
    // finalize releases.
    unsafe { ngx_http_finalize_request(r, rc) };
}

/// # Safety
/// `r` must be a valid request whose body has been read.
unsafe fn answer_beacon(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY (caller): valid request.
    let req = unsafe { &*r };
    let (Some(conf), Some(shared)) = (settings(req), shared_counters(req)) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY (caller): the body has been read.
    let body = match unsafe { read_body(req, conf.max_body) } {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            // SAFETY (caller): valid request.
            unsafe {
                count(r, shared, Counter::RejectedSize);
                return send(r, 413, &[NO_STORE], too_large(conf).as_bytes());
            }
        }
        Err(BodyError::Unreadable) => return NGX_ERROR as ngx_int_t,
    };
    // SAFETY (caller): valid request; `visitor` lives no longer than this handler.
    let visitor = unsafe { visitor_headers::collect(req) };
    // SAFETY (caller): valid request, its body read; `visitor` was read from it.
    unsafe { answer(r, conf, shared, &visitor, &body) }
}

/// Records the beacon `body` and answers. `visitor` holds the request's headers, read once by
/// the caller in the handler it runs in.
///
/// # Safety
/// `r` must be a valid request whose body has been read and whose response has not been sent.
unsafe fn answer(
    r: *mut ngx_http_request_t,
    conf: &Merged,
    shared: &SharedState,
    visitor: &VisitorHeaders<'_>,
    body: &[u8],
) -> ngx_int_t {
    let origin = visitor
        .origin
        .filter(|o| origin_is_allowed(o, &conf.policy.domains));
    let cors: [Header; 3] = [
        NO_STORE,
        ("Access-Control-Allow-Origin", origin.unwrap_or("")),
        ("Vary", "Origin"),
    ];
    let headers: &[Header] = if origin.is_some() { &cors } else { &cors[..1] };

    let families = request_families(visitor);
    let recorded = Beacon::parse(body).and_then(|beacon| {
        normalise_for_client(&beacon, &conf.policy, &families).map(|mut outcome| {
            // SAFETY (caller): valid request of the configuration the tags were compiled for.
            unsafe { add_site_tags(r, &conf.site_tags, &mut outcome) };
            worker::with(|w| record(w, &mut outcome, &conf.measurements))
        })
    });
    match recorded {
        // SAFETY (caller): valid request.
        Err(error) => unsafe { reject(r, shared, headers, &error) },
        Ok(None) => NGX_ERROR as ngx_int_t,
        Ok(Some(counter)) => {
            // SAFETY (caller): valid request.
            unsafe { count(r, shared, counter) };
            if counter == Counter::Unlisted {
                let text = b"403 Forbidden: this domain is not accepted here\n";
                // SAFETY (caller): valid request.
                return unsafe { send(r, 403, headers, text) };
            }
            // SAFETY (caller): valid request.
            unsafe { send(r, 204, headers, b"") }
        }
    }
}

/// Answers 400 with the reason, and counts it.
///
/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn reject(
    r: *mut ngx_http_request_t,
    shared: &SharedState,
    headers: &[Header],
    error: &BeaconError,
) -> ngx_int_t {
    // SAFETY (caller): valid request.
    unsafe { count(r, shared, rejection_counter(error)) };
    // SAFETY (caller): a live request has a live connection with a log.
    let log = unsafe { (*(*r).connection).log };
    ngx_log_error!(NGX_LOG_INFO, log, "analytics: beacon rejected: {}", error);
    let text = format!("400 Bad Request: {error}\n");
    // SAFETY (caller): valid request.
    unsafe { send(r, 400, headers, text.as_bytes()) }
}

fn rejection_counter(error: &BeaconError) -> Counter {
    match error.kind() {
        BeaconErrorKind::Json => Counter::RejectedJson,
        BeaconErrorKind::Type => Counter::RejectedType,
        BeaconErrorKind::Range => Counter::RejectedRange,
        BeaconErrorKind::Invalid => Counter::RejectedInvalid,
    }
}
