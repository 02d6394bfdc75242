//! State shared by all workers: the unique-timestamp clock and the status counters.
//!
//! It lives in an nginx shared memory zone, so it survives `nginx -s reload` (nginx hands the old
//! zone to the new configuration when name and size match): old and new workers keep using one
//! clock, and the counters keep counting.

use std::ffi::c_void;
use std::mem;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use nginx_sys::{
    ngx_conf_t, ngx_int_t, ngx_shared_memory_add, ngx_shm_zone_t, ngx_slab_alloc, ngx_slab_pool_t, ngx_str_t,
};
use ngx::core::Status;

use crate::AnalyticsModule;
use ngx::http::HttpModule;

const ZONE_NAME: &str = "ngx_http_analytics_module";
/// Room for the slab allocator's header and our few dozen bytes, in whole pages.
const ZONE_SIZE: usize = 64 * 1024;

/// What the status counters count. Every request of a beacon location is counted exactly once, so
/// `answered = accepted + not_found + events + unlisted + preflight + ignored_dnt + ignored_skip +
/// each rejected_* + internal_errors` holds after any load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// Page views accepted (answered 204) and queued as lines.
    Accepted,
    /// "Not found" pages accepted (answered 204).
    NotFound,
    /// Custom events accepted (answered 204).
    Events,
    /// Beacons for a domain not on the allow-list (answered 403).
    Unlisted,
    RejectedMethod,
    RejectedSize,
    RejectedJson,
    RejectedType,
    RejectedRange,
    RejectedInvalid,
    RejectedOrigin,
    /// Robots (by `User-Agent`), answered as if recorded.
    RejectedBot,
    /// Visitors who sent `DNT: 1` or `Sec-GPC: 1`, answered as if recorded.
    IgnoredDnt,
    /// Requests `analytics_skip` skipped, answered as if recorded.
    IgnoredSkip,
    /// Preflight (`OPTIONS`) requests answered.
    Preflight,
    /// Lines the sink confirmed: written to the file, stored by the write API (all of a 2xx
    /// batch, the stored part of a partial write), or sent in a datagram the socket reported no
    /// refusal for.
    LinesWritten,
    /// Bytes of those writes, datagrams and request bodies.
    BytesWritten,
    /// Sends the sink (or the write API) accepted: datagrams, writes, 2xx answers.
    BatchesOk,
    /// Sends that did not go through: refused, failed or unanswered attempts (each retry counts).
    BatchesFailed,
    /// Lines dropped because the worker's pending buffer was full.
    DroppedBufferFull,
    /// Lines dropped because the sink refused them for good (a datagram refused as "port
    /// unreachable", a line longer than `datagram=`).
    DroppedSinkError,
    /// Lines an HTTP write API refused (400 or 422, line by line when the answer is a partial
    /// write; 413 for a single line).
    DroppedRefused,
    /// Lines still pending when a worker had to exit.
    DroppedAtExit,
    /// Requests of a beacon or pixel location that nginx answered before the module could:
    /// a body over `client_max_body_size`, a malformed body, a client that went away.
    RejectedByNginx,
    /// Requests answered 500 because of an internal error in the module (logged as `[alert]`).
    InternalErrors,
    /// Lines written with `(other)` in place of a value over its cardinality budget, by tag
    /// kind (in the order of `BudgetedTag::kind_index`).
    OverflowPage,
    OverflowNotFoundPage,
    OverflowEventPage,
    OverflowEventName,
    OverflowReferrer,
    OverflowCampaign,
    OverflowUnlisted,
    OverflowSeries,
    OverflowCustom,
    /// Hits counted into a worker's aggregation table (`analytics_aggregate`).
    HitsAggregated,
    /// Lines the aggregation tables wrote into the pending buffers: each is then counted by
    /// `lines_written` or a `dropped_*` counter, like any line.
    AggregateLines,
}

impl Counter {
    pub const ALL: [Counter; 36] = [
        Counter::Accepted,
        Counter::NotFound,
        Counter::Events,
        Counter::Unlisted,
        Counter::RejectedMethod,
        Counter::RejectedSize,
        Counter::RejectedJson,
        Counter::RejectedType,
        Counter::RejectedRange,
        Counter::RejectedInvalid,
        Counter::RejectedOrigin,
        Counter::RejectedBot,
        Counter::IgnoredDnt,
        Counter::IgnoredSkip,
        Counter::Preflight,
        Counter::LinesWritten,
        Counter::BytesWritten,
        Counter::BatchesOk,
        Counter::BatchesFailed,
        Counter::DroppedBufferFull,
        Counter::DroppedSinkError,
        Counter::DroppedRefused,
        Counter::DroppedAtExit,
        Counter::RejectedByNginx,
        Counter::InternalErrors,
        Counter::OverflowPage,
        Counter::OverflowNotFoundPage,
        Counter::OverflowEventPage,
        Counter::OverflowEventName,
        Counter::OverflowReferrer,
        Counter::OverflowCampaign,
        Counter::OverflowUnlisted,
        Counter::OverflowSeries,
        Counter::OverflowCustom,
        Counter::HitsAggregated,
        Counter::AggregateLines,
    ];

    /// The overflow counter of a tag kind (`BudgetedTag::kind_index`): the overflow counters are
    /// declared in kind order, as `ALL` lists every counter in declaration order.
    pub fn overflow(kind_index: usize) -> Option<Counter> {
        Counter::ALL
            .get((Counter::OverflowPage as usize).checked_add(kind_index)?)
            .copied()
            .filter(|c| {
                (Counter::OverflowPage as usize..=Counter::OverflowCustom as usize).contains(&(*c as usize))
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Counter::Accepted => "accepted",
            Counter::NotFound => "not_found",
            Counter::Events => "events",
            Counter::Unlisted => "unlisted",
            Counter::RejectedMethod => "rejected_method",
            Counter::RejectedSize => "rejected_size",
            Counter::RejectedJson => "rejected_json",
            Counter::RejectedType => "rejected_type",
            Counter::RejectedRange => "rejected_range",
            Counter::RejectedInvalid => "rejected_invalid",
            Counter::RejectedOrigin => "rejected_origin",
            Counter::RejectedBot => "rejected_bot",
            Counter::IgnoredDnt => "ignored_dnt",
            Counter::IgnoredSkip => "ignored_skip",
            Counter::Preflight => "preflight",
            Counter::LinesWritten => "lines_written",
            Counter::BytesWritten => "bytes_written",
            Counter::BatchesOk => "batches_ok",
            Counter::BatchesFailed => "batches_failed",
            Counter::DroppedBufferFull => "dropped_buffer_full",
            Counter::DroppedSinkError => "dropped_sink_error",
            Counter::DroppedRefused => "dropped_refused",
            Counter::DroppedAtExit => "dropped_at_exit",
            Counter::RejectedByNginx => "rejected_by_nginx",
            Counter::InternalErrors => "internal_errors",
            Counter::OverflowPage => "budget_overflow_page",
            Counter::OverflowNotFoundPage => "budget_overflow_notfound_page",
            Counter::OverflowEventPage => "budget_overflow_event_page",
            Counter::OverflowEventName => "budget_overflow_event_name",
            Counter::OverflowReferrer => "budget_overflow_referrer_domain",
            Counter::OverflowCampaign => "budget_overflow_campaign",
            Counter::OverflowUnlisted => "budget_overflow_unlisted_domain",
            Counter::OverflowSeries => "budget_overflow_series",
            Counter::HitsAggregated => "hits_aggregated",
            Counter::AggregateLines => "aggregate_lines",
            Counter::OverflowCustom => "budget_overflow_custom",
        }
    }
}

#[repr(C)]
pub struct SharedState {
    /// `size_of::<SharedState>()` of the module that created it: a reload that loads a newer
    /// module with another layout must not reuse the old state.
    layout_size: AtomicU64,
    /// The microsecond of the last hit's timestamp (see `analytics_core::unique_clock`).
    pub last_hit_us: AtomicU64,
    /// The millisecond of the last flush of aggregated lines.
    pub last_flush_ms: AtomicU64,
    counters: [AtomicU64; Counter::ALL.len()],
}

impl SharedState {
    pub fn add(&self, counter: Counter, n: u64) {
        self.counters[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.counters[counter as usize].load(Ordering::Relaxed)
    }
}

/// Registers the zone with nginx; its memory is mapped and initialised after the configuration is
/// read, before workers start.
///
/// # Safety
/// `cf` must be the configuration being parsed.
pub unsafe fn add_zone(cf: *mut ngx_conf_t) -> Option<*mut ngx_shm_zone_t> {
    let mut name = ngx_str_t {
        len: ZONE_NAME.len(),
        data: ZONE_NAME.as_ptr().cast_mut(),
    };
    let tag = ptr::from_ref(AnalyticsModule::module())
        .cast_mut()
        .cast::<c_void>();
    // SAFETY (caller): `cf` is valid; nginx copies nothing it needs later from `name` except into
    // its own pool.
    let zone = unsafe { ngx_shared_memory_add(cf, &mut name, ZONE_SIZE, tag) };
    // SAFETY: ngx_shared_memory_add returns null or a valid zone of the cycle.
    let zone_ref = unsafe { zone.as_mut()? };
    zone_ref.init = Some(init_zone);
    Some(zone)
}

/// nginx's zone init callback: reuse the state of the previous configuration, or create it.
extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, previous: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls this with the zone it maps, whose `shm.addr` holds an initialised slab
    // pool (nginx sets the pool up before calling init for zones added with a size).
    let zone = unsafe { &mut *zone };
    if !previous.is_null() {
        // SAFETY: `previous` is the data this callback stored for the previous configuration.
        let old = unsafe { &*previous.cast::<SharedState>() };
        if old.layout_size.load(Ordering::Relaxed) == mem::size_of::<SharedState>() as u64 {
            zone.data = previous;
            return Status::NGX_OK.into();
        }
    }
    let pool = zone.shm.addr.cast::<ngx_slab_pool_t>();
    // SAFETY: `pool` is the slab pool of this zone; allocation from it is valid in the master
    // before workers exist. The returned memory is suitably aligned for u64 (slab chunks are
    // aligned to their size class, at least 8 bytes here).
    let state = unsafe { ngx_slab_alloc(pool, mem::size_of::<SharedState>()) }.cast::<SharedState>();
    if state.is_null() {
        return Status::NGX_ERROR.into();
    }
    // SAFETY: `state` points to fresh, exclusively owned memory of the right size and alignment;
    // all-zero bytes are a valid `SharedState` (atomics at zero).
    unsafe {
        ptr::write_bytes(state, 0, 1);
        (*pool).data = state.cast();
        (*state)
            .layout_size
            .store(mem::size_of::<SharedState>() as u64, Ordering::Relaxed);
    }
    zone.data = state.cast();
    Status::NGX_OK.into()
}

/// # Safety
/// `zone` must be the zone added by [`add_zone`], after nginx has initialised it.
pub unsafe fn from_zone(zone: *mut ngx_shm_zone_t) -> &'static SharedState {
    // SAFETY (caller): `data` points to the SharedState in the mapped zone, which stays mapped for
    // the life of the process; all access to it is through atomics.
    unsafe { &*(*zone).data.cast::<SharedState>() }
}
