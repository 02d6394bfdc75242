//! `analytics_pixel`: a 1×1 transparent GIF for visitors without JavaScript. The page view is
//! taken from the image request's `Referer` (domain and page only), with the same allow-list,
//! privacy rules, robot filter and Do-Not-Track handling as beacons.

use analytics_core::normalise;
use analytics_core::pixel::beacon_from_referer;
use nginx_sys::{
    ngx_http_discard_request_body, ngx_http_request_t, ngx_int_t, NGX_ERROR, NGX_HTTP_GET, NGX_HTTP_HEAD,
    NGX_OK,
};
use ngx::http::HttpModuleLocationConf;

use crate::handlers::{count, guard_content_handler, record, shared_counters};
use crate::response::{send, send_typed};
use crate::shared_state::Counter;
use crate::visitor_filter::skip_reason;
use crate::visitor_headers;
use crate::{worker, AnalyticsModule};

/// The smallest transparent 1×1 GIF.
const GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

pub extern "C" fn pixel_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request.
    guard_content_handler("the pixel handler", r, || unsafe { answer_pixel(r) })
}

/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn answer_pixel(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY (caller): valid request.
    let req = unsafe { &*r };
    let (Some(conf), Some(shared)) = (
        AnalyticsModule::location_conf(req).and_then(|lcf| lcf.merged()),
        shared_counters(req),
    ) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY (caller): a valid request; an image request has no use for a body.
    let rc = unsafe { ngx_http_discard_request_body(r) };
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    let method = req.method as u32;
    if method != NGX_HTTP_GET && method != NGX_HTTP_HEAD {
        // SAFETY (caller): a valid request whose response has not been sent.
        unsafe {
            count(r, shared, Counter::RejectedMethod);
            return send(r, 405, &[("Allow", "GET, HEAD")], b"405 Method Not Allowed\n");
        }
    }
    // SAFETY (caller): a valid request; `visitor` is dropped before this handler returns.
    let visitor = unsafe { visitor_headers::collect(req) };
    // SAFETY (caller): a valid request.
    let counter = match unsafe { skip_reason(r, conf, &visitor) } {
        Some(reason) => reason,
        None => {
            // SAFETY (caller): `referer` is null or points to the request's parsed header.
            let referer = unsafe { req.headers_in.referer.as_ref() }.and_then(|h| h.value.to_str().ok());
            let beacon = beacon_from_referer(referer);
            match beacon.as_ref().map(|b| normalise(b, &conf.policy)) {
                Some(Ok(mut outcome)) => worker::with(|w| record(w, &mut outcome, &conf.measurements))
                    .unwrap_or(Counter::InternalErrors),
                _ => Counter::RejectedInvalid,
            }
        }
    };
    // SAFETY (caller): a valid request.
    unsafe { count(r, shared, counter) };
    // Always the image: a page must never show a broken one because of analytics.
    // SAFETY (caller): a valid request whose response has not been sent.
    unsafe { send_typed(r, 200, &[("Cache-Control", "no-store")], "image/gif", &GIF) }
}
