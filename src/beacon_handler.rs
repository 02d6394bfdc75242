//! The beacon location (`analytics_beacon`): method and size checks, CORS, reading the body, and
//! handing the normalised record to the worker's sink as one line.

use analytics_core::beacon::BeaconErrorKind;
use analytics_core::cors::origin_is_allowed;
use analytics_core::line_protocol::{write_event, write_page_view, write_unlisted};
use analytics_core::{normalise, Beacon, BeaconError, Outcome};
use nginx_sys::{
    ngx_http_discard_request_body, ngx_http_finalize_request, ngx_http_read_client_request_body,
    ngx_http_request_t, ngx_int_t, NGX_DONE, NGX_ERROR, NGX_HTTP_OPTIONS, NGX_HTTP_POST,
    NGX_HTTP_SPECIAL_RESPONSE, NGX_LOG_INFO, NGX_OK,
};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf};
use ngx::ngx_log_error;

use crate::config::{LocationConfig, MainConfig, EVENT, NOT_FOUND, PAGE_VIEW, UNLISTED};
use crate::request_body::{read_body, BodyError};
use crate::response::{request_header, send, Header};
use crate::shared_state::Counter;
use crate::visitor_filter::skip_reason;
use crate::worker_sink::WorkerSink;
use crate::AnalyticsModule;

const NO_STORE: Header<'static> = ("Cache-Control", "no-store");
const ALLOW: Header<'static> = ("Allow", "POST, OPTIONS");

/// The content handler nginx calls for a request in a beacon location.
pub extern "C" fn beacon_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request.
    let req = unsafe { &mut *r };
    let Some((lcf, worker)) = configuration(req) else {
        return NGX_ERROR as ngx_int_t;
    };
    let shared = worker.shared();
    let method = req.method as u32;

    if method == NGX_HTTP_OPTIONS {
        // SAFETY: a valid request, no body expected.
        let (counter, rc) = unsafe { preflight(r, lcf) };
        shared.add(counter, 1);
        return rc;
    }
    if method != NGX_HTTP_POST {
        shared.add(Counter::RejectedMethod, 1);
        // SAFETY: a valid request; discarding lets the connection be kept alive.
        return unsafe {
            reject_without_body(
                r,
                405,
                &[ALLOW],
                "405 Method Not Allowed: send beacons with POST\n",
            )
        };
    }
    // SAFETY: a valid request.
    if let Some(counter) = unsafe { skip_reason(req, lcf) } {
        shared.add(counter, 1);
        // SAFETY: a valid request; the body is not needed.
        return unsafe { reject_without_body(r, 204, &[], "") };
    }
    if req.headers_in.content_length_n > lcf.max_body() as i64 {
        shared.add(Counter::RejectedSize, 1);
        // SAFETY: as above.
        return unsafe { reject_without_body(r, 413, &[], &too_large(lcf)) };
    }
    // SAFETY: a valid request; nginx calls `body_received` once the body is in, after which that
    // handler finalizes the request.
    let rc = unsafe { ngx_http_read_client_request_body(r, Some(body_received)) };
    if rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
        return rc;
    }
    NGX_DONE as ngx_int_t
}

fn configuration(req: &ngx_http_request_t) -> Option<(&'static LocationConfig, &'static mut WorkerSink)> {
    let lcf = AnalyticsModule::location_conf(req)?;
    let main: &'static mut MainConfig = AnalyticsModule::main_conf_mut(req)?;
    Some((lcf, main.worker.as_deref_mut()?))
}

fn too_large(lcf: &LocationConfig) -> String {
    format!(
        "413 Payload Too Large: beacons are at most {} bytes\n",
        lcf.max_body()
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
unsafe fn preflight(r: *mut ngx_http_request_t, lcf: &LocationConfig) -> (Counter, ngx_int_t) {
    // SAFETY (caller): valid request.
    let origin = unsafe { request_header(&*r, "Origin") };
    let Some(origin) = origin else {
        // SAFETY (caller): valid request.
        return (Counter::Preflight, unsafe {
            reject_without_body(r, 204, &[ALLOW], "")
        });
    };
    if !origin_is_allowed(origin, &lcf.policy().domains) {
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
    let rc = unsafe { answer_beacon(r) };
    // SAFETY: ngx_http_read_client_request_body took a reference on the request that this
    // finalize releases.
    unsafe { ngx_http_finalize_request(r, rc) };
}

/// # Safety
/// `r` must be a valid request whose body has been read.
unsafe fn answer_beacon(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY (caller): valid request.
    let req = unsafe { &*r };
    let Some((lcf, worker)) = configuration(req) else {
        return NGX_ERROR as ngx_int_t;
    };
    let shared = worker.shared();
    // SAFETY (caller): the body has been read.
    let body = match unsafe { read_body(req, lcf.max_body()) } {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            shared.add(Counter::RejectedSize, 1);
            // SAFETY (caller): valid request.
            return unsafe { send(r, 413, &[NO_STORE], too_large(lcf).as_bytes()) };
        }
        Err(BodyError::Unreadable) => return NGX_ERROR as ngx_int_t,
    };
    // SAFETY (caller): valid request.
    let origin =
        unsafe { request_header(req, "Origin") }.filter(|o| origin_is_allowed(o, &lcf.policy().domains));
    let cors: [Header; 2] = [
        ("Access-Control-Allow-Origin", origin.unwrap_or("")),
        ("Vary", "Origin"),
    ];
    let headers: &[Header] = if origin.is_some() {
        &[NO_STORE, cors[0], cors[1]]
    } else {
        &[NO_STORE]
    };

    let beacon = match Beacon::parse(&body) {
        Ok(beacon) => beacon,
        // SAFETY (caller): valid request.
        Err(error) => return unsafe { reject(r, req, headers, &error) },
    };
    let accepted = match normalise(&beacon, lcf.policy()) {
        Ok(outcome) => outcome,
        // SAFETY (caller): valid request.
        Err(error) => return unsafe { reject(r, req, headers, &error) },
    };
    let measurement = |which| {
        lcf.measurement(which)
            .expect("only the unlisted measurement may be off")
    };
    let timestamp = worker.timestamp();
    match accepted {
        Outcome::PageView(record) => {
            shared.add(Counter::Accepted, 1);
            worker.enqueue(|out| write_page_view(out, measurement(PAGE_VIEW), &record, timestamp));
        }
        Outcome::NotFound(record) => {
            shared.add(Counter::NotFound, 1);
            worker.enqueue(|out| write_page_view(out, measurement(NOT_FOUND), &record, timestamp));
        }
        Outcome::Event { domain, page, name } => {
            shared.add(Counter::Events, 1);
            worker.enqueue(|out| write_event(out, measurement(EVENT), &domain, &page, name, timestamp));
        }
        Outcome::Unlisted { domain } => {
            shared.add(Counter::Unlisted, 1);
            if let Some(unlisted) = lcf.measurement(UNLISTED) {
                worker.enqueue(|out| write_unlisted(out, unlisted, &domain, timestamp));
            }
            let text = b"403 Forbidden: this domain is not accepted here\n";
            // SAFETY (caller): valid request.
            return unsafe { send(r, 403, headers, text) };
        }
    }
    // SAFETY (caller): valid request.
    unsafe { send(r, 204, headers, b"") }
}

/// Answers 400 with the reason, and counts it.
///
/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn reject(
    r: *mut ngx_http_request_t,
    req: &ngx_http_request_t,
    headers: &[Header],
    error: &BeaconError,
) -> ngx_int_t {
    if let Some((_, worker)) = configuration(req) {
        worker.shared().add(rejection_counter(error), 1);
    }
    ngx_log_error!(
        NGX_LOG_INFO,
        req.connection_log(),
        "analytics: beacon rejected: {}",
        error
    );
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

trait ConnectionLog {
    fn connection_log(&self) -> *mut nginx_sys::ngx_log_t;
}

impl ConnectionLog for ngx_http_request_t {
    fn connection_log(&self) -> *mut nginx_sys::ngx_log_t {
        // SAFETY: a live request always has a live connection with a log.
        unsafe { (*self.connection).log }
    }
}
