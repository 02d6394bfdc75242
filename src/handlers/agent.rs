//! `analytics_agent`: serves the browser script that is embedded in the module, so a site needs no
//! extra file, with caching headers; plain or gzipped, each with its own `ETag` (see
//! [`super::embedded_file`]). Each set of optional features (`features=`) is a script of its own.

use analytics_core::agent_features::{AgentFeatures, AGENT_VARIANTS};
use nginx_sys::{ngx_http_request_t, ngx_int_t};
use ngx::http::HttpModuleLocationConf;

use super::embedded_file::EmbeddedFile;
use crate::response::Header;
use crate::AnalyticsModule;

/// The minified scripts, built from `agent/analytics.js` (`npm run build` in `agent/`), in the
/// order of [`AgentFeatures::index`]: bit 0 outbound, bit 1 downloads, bit 2 engagement.
static VARIANTS: [&str; AGENT_VARIANTS] = [
    include_str!("../../agent/analytics.min.js"),
    include_str!("../../agent/analytics.outbound.min.js"),
    include_str!("../../agent/analytics.downloads.min.js"),
    include_str!("../../agent/analytics.outbound.downloads.min.js"),
    include_str!("../../agent/analytics.engagement.min.js"),
    include_str!("../../agent/analytics.outbound.engagement.min.js"),
    include_str!("../../agent/analytics.downloads.engagement.min.js"),
    include_str!("../../agent/analytics.outbound.downloads.engagement.min.js"),
];
/// The beacon URL the script uses when neither the configuration nor the script tag names one.
const DEFAULT_BEACON: &str = "\"/ping\"";
const JAVASCRIPT: &str = "application/javascript; charset=utf-8";
/// Browsers revalidate after an hour; with the `ETag` that costs a `304`.
const CACHE_CONTROL: Header<'static> = ("Cache-Control", "public, max-age=3600");

/// The script as one location serves it.
pub struct AgentScript(EmbeddedFile);

impl AgentScript {
    /// The script with `features`; `beacon_url` replaces its default beacon URL (`/ping`).
    pub fn new(beacon_url: Option<&str>, features: AgentFeatures) -> Result<AgentScript, String> {
        let minified = VARIANTS[features.index()];
        let body = match beacon_url {
            None => minified.to_owned(),
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
                if minified.matches(DEFAULT_BEACON).count() != 1 {
                    return Err("the embedded script has no single default beacon URL to replace".to_owned());
                }
                minified.replacen(DEFAULT_BEACON, &format!("\"{url}\""), 1)
            }
        };
        EmbeddedFile::new(body.into_bytes(), JAVASCRIPT).map(AgentScript)
    }
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
    // SAFETY (caller): a valid request whose response has not been sent.
    unsafe { script.0.serve(r, &[CACHE_CONTROL]) }
}
