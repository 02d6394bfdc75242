//! `ngx_http_analytics_module`: privacy-first web analytics inside nginx.
//!
//! This crate is the thin nginx shell around [`analytics_core`]: it registers the module and its
//! directives, answers beacon requests, and ships the resulting lines from each worker to the
//! configured sink on nginx's event loop. Every `unsafe` block says why it is sound.

use std::ptr;

use nginx_sys::{ngx_cycle_t, ngx_http_module_t, ngx_int_t, ngx_module_t, ngx_uint_t, NGX_HTTP_MODULE};
use ngx::core::Status;
use ngx::http::{HttpModule, HttpModuleLocationConf, HttpModuleMainConf};

mod agent_handler;
mod beacon_handler;
mod config;
mod pixel_handler;
mod request_body;
mod response;
mod shared_state;
mod sink;
mod status_handler;
mod visitor_filter;
mod worker_sink;

use config::{LocationConfig, MainConfig, COMMANDS};

pub struct AnalyticsModule;

impl HttpModule for AnalyticsModule {
    fn module() -> &'static ngx_module_t {
        // SAFETY: the module table is a static that nginx only writes to (its index fields) while
        // loading modules, before any of our code that reads it runs.
        unsafe { &*ptr::addr_of!(ngx_http_analytics_module) }
    }
}

// SAFETY: the main configuration of this module is always a `MainConfig`, created by
// `create_main_conf` below.
unsafe impl HttpModuleMainConf for AnalyticsModule {
    type MainConf = MainConfig;
}

// SAFETY: the location configuration of this module is always a `LocationConfig`, created by
// `create_loc_conf` below.
unsafe impl HttpModuleLocationConf for AnalyticsModule {
    type LocationConf = LocationConfig;
}

static MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: None,
    postconfiguration: None,
    create_main_conf: Some(AnalyticsModule::create_main_conf),
    init_main_conf: Some(config::init_main_conf),
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(AnalyticsModule::create_loc_conf),
    merge_loc_conf: Some(config::merge_loc_conf),
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

/// Starts the per-worker sink: its socket or file, its pending buffer and its flush timer.
extern "C" fn init_worker(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx calls init_process with the worker's valid cycle.
    let cycle = unsafe { &mut *cycle };
    let Some(main) = AnalyticsModule::main_conf_mut(cycle) else {
        // No http block: nothing to do.
        return Status::NGX_OK.into();
    };
    match main.start_worker(cycle.log) {
        Ok(()) => Status::NGX_OK.into(),
        Err(()) => Status::NGX_ERROR.into(),
    }
}

/// Delivers what is still pending before the worker exits (fast shutdown, or the end of a
/// graceful one), and counts what could not be delivered.
extern "C" fn exit_worker(cycle: *mut ngx_cycle_t) {
    // SAFETY: nginx calls exit_process with the worker's valid cycle.
    let cycle = unsafe { &mut *cycle };
    if let Some(main) = AnalyticsModule::main_conf_mut(cycle) {
        main.stop_worker();
    }
}
