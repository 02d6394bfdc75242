//! `analytics_agent`: serves the browser script that is embedded in the module, so a site needs no
//! extra file, with caching headers. Gzipped once when the configuration is read, it is served
//! gzipped to every client that takes gzip, whatever nginx's `gzip` settings; each representation
//! has its own strong `ETag`, and `Vary: Accept-Encoding` tells caches to keep them apart.

use std::io::Write;

use analytics_core::representation::{accepts_gzip, none_match_names};
use nginx_sys::{
    ngx_http_discard_request_body, ngx_http_request_t, ngx_int_t, NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_OK,
};
use ngx::http::HttpModuleLocationConf;

use crate::response::{request_header, send, send_typed, Header};
use crate::AnalyticsModule;

/// The minified script, built from `agent/analytics.js` (`npm run build` in `agent/`).
static MINIFIED: &str = include_str!("../../agent/analytics.min.js");
/// The beacon URL the script uses when neither the configuration nor the script tag names one.
const DEFAULT_BEACON: &str = "\"/ping\"";
const JAVASCRIPT: &str = "application/javascript; charset=utf-8";
/// Browsers revalidate after an hour; with the `ETag` that costs a `304`.
const CACHE_CONTROL: Header<'static> = ("Cache-Control", "public, max-age=3600");
/// Caches keep the plain and the gzipped script apart.
const VARY: Header<'static> = ("Vary", "Accept-Encoding");

/// One representation of the script: its bytes and the strong `ETag` naming exactly them.
struct Representation {
    body: Vec<u8>,
    etag: String,
}

impl Representation {
    fn new(body: Vec<u8>) -> Representation {
        let etag = format!("\"{:016x}\"", fnv1a(&body));
        Representation { body, etag }
    }
}

/// The script as one location serves it.
pub struct AgentScript {
    plain: Representation,
    gzipped: Representation,
}

impl AgentScript {
    /// `beacon_url` replaces the script's default beacon URL (`/ping`).
    pub fn new(beacon_url: Option<&str>) -> Result<AgentScript, String> {
        let body = match beacon_url {
            None => MINIFIED.to_owned(),
            Some(url) => {
                let plain = !url.is_empty()
                    && url
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'<' | b'>'));
                if !plain {
                    return Err(format!(
                        "invalid \"beacon={url}\": use a plain URL or path such as /ping"
                    ));
                }
                if MINIFIED.matches(DEFAULT_BEACON).count() != 1 {
                    return Err("the embedded script has no single default beacon URL to replace".to_owned());
                }
                MINIFIED.replacen(DEFAULT_BEACON, &format!("\"{url}\""), 1)
            }
        };
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzipped = encoder
            .write_all(body.as_bytes())
            .and_then(|()| encoder.finish())
            .map_err(|e| format!("cannot gzip the browser script: {e}"))?;
        Ok(AgentScript {
            plain: Representation::new(body.into_bytes()),
            gzipped: Representation::new(gzipped),
        })
    }
}

/// FNV-1a: a fixed, dependency-free content hash, enough to tell versions of the script apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub extern "C" fn agent_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request.
    crate::handlers::guard_content_handler("the agent handler", r, || unsafe { serve_script(r) })
}

/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn serve_script(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY (caller): valid request.
    let req = unsafe { &*r };
    let Some(script) = AnalyticsModule::location_conf(req).and_then(|lcf| lcf.agent.as_ref()) else {
        return nginx_sys::NGX_ERROR as ngx_int_t;
    };
    // SAFETY (caller): a valid request; the script is served whatever body came with it.
    let rc = unsafe { ngx_http_discard_request_body(r) };
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    let method = req.method as u32;
    if method != NGX_HTTP_GET && method != NGX_HTTP_HEAD {
        // SAFETY (caller): a valid request whose response has not been sent.
        return unsafe { send(r, 405, &[("Allow", "GET, HEAD")], b"405 Method Not Allowed\n") };
    }
    // SAFETY (caller): a valid request.
    let gzip = accepts_gzip(unsafe { request_header(req, "Accept-Encoding") });
    let chosen = if gzip { &script.gzipped } else { &script.plain };
    let headers = [
        CACHE_CONTROL,
        VARY,
        ("ETag", chosen.etag.as_str()),
        ("Content-Encoding", "gzip"),
    ];
    // SAFETY (caller): a valid request.
    if unsafe { request_header(req, "If-None-Match") }
        .is_some_and(|tags| none_match_names(tags, &chosen.etag))
    {
        // SAFETY (caller): a valid request whose response has not been sent.
        return unsafe { send(r, 304, &headers[..3], b"") };
    }
    let headers = if gzip { &headers[..] } else { &headers[..3] };
    // SAFETY (caller): a valid request whose response has not been sent.
    unsafe { send_typed(r, 200, headers, JAVASCRIPT, &chosen.body) }
}
