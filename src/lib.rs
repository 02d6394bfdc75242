//! `ngx_http_analytics_module`: privacy-first web analytics inside nginx.
//!
//! This crate is the thin nginx shell around [`analytics_core`]. A beacon flows one way:
//! `handlers/beacon.rs` (the request) → `analytics_core` (beacon → outcome → line) →
//! `worker.rs` (the worker's pending lines) → `sink/*.rs` (the socket or file). This file only
//! registers the module and its life-cycle hooks. Every `unsafe` block says why it is sound.

use std::ptr;

use nginx_sys::{
    ngx_array_push, ngx_conf_t, ngx_cycle_t, ngx_http_core_loc_conf_t, ngx_http_core_main_conf_t,
    ngx_http_handler_pt, ngx_http_module_t, ngx_http_phases_NGX_HTTP_LOG_PHASE, ngx_int_t, ngx_module_t,
    ngx_msec_t, ngx_uint_t, NGX_HTTP_MODULE,
};
use ngx::core::Status;
use ngx::http::{HttpModule, HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};

mod agent_memory;
mod budget_zone;
mod client_families;
mod conf;
mod directives;
mod handlers;
mod net;
mod panic_guard;
mod request_body;
mod response;
mod shared_state;
mod sink;
mod site_tags;
mod timer;
mod visitor_filter;
mod visitor_headers;
mod worker;

use conf::{LocationConf, MainConf};
use directives::COMMANDS;
use panic_guard::contain;

pub struct AnalyticsModule;

impl HttpModule for AnalyticsModule {
    fn module() -> &'static ngx_module_t {
        // SAFETY: the module table is a static that nginx only writes to (its index fields) while
        // loading modules, before any of our code that reads it runs.
        unsafe { &*ptr::addr_of!(ngx_http_analytics_module) }
    }
}

// SAFETY: the main configuration of this module is always a `MainConf`, created by
// `create_main_conf` below.
unsafe impl HttpModuleMainConf for AnalyticsModule {
    type MainConf = MainConf;
}

// SAFETY: the location configuration of this module is always a `LocationConf`, created by
// `create_loc_conf` below.
unsafe impl HttpModuleLocationConf for AnalyticsModule {
    type LocationConf = LocationConf;
}

static MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: None,
    postconfiguration: Some(postconfiguration),
    create_main_conf: Some(AnalyticsModule::create_main_conf),
    init_main_conf: Some(conf::init_main_conf),
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(AnalyticsModule::create_loc_conf),
    merge_loc_conf: Some(conf::merge_loc_conf),
};

#[cfg(feature = "export-modules")]
ngx::ngx_modules!(ngx_http_analytics_module);

#[used]
#[allow(non_upper_case_globals)]
#[cfg_attr(not(feature = "export-modules"), no_mangle)]
pub static mut ngx_http_analytics_module: ngx_module_t = ngx_module_t {
    ctx: ptr::addr_of!(MODULE_CTX).cast_mut().cast(),
    // SAFETY: taking the address of the static commands table; nginx reads it, never frees it.
    commands: unsafe { ptr::addr_of_mut!(COMMANDS[0]) },
    type_: NGX_HTTP_MODULE as ngx_uint_t,
    init_process: Some(init_worker),
    exit_process: Some(exit_worker),
    ..ngx_module_t::default()
};

/// Sizes the cardinality budget now that every location is known, and adds the log-phase
/// handler that counts requests nginx answered before the module ran.
extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    // SAFETY: nginx calls postconfiguration with the configuration being parsed.
    let cf_ref = unsafe { &*cf };
    if let Some(main) = AnalyticsModule::main_conf_mut(cf_ref) {
        if main.sink.is_some() {
            // SAFETY: `cf` is the configuration being parsed; `main` lives as long as its cycle.
            if let Err(e) = unsafe { main.budget.add_zone(cf) } {
                directives::fail(cf, &format!("\"analytics_budget\": {e}"));
                return Status::NGX_ERROR.into();
            }
        }
    }
    let resolver = http_resolver(cf_ref);
    if let Some(main) = AnalyticsModule::main_conf_mut(cf_ref) {
        if let Some(conf::SinkConf {
            target: conf::SinkTarget::Http(pool),
            ..
        }) = main.sink.as_mut()
        {
            pool.resolver = resolver;
        }
    }
    let Some(cmcf) = NgxHttpCoreModule::main_conf_mut(cf_ref) else {
        return Status::NGX_ERROR.into();
    };
    let cmcf: &mut ngx_http_core_main_conf_t = cmcf;
    // SAFETY: the log phase's handler array is initialised by the core module before any
    // postconfiguration runs; ngx_array_push returns null or room for one handler.
    let slot = unsafe {
        ngx_array_push(&mut cmcf.phases[ngx_http_phases_NGX_HTTP_LOG_PHASE as usize].handlers)
            .cast::<ngx_http_handler_pt>()
    };
    // SAFETY: a non-null slot is room for one handler pointer.
    match unsafe { slot.as_mut() } {
        Some(slot) => {
            *slot = Some(handlers::log_phase::log_phase_handler);
            Status::NGX_OK.into()
        }
        None => Status::NGX_ERROR.into(),
    }
}

/// The `http{}` block's `resolver`, if it names at least one server: read here, once the whole
/// block is parsed, as the directive may come after `analytics_sink`.
fn http_resolver(cf: &ngx_conf_t) -> Option<sink::upstream_lookup::Resolver> {
    let clcf: &ngx_http_core_loc_conf_t = NgxHttpCoreModule::location_conf(cf)?;
    let resolver = clcf.resolver;
    // Without the directive it is null, unset ((void *) -1), or the name-server-less resolver
    // nginx makes for the http block.
    if resolver.is_null() || resolver as isize == -1 {
        return None;
    }
    // SAFETY: a set resolver was made by ngx_resolver_create from the cycle's pool.
    let servers = unsafe { (*resolver).connections.nelts };
    (servers > 0).then_some(sink::upstream_lookup::Resolver {
        resolver,
        // The http block's own value stays unset unless written there: nginx's default is 30s.
        timeout_ms: if clcf.resolver_timeout == ngx_msec_t::MAX {
            30_000
        } else {
            clcf.resolver_timeout
        },
    })
}

/// Starts the worker's sink: its socket or file, its pending buffer and its flush timer.
extern "C" fn init_worker(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx calls init_process with the worker's valid cycle.
    let cycle = unsafe { &mut *cycle };
    let log = cycle.log;
    let started = contain("worker start", log, || match AnalyticsModule::main_conf(cycle) {
        // No http block: nothing to do.
        None => Ok(()),
        Some(main) => worker::start(main, log),
    });
    match started {
        Some(Ok(())) => Status::NGX_OK.into(),
        _ => Status::NGX_ERROR.into(),
    }
}

/// Delivers what is still pending before the worker exits (fast shutdown, or the end of a
/// graceful one), and counts what could not be delivered.
extern "C" fn exit_worker(cycle: *mut ngx_cycle_t) {
    // SAFETY: nginx calls exit_process with the worker's valid cycle.
    let log = unsafe { (*cycle).log };
    contain("worker exit", log, worker::stop);
}
