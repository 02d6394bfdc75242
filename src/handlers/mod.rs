//! The location handlers, and what they share: the one step that turns an outcome into a queued
//! line and its counter, the accounting that counts every request of a beacon or pixel location
//! exactly once, and the guard that keeps a panic from crossing into nginx.

pub mod agent;
pub mod beacon;
pub mod dashboard;
pub mod embedded_file;
pub mod log_phase;
pub mod pixel;
pub mod status;

use analytics_core::outcome_line::{write_outcome, Measurements, RecordKind};
use analytics_core::Outcome;
use nginx_sys::{ngx_http_request_t, ngx_int_t, NGX_HTTP_INTERNAL_SERVER_ERROR};
use ngx::http::{HttpModule, HttpModuleMainConf};

use crate::panic_guard::contain;
use crate::shared_state::{Counter, SharedState};
use crate::worker::Worker;
use crate::AnalyticsModule;

/// Applies the cardinality budget to an accepted outcome, queues its line, and returns the
/// counter that counts it. The beacon and the pixel both record through here.
pub fn record(worker: &mut Worker, outcome: &mut Outcome, measurements: &Measurements) -> Counter {
    worker.apply_budget(outcome);
    let timestamp = worker.timestamp();
    let mut kind = RecordKind::PageView;
    worker.enqueue_hit(|out| kind = write_outcome(out, &*outcome, measurements, timestamp));
    match kind {
        RecordKind::PageView => Counter::Accepted,
        RecordKind::NotFound => Counter::NotFound,
        RecordKind::Event => Counter::Events,
        RecordKind::Unlisted => Counter::Unlisted,
    }
}

/// A marker stored in the request's module context once the request has been counted, so the
/// log phase can count the requests nginx answered before the module saw them.
static COUNTED: u8 = 0;

/// Counts `r` by `counter`, once.
///
/// # Safety
/// `r` must be a valid request.
pub unsafe fn count(r: *mut ngx_http_request_t, shared: &SharedState, counter: Counter) {
    shared.add(counter, 1);
    let index = AnalyticsModule::module().ctx_index;
    // SAFETY (caller): `r->ctx` has one slot per HTTP module, and this module's index is below
    // their number; the marker is a static, never written through.
    unsafe { *(*r).ctx.add(index) = std::ptr::addr_of!(COUNTED).cast_mut().cast() };
}

/// Whether [`count`] has counted `r`.
///
/// # Safety
/// `r` must be a valid request.
pub unsafe fn was_counted(r: *const ngx_http_request_t) -> bool {
    let index = AnalyticsModule::module().ctx_index;
    // SAFETY (caller): as in `count`.
    unsafe { !(*(*r).ctx.add(index)).is_null() }
}

/// The shared counters, from any request.
pub fn shared_counters(r: &ngx_http_request_t) -> Option<&'static SharedState> {
    AnalyticsModule::main_conf(r).and_then(|main| main.shared())
}

/// Counts a request that a panic interrupted, unless it was counted before the panic.
pub fn count_internal_error(r: *mut ngx_http_request_t) {
    // SAFETY: `r` is the valid request a guarded entry point was called with.
    if let Some(shared) = shared_counters(unsafe { &*r }) {
        // SAFETY: as above.
        if unsafe { !was_counted(r) } {
            // SAFETY: as above.
            unsafe { count(r, shared, Counter::InternalErrors) };
        }
    }
}

/// Runs a content handler's body; a panic is logged, counted, and answered with a 500.
pub fn guard_content_handler(
    entry_point: &str,
    r: *mut ngx_http_request_t,
    body: impl FnOnce() -> ngx_int_t,
) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a valid request whose connection has a log.
    let log = unsafe { (*(*r).connection).log };
    contain(entry_point, log, body).unwrap_or_else(|| {
        // SAFETY: `r` is still the valid request nginx passed.
        count_internal_error(r);
        NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t
    })
}
