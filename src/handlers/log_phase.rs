//! Counts the requests of beacon and pixel locations that nginx answered before the module ran:
//! a body over `client_max_body_size`, a malformed chunked body, a client that went away while
//! sending. With it, every request of such a location is counted exactly once.

use nginx_sys::{ngx_http_request_t, ngx_int_t, NGX_OK};
use ngx::http::HttpModuleLocationConf;

use crate::handlers::{shared_counters, was_counted};
use crate::panic_guard::contain;
use crate::shared_state::Counter;
use crate::AnalyticsModule;

pub extern "C" fn log_phase_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls log-phase handlers with a valid request.
    let log = unsafe { (*(*r).connection).log };
    contain("the log phase", log, || {
        // SAFETY: as above.
        let req = unsafe { &*r };
        let ours = AnalyticsModule::location_conf(req).is_some_and(|lcf| lcf.beacon || lcf.pixel);
        // SAFETY: as above.
        if ours && !unsafe { was_counted(r) } {
            if let Some(shared) = shared_counters(req) {
                shared.add(Counter::RejectedByNginx, 1);
            }
        }
    });
    NGX_OK as ngx_int_t
}
