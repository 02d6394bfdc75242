//! `analytics_status`: the counters of all workers, as JSON or in the Prometheus text format.
//! Counters only: no configuration, address or secret is shown.

use nginx_sys::{ngx_http_discard_request_body, ngx_http_request_t, ngx_int_t, NGX_ERROR, NGX_OK};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf};

use crate::response::{send_typed, JSON};
use crate::shared_state::Counter;
use crate::AnalyticsModule;

pub extern "C" fn status_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request.
    crate::handlers::guard_content_handler("the status handler", r, || unsafe { answer_status(r) })
}

/// # Safety
/// `r` must be a valid request whose response has not been sent.
unsafe fn answer_status(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY (caller): valid request.
    let req = unsafe { &*r };
    let Some(shared) = AnalyticsModule::main_conf(req).and_then(|main| main.shared()) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY (caller): a valid request; the status page ignores any body.
    let rc = unsafe { ngx_http_discard_request_body(r) };
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    let prometheus = AnalyticsModule::location_conf(req).is_some_and(|lcf| lcf.status_prometheus);
    let counters = Counter::ALL.iter().map(|c| (c.name(), shared.get(*c)));
    let (content_type, body) = if prometheus {
        (PROMETHEUS, prometheus_text(counters))
    } else {
        let fields: Vec<String> = counters
            .map(|(name, value)| format!("\"{name}\":{value}"))
            .collect();
        (JSON, format!("{{{}}}\n", fields.join(",")))
    };
    // SAFETY (caller): a valid request whose response has not been sent.
    unsafe {
        send_typed(
            r,
            200,
            &[("Cache-Control", "no-store")],
            content_type,
            body.as_bytes(),
        )
    }
}

const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One counter metric per status counter: `nginx_analytics_<name>_total`.
fn prometheus_text<'a>(counters: impl Iterator<Item = (&'a str, u64)>) -> String {
    let mut text = String::new();
    for (name, value) in counters {
        text.push_str(&format!(
            "# TYPE nginx_analytics_{name}_total counter\nnginx_analytics_{name}_total {value}\n"
        ));
    }
    text
}
