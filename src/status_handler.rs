//! `analytics_status`: the counters of all workers, as JSON.

use nginx_sys::{ngx_http_discard_request_body, ngx_http_request_t, ngx_int_t, NGX_ERROR, NGX_OK};
use ngx::http::HttpModuleMainConf;

use crate::response::{send_typed, JSON};
use crate::shared_state::Counter;
use crate::AnalyticsModule;

pub extern "C" fn status_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request.
    let req = unsafe { &*r };
    let Some(shared) = AnalyticsModule::main_conf(req).and_then(|main| main.shared()) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY: a valid request; the status page ignores any body.
    let rc = unsafe { ngx_http_discard_request_body(r) };
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    let fields: Vec<String> = Counter::ALL
        .iter()
        .map(|c| format!("\"{}\":{}", c.name(), shared.get(*c)))
        .collect();
    let body = format!("{{{}}}\n", fields.join(","));
    // SAFETY: a valid request whose response has not been sent.
    unsafe { send_typed(r, 200, &[("Cache-Control", "no-store")], JSON, body.as_bytes()) }
}
