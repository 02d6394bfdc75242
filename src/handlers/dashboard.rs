//! `analytics_dashboard`: serves the single-page dashboard compiled into the module (`dashboard/`):
//! the page, its script and its style sheet, under the location's prefix. The page reads its data
//! with InfluxQL from a location the site owner proxies to InfluxDB and protects.
//!
//! The page is the only one a visitor of the dashboard runs, and everything it shows came from
//! strangers' browsers: its `Content-Security-Policy` allows this origin's script, style and
//! queries and nothing else (no inline script, no other origin, no framing), so that even a value
//! the page failed to treat as text could not run.

use analytics_core::dashboard::{DashboardMeasurements, DashboardSettings};
use nginx_sys::{
    ngx_http_discard_request_body, ngx_http_request_t, ngx_int_t, NGX_ERROR, NGX_HTTP_GET, NGX_HTTP_HEAD,
    NGX_OK,
};
use ngx::http::HttpModuleLocationConf;

use crate::response::{request_header, send, send_typed, Header};
use crate::AnalyticsModule;

const SCRIPT: &str = include_str!("../../dashboard/app.js");
const STYLE: &str = include_str!("../../dashboard/app.css");

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "application/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const SECURITY_HEADERS: [Header<'static>; 5] = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    // Revalidated on every visit: a new module version serves new files at once (a 304 otherwise).
    ("Cache-Control", "no-cache"),
    ("X-Frame-Options", "DENY"),
];

/// One file as served: its bytes and a strong `ETag` made from them.
pub struct Asset {
    body: String,
    etag: String,
}

impl Asset {
    fn new(body: String) -> Asset {
        let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
        Asset { body, etag }
    }
}

/// The dashboard of one location: its settings, and its page once the configuration is merged.
pub struct Dashboard {
    settings: DashboardSettings,
    page: Option<Asset>,
    script: Asset,
    style: Asset,
}

impl Dashboard {
    pub fn new(settings: DashboardSettings) -> Dashboard {
        Dashboard {
            settings,
            page: None,
            script: Asset::new(SCRIPT.to_owned()),
            style: Asset::new(STYLE.to_owned()),
        }
    }

    /// Builds the page from the merged measurement names and the sink's query string (its `db=`
    /// and `rp=`).
    pub fn build_page(&mut self, measurements: &DashboardMeasurements, sink_query: Option<&str>) {
        self.page = Some(Asset::new(self.settings.page(measurements, sink_query)));
    }
}

/// FNV-1a: a fixed, dependency-free content hash, enough to tell versions of a file apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub extern "C" fn dashboard_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request.
    crate::handlers::guard_content_handler("the dashboard handler", r, || unsafe { serve(r) })
}

/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn serve(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY (caller): valid request.
    let req = unsafe { &*r };
    let Some(dashboard) = AnalyticsModule::location_conf(req).and_then(|lcf| lcf.dashboard.as_ref()) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY (caller): a valid request; the files are served whatever body came with it.
    let rc = unsafe { ngx_http_discard_request_body(r) };
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    let method = req.method as u32;
    if method != NGX_HTTP_GET && method != NGX_HTTP_HEAD {
        // SAFETY (caller): a valid request whose response has not been sent.
        return unsafe { send(r, 405, &[("Allow", "GET, HEAD")], b"405 Method Not Allowed\n") };
    }
    let uri = req.uri.as_bytes();
    let (asset, content_type) = if uri.ends_with(b"/app.js") {
        (&dashboard.script, JAVASCRIPT)
    } else if uri.ends_with(b"/app.css") {
        (&dashboard.style, CSS)
    } else if uri.ends_with(b"/") {
        match &dashboard.page {
            Some(page) => (page, HTML),
            None => return NGX_ERROR as ngx_int_t,
        }
    } else if !uri.contains(&b'.') {
        // The page's files are named relative to it: it must be served from a URI ending in `/`.
        let Ok(path) = std::str::from_utf8(uri) else {
            // SAFETY (caller): a valid request whose response has not been sent.
            return unsafe { send(r, 404, &[], b"404 Not Found\n") };
        };
        let location = format!("{path}/");
        // SAFETY (caller): a valid request whose response has not been sent; `location` lives
        // until send_typed has copied it into the request pool.
        return unsafe { send(r, 301, &[("Location", &location)], b"") };
    } else {
        // SAFETY (caller): a valid request whose response has not been sent.
        return unsafe { send(r, 404, &[], b"404 Not Found\n") };
    };
    let mut headers: Vec<Header> = SECURITY_HEADERS.to_vec();
    headers.push(("ETag", asset.etag.as_str()));
    // SAFETY (caller): a valid request.
    let if_none_match = unsafe { request_header(req, "If-None-Match") };
    let unchanged = if_none_match.is_some_and(|tags| {
        tags.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag == asset.etag || tag.strip_prefix("W/") == Some(asset.etag.as_str())
        })
    });
    if unchanged {
        // SAFETY (caller): a valid request whose response has not been sent.
        return unsafe { send(r, 304, &headers, b"") };
    }
    // SAFETY (caller): a valid request whose response has not been sent.
    unsafe { send_typed(r, 200, &headers, content_type, asset.body.as_bytes()) }
}
