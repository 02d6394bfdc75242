//! `analytics_pixel`: a 1×1 transparent GIF for visitors without JavaScript. The page view is
//! taken from the image request's `Referer` (domain and page only), with the same allow-list,
//! privacy rules, robot filter and Do-Not-Track handling as beacons.

use analytics_core::line_protocol::{write_page_view, write_unlisted};
use analytics_core::pixel::beacon_from_referer;
use analytics_core::{normalise, Outcome};
use nginx_sys::{
    ngx_http_discard_request_body, ngx_http_request_t, ngx_int_t, NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_OK,
};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf};

use crate::config::{PAGE_VIEW, UNLISTED};
use crate::response::{send, send_typed};
use crate::shared_state::Counter;
use crate::visitor_filter::skip_reason;
use crate::AnalyticsModule;

/// The smallest transparent 1×1 GIF.
const GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

pub extern "C" fn pixel_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request.
    let req = unsafe { &*r };
    let (Some(lcf), Some(main)) = (
        AnalyticsModule::location_conf(req),
        AnalyticsModule::main_conf_mut(req),
    ) else {
        return nginx_sys::NGX_ERROR as ngx_int_t;
    };
    let Some(worker) = main.worker.as_deref_mut() else {
        return nginx_sys::NGX_ERROR as ngx_int_t;
    };
    let shared = worker.shared();
    // SAFETY: a valid request; an image request has no use for a body.
    let rc = unsafe { ngx_http_discard_request_body(r) };
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    let method = req.method as u32;
    if method != NGX_HTTP_GET && method != NGX_HTTP_HEAD {
        shared.add(Counter::RejectedMethod, 1);
        // SAFETY: a valid request whose response has not been sent.
        return unsafe { send(r, 405, &[("Allow", "GET, HEAD")], b"405 Method Not Allowed\n") };
    }
    // SAFETY: a valid request.
    let counter = match unsafe { skip_reason(req, lcf) } {
        Some(reason) => reason,
        None => {
            // SAFETY: `referer` is null or points to the request's parsed header.
            let referer = unsafe { req.headers_in.referer.as_ref() }.and_then(|h| h.value.to_str().ok());
            let timestamp = worker.timestamp();
            let beacon = beacon_from_referer(referer);
            match beacon.as_ref().map(|b| normalise(b, lcf.policy())) {
                Some(Ok(Outcome::PageView(record))) => {
                    let measurement = lcf.measurement(PAGE_VIEW).expect("never off");
                    worker.enqueue(|out| write_page_view(out, measurement, &record, timestamp));
                    Counter::Accepted
                }
                Some(Ok(Outcome::Unlisted { domain })) => {
                    if let Some(measurement) = lcf.measurement(UNLISTED) {
                        worker.enqueue(|out| write_unlisted(out, measurement, &domain, timestamp));
                    }
                    Counter::Unlisted
                }
                _ => Counter::RejectedInvalid,
            }
        }
    };
    shared.add(counter, 1);
    // Always the image: a page must never show a broken one because of analytics.
    // SAFETY: a valid request whose response has not been sent.
    unsafe { send_typed(r, 200, &[("Cache-Control", "no-store")], "image/gif", &GIF) }
}
