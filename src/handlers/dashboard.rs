//! `analytics_dashboard`: serves the single-page dashboard compiled into the module (`dashboard/`):
//! the page, its script and its style sheet, under the location's prefix. The page reads its data
//! with InfluxQL from a location the site owner proxies to InfluxDB and protects.
//!
//! The page is the only one a visitor of the dashboard runs, and everything it shows came from
//! strangers' browsers: its `Content-Security-Policy` allows this origin's script, style and
//! queries and nothing else (no inline script, no other origin, no framing), so that even a value
//! the page failed to treat as text could not run.

use analytics_core::dashboard::{DashboardMeasurements, DashboardSettings};
use nginx_sys::{ngx_http_request_t, ngx_int_t, NGX_ERROR};
use ngx::http::HttpModuleLocationConf;

use super::embedded_file::EmbeddedFile;
use crate::response::{send, Header};
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

/// The dashboard of one location: its settings, its files, and its page once the configuration
/// is merged.
pub struct Dashboard {
    settings: DashboardSettings,
    page: Option<EmbeddedFile>,
    script: EmbeddedFile,
    style: EmbeddedFile,
}

impl Dashboard {
    pub fn new(settings: DashboardSettings) -> Result<Dashboard, String> {
        Ok(Dashboard {
            settings,
            page: None,
            script: EmbeddedFile::new(SCRIPT.as_bytes().to_vec(), JAVASCRIPT)?,
            style: EmbeddedFile::new(STYLE.as_bytes().to_vec(), CSS)?,
        })
    }

    /// Builds the page from the merged measurement names and the sink's query string (its `db=`
    /// and `rp=`).
    pub fn build_page(
        &mut self,
        measurements: &DashboardMeasurements,
        sink_query: Option<&str>,
    ) -> Result<(), String> {
        let page = self.settings.page(measurements, sink_query);
        self.page = Some(EmbeddedFile::new(page.into_bytes(), HTML)?);
        Ok(())
    }
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
    let uri = req.uri.as_bytes();
    let file = if uri.ends_with(b"/app.js") {
        &dashboard.script
    } else if uri.ends_with(b"/app.css") {
        &dashboard.style
    } else if uri.ends_with(b"/") {
        match &dashboard.page {
            Some(page) => page,
            None => return NGX_ERROR as ngx_int_t,
        }
    } else if !uri.contains(&b'.') {
        // The page's files are named relative to it: it must be served from a URI ending in `/`.
        // nginx's URI is decoded (`%0D%0A` is a line break in it): the Location is escaped again,
        // so the request's own bytes can never add a header or point to another host (`//host`).
        if uri.starts_with(b"//") {
            // SAFETY (caller): a valid request whose response has not been sent.
            return unsafe { send(r, 404, &[], b"404 Not Found\n") };
        }
        let location = format!("{}/", escaped_path(uri));
        // SAFETY (caller): a valid request whose response has not been sent; `location` lives
        // until send has copied it into the request pool.
        return unsafe { send(r, 301, &[("Location", &location)], b"") };
    } else {
        // SAFETY (caller): a valid request whose response has not been sent.
        return unsafe { send(r, 404, &[], b"404 Not Found\n") };
    };
    // SAFETY (caller): a valid request whose response has not been sent.
    unsafe { file.serve(r, &SECURITY_HEADERS) }
}

/// `path` with every byte but unreserved characters and `/` percent-encoded: safe in a header.
fn escaped_path(path: &[u8]) -> String {
    let mut escaped = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            escaped.push(char::from(b));
        } else {
            escaped.push_str(&format!("%{b:02X}"));
        }
    }
    escaped
}
