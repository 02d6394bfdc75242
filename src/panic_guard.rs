//! No panic may cross an `extern "C"` boundary: unwinding into nginx's C frames is undefined
//! behaviour, and in practice the worker aborts, losing every pending line. Every entry point
//! nginx calls runs its body through [`contain`], which turns a panic into an `[alert]` in the
//! error log (naming the entry point) and lets the caller answer or fail cleanly.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use nginx_sys::{ngx_cycle, ngx_log_t, NGX_LOG_ALERT};
use ngx::ngx_log_error;

/// Runs `body`; on a panic, logs it and returns `None`. `log` may be null (the cycle's log is
/// used then).
pub fn contain<R>(entry_point: &str, log: *mut ngx_log_t, body: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => Some(value),
        Err(payload) => {
            let log = if log.is_null() {
                // SAFETY: `ngx_cycle` is the current cycle of this process, set before any module
                // code runs; its log lives as long as the cycle.
                unsafe { (*ngx_cycle).log }
            } else {
                log
            };
            ngx_log_error!(
                NGX_LOG_ALERT,
                log,
                "analytics: internal error in {}: {}",
                entry_point,
                panic_message(payload.as_ref())
            );
            None
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "panic"
    }
}
