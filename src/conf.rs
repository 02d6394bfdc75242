//! The configuration structs and their life cycle (create, merge, init). The directives that fill
//! them are in `directives.rs`; nothing here knows a handler.
//!
//! `analytics_sink` lives in the `http` block (one sink per nginx); the beacon settings live in
//! `http`, `server` and `location` blocks and are inherited downwards.

use std::ffi::{c_char, c_void};
use std::net::SocketAddr;
use std::ptr;

use analytics_core::dashboard::DashboardMeasurements;
use analytics_core::outcome_line::Measurements;
use analytics_core::sink_address::SinkAddress;
use analytics_core::unique_clock::Instance;
use analytics_core::{DomainList, Measurement, Policy};
use nginx_sys::{ngx_conf_t, ngx_http_complex_value_t, ngx_msec_t, ngx_shm_zone_t};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::http::HttpModuleMainConf;

use crate::budget_zone::BudgetConf;
use crate::directives::fail;
use crate::handlers::agent::AgentScript;
use crate::handlers::dashboard::Dashboard;
use crate::shared_state;
use crate::sink::file::FileTarget;
use crate::sink::http_pool::HttpPoolTarget;
use crate::AnalyticsModule;

/// Lines a worker may hold while its sink is slow or away (`buffer=`).
pub const DEFAULT_BUFFER_SIZE: usize = 1024 * 1024;
/// Longest a line waits before it is sent (`flush=`).
pub const DEFAULT_FLUSH_INTERVAL_MS: ngx_msec_t = 1000;
/// Largest UDP payload (`datagram=`): fits a 1500-byte Ethernet MTU with IP and UDP headers.
pub const DEFAULT_DATAGRAM_SIZE: usize = 1472;
/// Lines per HTTP request (`batch=`): InfluxDB recommends about 5,000.
pub const DEFAULT_BATCH_LINES: usize = 5000;
/// Deadline of one HTTP exchange: connect, send and answer together (`timeout=`).
pub const DEFAULT_HTTP_TIMEOUT_MS: ngx_msec_t = 5000;
/// How long an exiting worker keeps trying to deliver (`exit_timeout=`).
pub const DEFAULT_EXIT_TIMEOUT_MS: ngx_msec_t = 10_000;
/// Largest beacon body (`analytics_max_body`).
pub const DEFAULT_MAX_BODY: usize = 4096;

/// Where lines go. Each variant carries exactly what its sink needs, so a configuration that mixes
/// them (a UDP sink with a batch size, an HTTP sink with a datagram size) cannot be built.
pub enum SinkTarget {
    /// The peer, resolved when the configuration is read, and the largest datagram.
    Udp {
        peer: SocketAddr,
        datagram_size: usize,
    },
    File(FileTarget),
    Http(HttpPoolTarget),
}

/// `analytics_sink`, as configured.
pub struct SinkConf {
    pub address: SinkAddress,
    pub target: SinkTarget,
    pub buffer_size: usize,
    pub flush_interval_ms: ngx_msec_t,
    pub exit_timeout_ms: ngx_msec_t,
}

/// The `http`-level configuration.
pub struct MainConf {
    pub sink: Option<SinkConf>,
    /// `analytics_budget`, with the domains and campaign parameters it budgets.
    pub budget: BudgetConf,
    /// `analytics_budget` appeared (it may appear once).
    pub budget_set: bool,
    /// The first directive that records hits (`analytics_beacon` or `analytics_pixel`): the one
    /// named when no sink is set.
    pub recording_directive: Option<&'static str>,
    pub status_locations: usize,
    pub shared_zone: *mut ngx_shm_zone_t,
    /// `analytics_instance`; when not set, derived from the host name by `init_main_conf`.
    pub instance: Option<Instance>,
    /// `analytics_aggregate`: `None` is `off`.
    pub aggregate_interval_ms: Option<ngx_msec_t>,
    /// `analytics_aggregate` appeared (it may appear once).
    pub aggregate_set: bool,
}

impl Default for MainConf {
    fn default() -> Self {
        MainConf {
            sink: None,
            budget: BudgetConf::default(),
            budget_set: false,
            recording_directive: None,
            status_locations: 0,
            shared_zone: ptr::null_mut(),
            instance: None,
            aggregate_interval_ms: None,
            aggregate_set: false,
        }
    }
}

impl MainConf {
    /// The counters and clock shared by all workers, once nginx has set the zone up.
    pub fn shared(&self) -> Option<&'static shared_state::SharedState> {
        if self.shared_zone.is_null() {
            return None;
        }
        // SAFETY: a non-null zone was added by init_main_conf; request handlers and worker hooks
        // only run after nginx has initialised every zone.
        Some(unsafe { shared_state::from_zone(self.shared_zone) })
    }
}

/// The measurement directives: which record each names, its default, and whether `off` (write
/// nothing for these records) is allowed.
pub struct MeasurementDirective {
    pub name: &'static str,
    pub default: &'static str,
    pub may_be_off: bool,
}

pub const MEASUREMENT_DIRECTIVES: [MeasurementDirective; 4] = [
    MeasurementDirective {
        name: "analytics_measurement",
        default: "pageview",
        may_be_off: false,
    },
    MeasurementDirective {
        name: "analytics_notfound_measurement",
        default: "notfound",
        may_be_off: false,
    },
    MeasurementDirective {
        name: "analytics_event_measurement",
        default: "event",
        may_be_off: false,
    },
    MeasurementDirective {
        name: "analytics_unlisted_measurement",
        default: "unlisted_domain",
        may_be_off: true,
    },
];

/// `analytics_skip`: values nginx evaluates for each request, compiled like `proxy_no_cache`'s
/// (they may hold variables, so `map`, `geo` and GeoIP decide). A request is skipped when any of
/// them is non-empty and not `0`. The compiled values point into the configuration's pool,
/// which lives as long as this configuration.
#[derive(Clone)]
pub struct SkipConditions(pub Vec<ngx_http_complex_value_t>);

/// `analytics_tag`: the site owner's own tags, sorted by name, each with a value compiled like
/// `analytics_skip`'s. A level with its own `analytics_tag` lines replaces the inherited list.
#[derive(Clone, Default)]
pub struct SiteTags(pub Vec<(String, ngx_http_complex_value_t)>);

/// The `http`/`server`/`location`-level configuration. `None` means "not set here, inherit".
#[derive(Default)]
pub struct LocationConf {
    pub beacon: bool,
    pub pixel: bool,
    pub domains: Option<DomainList>,
    pub query_params: Option<Vec<String>>,
    pub event_names: Option<Vec<String>>,
    pub strip_trailing_slash: Option<bool>,
    pub respect_dnt: Option<bool>,
    pub filter_bots: Option<bool>,
    pub session_pages: Option<bool>,
    pub skip: Option<SkipConditions>,
    pub site_tags: Option<SiteTags>,
    /// `analytics_status prometheus`: the text exposition format instead of JSON.
    pub status_prometheus: bool,
    /// Indexed like [`MEASUREMENT_DIRECTIVES`]; `Some(None)` is `off`.
    pub measurement_names: [Option<Option<Measurement>>; 4],
    pub max_body: Option<usize>,
    /// The browser script as served by this location (`analytics_agent`).
    pub agent: Option<AgentScript>,
    /// The dashboard served by this location (`analytics_dashboard`).
    pub dashboard: Option<Dashboard>,
    /// Built from the values above when the configuration is merged.
    merged: Option<Merged>,
}

/// What a handler needs, complete: built once by `merge_loc_conf`.
pub struct Merged {
    pub policy: Policy,
    pub measurements: Measurements,
    pub respect_dnt: bool,
    pub filter_bots: bool,
    pub skip: Option<SkipConditions>,
    pub site_tags: SiteTags,
    pub max_body: usize,
}

impl LocationConf {
    /// The merged settings. Every location's configuration is merged before any request runs.
    pub fn merged(&self) -> Option<&Merged> {
        self.merged.as_ref()
    }
}

/// Fills in what needs the whole `http` block: a beacon needs a sink, and the shared zone.
pub unsafe extern "C" fn init_main_conf(cf: *mut ngx_conf_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's main configuration.
    let main = unsafe { &mut *conf.cast::<MainConf>() };
    if let (Some(directive), None) = (main.recording_directive, &main.sink) {
        return fail(
            cf,
            &format!("\"{directive}\" is used but no \"analytics_sink\" is set in the http block"),
        );
    }
    if main.instance.is_none() {
        // SAFETY: nginx sets the cycle's host name before it parses the configuration.
        let host = unsafe { (*(*cf).cycle).hostname };
        main.instance = Some(Instance::from_host_name(host.to_str().unwrap_or_default()));
    }
    if main.sink.is_some() || main.status_locations > 0 {
        // SAFETY: `cf` is the configuration being parsed.
        match unsafe { shared_state::add_zone(cf) } {
            Some(zone) => main.shared_zone = zone,
            None => return NGX_CONF_ERROR,
        }
    }
    NGX_CONF_OK
}

/// Inherits unset values from the enclosing block, applies defaults, and refuses a beacon or pixel
/// location without an allow-list.
pub unsafe extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes this module's location configurations of the enclosing and this block.
    let (prev, conf) = unsafe { (&*prev.cast::<LocationConf>(), &mut *conf.cast::<LocationConf>()) };
    if conf.domains.is_none() {
        conf.domains = prev.domains.clone();
    }
    if conf.query_params.is_none() {
        conf.query_params = prev.query_params.clone();
    }
    if conf.event_names.is_none() {
        conf.event_names = prev.event_names.clone();
    }
    conf.strip_trailing_slash = conf.strip_trailing_slash.or(prev.strip_trailing_slash);
    conf.respect_dnt = conf.respect_dnt.or(prev.respect_dnt);
    conf.filter_bots = conf.filter_bots.or(prev.filter_bots);
    conf.session_pages = conf.session_pages.or(prev.session_pages);
    if conf.skip.is_none() {
        conf.skip = prev.skip.clone();
    }
    if conf.site_tags.is_none() {
        conf.site_tags = prev.site_tags.clone();
    }
    for (mine, inherited) in conf.measurement_names.iter_mut().zip(&prev.measurement_names) {
        if mine.is_none() {
            mine.clone_from(inherited);
        }
    }
    conf.max_body = conf.max_body.or(prev.max_body);
    for (wanted, directive) in [(conf.beacon, "analytics_beacon"), (conf.pixel, "analytics_pixel")] {
        if wanted && conf.domains.as_ref().is_none_or(DomainList::is_empty) {
            return fail(
                cf,
                &format!(
                    "\"{directive}\" needs \"analytics_domains\" (in this location or an enclosing block)"
                ),
            );
        }
    }
    let mut policy = Policy::new(
        conf.domains.clone().unwrap_or_default(),
        conf.query_params.as_deref().unwrap_or_default(),
        conf.strip_trailing_slash.unwrap_or(true),
    );
    policy.event_names = conf.event_names.clone();
    policy.session_pages = conf.session_pages.unwrap_or(true);
    if conf.beacon || conf.pixel {
        // SAFETY: `cf` is the configuration being merged, inside an http block.
        if let Some(main) = AnalyticsModule::main_conf_mut(unsafe { &*cf }) {
            for host in policy.domains.hosts() {
                main.budget.add_domain(host);
            }
            for param in &policy.campaign_params {
                main.budget.add_campaign_param(param);
            }
            for (name, _) in conf.site_tags.iter().flat_map(|t| &t.0) {
                main.budget.add_site_tag(name);
            }
        }
    }
    if let Some((name, _)) = conf
        .site_tags
        .iter()
        .flat_map(|t| &t.0)
        .find(|(name, _)| policy.campaign_params.contains(name))
    {
        return fail(
            cf,
            &format!(
                "\"analytics_tag\": \"{name}\" is also a campaign parameter of \"analytics_query_params\""
            ),
        );
    }
    let name = |which: usize| -> Option<Measurement> {
        match &conf.measurement_names[which] {
            Some(chosen) => chosen.clone(),
            None => Measurement::parse(MEASUREMENT_DIRECTIVES[which].default).ok(),
        }
    };
    let (Some(page_view), Some(not_found), Some(event)) = (name(0), name(1), name(2)) else {
        return fail(cf, "invalid default measurement name");
    };
    if let Some(dashboard) = conf.dashboard.as_mut() {
        // SAFETY: `cf` is the configuration being merged, inside an http block; the sink is set
        // while the http block is read, before any location is merged.
        let main = AnalyticsModule::main_conf_mut(unsafe { &*cf });
        let sink_query = main.and_then(|m| match m.sink.as_ref().map(|s| &s.address) {
            Some(SinkAddress::Http { path_and_query, .. }) => {
                path_and_query.split_once('?').map(|(_, q)| q.to_owned())
            }
            _ => None,
        });
        if let Err(e) = dashboard.build_page(
            &DashboardMeasurements {
                page_view: page_view.as_str(),
                not_found: not_found.as_str(),
                event: event.as_str(),
            },
            sink_query.as_deref(),
        ) {
            return fail(cf, &format!("\"analytics_dashboard\": {e}"));
        }
    }
    conf.merged = Some(Merged {
        policy,
        measurements: Measurements {
            page_view,
            not_found,
            event,
            unlisted: name(3),
        },
        respect_dnt: conf.respect_dnt.unwrap_or(true),
        filter_bots: conf.filter_bots.unwrap_or(true),
        skip: conf.skip.clone(),
        site_tags: conf.site_tags.clone().unwrap_or_default(),
        max_body: conf.max_body.unwrap_or(DEFAULT_MAX_BODY),
    });
    NGX_CONF_OK
}
