//! Directives, their configuration structs, and the create/merge/init life cycle.
//!
//! `analytics_sink` lives in the `http` block (one sink per nginx); the beacon directives live in
//! `http`, `server` and `location` blocks and are inherited downwards. Every value is checked here,
//! so a mistake fails `nginx -t` with a message that names the directive.

use std::ffi::{c_char, c_void};
use std::net::{SocketAddr, ToSocketAddrs};
use std::ptr;

use analytics_core::beacon::valid_event_name;
use analytics_core::http_request::parse_header;
use analytics_core::normalise::campaign::valid_param_name;
use analytics_core::sink_address::SinkAddress;
use analytics_core::{DomainList, Measurement, Policy};
use nginx_sys::{
    ngx_command_t, ngx_conf_open_file, ngx_conf_t, ngx_log_t, ngx_msec_t, ngx_open_file_t, ngx_parse_size,
    ngx_parse_time, ngx_shm_zone_t, ngx_str_t, ngx_uint_t, NGX_CONF_1MORE, NGX_CONF_FLAG, NGX_CONF_NOARGS,
    NGX_CONF_TAKE1, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF,
    NGX_HTTP_MAIN_CONF_OFFSET, NGX_HTTP_SRV_CONF, NGX_LOG_EMERG,
};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};
use ngx::{ngx_conf_log_error, ngx_string};

use crate::shared_state;
use crate::sink::http::HttpTarget;
use crate::sink::SinkTarget;
use crate::worker_sink::WorkerSink;
use crate::AnalyticsModule;

/// Lines a worker may hold while its sink is slow or away (`buffer=`).
pub const DEFAULT_BUFFER_SIZE: usize = 1024 * 1024;
/// Longest a line waits before it is sent (`flush=`).
pub const DEFAULT_FLUSH_INTERVAL_MS: ngx_msec_t = 1000;
/// Largest UDP payload (`datagram=`): fits a 1500-byte Ethernet MTU with IP and UDP headers.
pub const DEFAULT_DATAGRAM_SIZE: usize = 1472;
/// Lines per HTTP request (`batch=`): InfluxDB recommends about 5,000.
pub const DEFAULT_BATCH_LINES: usize = 5000;
/// Connect, send and answer timeout of the HTTP sink (`timeout=`).
pub const DEFAULT_HTTP_TIMEOUT_MS: ngx_msec_t = 5000;
/// How long an exiting worker keeps trying to deliver (`exit_timeout=`).
pub const DEFAULT_EXIT_TIMEOUT_MS: ngx_msec_t = 10_000;
/// Largest beacon body (`analytics_max_body`).
pub const DEFAULT_MAX_BODY: usize = 4096;

/// The measurement directives: which record each names, its default, and whether `off` (write
/// nothing for these records) is allowed.
pub struct MeasurementDirective {
    pub name: &'static str,
    pub default: &'static str,
    pub may_be_off: bool,
}

pub const PAGE_VIEW: usize = 0;
pub const NOT_FOUND: usize = 1;
pub const EVENT: usize = 2;
pub const UNLISTED: usize = 3;
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

/// `analytics_sink`, as configured.
pub struct SinkConfig {
    pub address: SinkAddress,
    /// The UDP peer, resolved when the configuration is read.
    pub udp_peer: Option<SocketAddr>,
    /// The file, opened by nginx so that `nginx -s reopen` reopens it like an access log.
    pub file: *mut ngx_open_file_t,
    pub buffer_size: usize,
    pub flush_interval_ms: ngx_msec_t,
    pub datagram_size: usize,
    /// How long an exiting worker keeps trying to deliver (`exit_timeout=`).
    pub exit_timeout_ms: ngx_msec_t,
    /// The write API, for `http://` sinks.
    pub http: Option<HttpTarget>,
}

/// The `http`-level configuration, and (in a worker) the worker's sink.
pub struct MainConfig {
    pub sink: Option<SinkConfig>,
    beacon_locations: usize,
    status_locations: usize,
    shared_zone: *mut ngx_shm_zone_t,
    pub worker: Option<Box<WorkerSink>>,
}

impl Default for MainConfig {
    fn default() -> Self {
        MainConfig {
            sink: None,
            beacon_locations: 0,
            status_locations: 0,
            shared_zone: ptr::null_mut(),
            worker: None,
        }
    }
}

impl MainConfig {
    pub fn start_worker(&mut self, log: *mut ngx_log_t) -> Result<(), ()> {
        let Some(sink) = &self.sink else {
            return Ok(());
        };
        // SAFETY: the zone was added in init_main_conf whenever a sink is configured, and nginx
        // has run its init callback (which sets `data`) before any worker starts.
        let shared = unsafe { shared_state::from_zone(self.shared_zone) };
        let target = SinkTarget::open(sink, shared, log)?;
        let mut worker = WorkerSink::new(target, sink, shared, log);
        worker.arm_timer_event();
        self.worker = Some(worker);
        Ok(())
    }

    pub fn stop_worker(&mut self) {
        if let Some(worker) = self.worker.as_mut() {
            worker.deliver_before_exit();
        }
    }
}

/// The `http`/`server`/`location`-level configuration. `None` means "not set here, inherit".
#[derive(Default)]
pub struct LocationConfig {
    pub beacon: bool,
    pub domains: Option<DomainList>,
    pub query_params: Option<Vec<String>>,
    pub event_names: Option<Vec<String>>,
    pub strip_trailing_slash: Option<bool>,
    pub respect_dnt: Option<bool>,
    pub filter_bots: Option<bool>,
    pub pixel: bool,
    /// `analytics_status prometheus`: the text exposition format instead of JSON.
    pub status_prometheus: bool,
    /// Built from the values above when the configuration is merged.
    pub policy: Option<Policy>,
    /// Indexed like [`MEASUREMENT_DIRECTIVES`]; `Some(None)` is `off`.
    pub measurements: [Option<Option<Measurement>>; 4],
    pub max_body: Option<usize>,
    /// The browser script as served by this location (`analytics_agent`).
    pub agent: Option<crate::agent_handler::AgentScript>,
}

impl LocationConfig {
    pub fn policy(&self) -> &Policy {
        self.policy.as_ref().expect("merged")
    }
    pub fn respect_dnt(&self) -> bool {
        self.respect_dnt.expect("merged")
    }
    pub fn filter_bots(&self) -> bool {
        self.filter_bots.expect("merged")
    }
    /// The measurement for one kind of record ([`PAGE_VIEW`], [`NOT_FOUND`], ...), or `None`
    /// when it is `off`.
    pub fn measurement(&self, which: usize) -> Option<&Measurement> {
        self.measurements[which].as_ref().expect("merged").as_ref()
    }
    pub fn max_body(&self) -> usize {
        self.max_body.expect("merged")
    }
}

/// Where a directive may appear, and how many arguments it takes.
const ANY_LEVEL: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

type DirectiveHandler = unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

const fn directive(name: ngx_str_t, type_: u32, set: DirectiveHandler, conf: usize) -> ngx_command_t {
    ngx_command_t {
        name,
        type_: type_ as ngx_uint_t,
        set: Some(set),
        conf,
        offset: 0,
        post: ptr::null_mut(),
    }
}

const HTTP: usize = NGX_HTTP_MAIN_CONF_OFFSET;
const LOC: usize = NGX_HTTP_LOC_CONF_OFFSET;
const TAKE1: u32 = ANY_LEVEL | NGX_CONF_TAKE1;

pub static mut COMMANDS: [ngx_command_t; 17] = [
    directive(
        ngx_string!("analytics_sink"),
        NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE,
        set_sink,
        HTTP,
    ),
    directive(
        ngx_string!("analytics_beacon"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
        set_beacon,
        LOC,
    ),
    directive(
        ngx_string!("analytics_domains"),
        ANY_LEVEL | NGX_CONF_1MORE,
        set_domains,
        LOC,
    ),
    directive(ngx_string!("analytics_measurement"), TAKE1, set_measurement, LOC),
    directive(
        ngx_string!("analytics_notfound_measurement"),
        TAKE1,
        set_measurement,
        LOC,
    ),
    directive(
        ngx_string!("analytics_event_measurement"),
        TAKE1,
        set_measurement,
        LOC,
    ),
    directive(
        ngx_string!("analytics_unlisted_measurement"),
        TAKE1,
        set_measurement,
        LOC,
    ),
    directive(ngx_string!("analytics_max_body"), TAKE1, set_max_body, LOC),
    directive(
        ngx_string!("analytics_status"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS | NGX_CONF_TAKE1,
        set_status,
        LOC,
    ),
    directive(
        ngx_string!("analytics_agent"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS | NGX_CONF_TAKE1,
        set_agent,
        LOC,
    ),
    directive(
        ngx_string!("analytics_pixel"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
        set_pixel,
        LOC,
    ),
    directive(
        ngx_string!("analytics_query_params"),
        ANY_LEVEL | NGX_CONF_1MORE,
        set_query_params,
        LOC,
    ),
    directive(
        ngx_string!("analytics_event_names"),
        ANY_LEVEL | NGX_CONF_1MORE,
        set_event_names,
        LOC,
    ),
    directive(
        ngx_string!("analytics_trailing_slash"),
        TAKE1,
        set_trailing_slash,
        LOC,
    ),
    directive(
        ngx_string!("analytics_respect_dnt"),
        ANY_LEVEL | NGX_CONF_FLAG,
        set_switch,
        LOC,
    ),
    directive(
        ngx_string!("analytics_filter_bots"),
        ANY_LEVEL | NGX_CONF_FLAG,
        set_switch,
        LOC,
    ),
    ngx_command_t::empty(),
];

/// The directive's arguments, without its name.
///
/// # Safety
/// `cf` must be the configuration being parsed, as nginx passes it to directive handlers.
unsafe fn arguments<'a>(cf: *mut ngx_conf_t) -> &'a [ngx_str_t] {
    // SAFETY (caller): `cf->args` is an array of ngx_str_t holding the directive and its arguments.
    unsafe { &(*(*cf).args).as_slice::<ngx_str_t>()[1..] }
}

/// Logs `message` as a configuration error (with file and line) and fails the directive.
fn fail(cf: *mut ngx_conf_t, message: &str) -> *mut c_char {
    ngx_conf_log_error!(NGX_LOG_EMERG, cf, "{}", message);
    NGX_CONF_ERROR
}

fn text(arg: &ngx_str_t) -> Result<&str, String> {
    arg.to_str().map_err(|_| "argument is not valid UTF-8".to_owned())
}

fn parse_size(arg: &str) -> Option<usize> {
    let mut s = ngx_str_t {
        len: arg.len(),
        data: arg.as_ptr().cast_mut(),
    };
    // SAFETY: ngx_parse_size only reads `len` bytes from `data`, which point into `arg`.
    let size = unsafe { ngx_parse_size(&mut s) };
    (size >= 0).then_some(size as usize)
}

fn parse_msec(arg: &str) -> Option<ngx_msec_t> {
    let mut s = ngx_str_t {
        len: arg.len(),
        data: arg.as_ptr().cast_mut(),
    };
    // SAFETY: ngx_parse_time only reads `len` bytes from `data`, which point into `arg`.
    let ms = unsafe { ngx_parse_time(&mut s, 0) };
    (ms >= 0).then_some(ms as ngx_msec_t)
}

extern "C" fn set_sink(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's main configuration for NGX_HTTP_MAIN_CONF_OFFSET.
    let main = unsafe { &mut *conf.cast::<MainConfig>() };
    if main.sink.is_some() {
        return fail(cf, "\"analytics_sink\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    match parse_sink(cf, args) {
        Ok(sink) => {
            main.sink = Some(sink);
            NGX_CONF_OK
        }
        Err(message) => fail(cf, &format!("\"analytics_sink\": {message}")),
    }
}

fn parse_sink(cf: *mut ngx_conf_t, args: &[ngx_str_t]) -> Result<SinkConfig, String> {
    let address = SinkAddress::parse(text(&args[0])?)?;
    let is_http = matches!(address, SinkAddress::Http { .. });
    let mut sink = SinkConfig {
        address,
        udp_peer: None,
        file: ptr::null_mut(),
        buffer_size: DEFAULT_BUFFER_SIZE,
        flush_interval_ms: DEFAULT_FLUSH_INTERVAL_MS,
        datagram_size: DEFAULT_DATAGRAM_SIZE,
        exit_timeout_ms: DEFAULT_EXIT_TIMEOUT_MS,
        http: None,
    };
    let mut headers = Vec::new();
    let mut batch_lines = DEFAULT_BATCH_LINES;
    let mut timeout_ms = DEFAULT_HTTP_TIMEOUT_MS;
    let mut gzip = false;
    for arg in &args[1..] {
        let arg = text(arg)?;
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("unknown parameter \"{arg}\""))?;
        match key {
            "buffer" => {
                sink.buffer_size = parse_size(value)
                    .filter(|&s| (4096..=1 << 30).contains(&s))
                    .ok_or_else(|| format!("invalid \"buffer={value}\": use a size from 4k to 1g"))?
            }
            "flush" => {
                sink.flush_interval_ms = parse_msec(value)
                    .filter(|&ms| (1..=60_000).contains(&ms))
                    .ok_or_else(|| format!("invalid \"flush={value}\": use a time from 1ms to 60s"))?
            }
            "header" | "batch" | "timeout" | "gzip" if !is_http => {
                return Err(format!("\"{key}=\" is for http:// sinks"));
            }
            "header" => headers.push(parse_header(value)?),
            "gzip" => {
                gzip = match value {
                    "on" => true,
                    "off" => false,
                    _ => return Err(format!("invalid \"gzip={value}\": use on or off")),
                }
            }
            "batch" => {
                batch_lines = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| {
                        format!("invalid \"batch={value}\": use a number of lines from 1 to 100000")
                    })?
            }
            "timeout" => {
                timeout_ms = parse_msec(value)
                    .filter(|&ms| (1..=600_000).contains(&ms))
                    .ok_or_else(|| format!("invalid \"timeout={value}\": use a time from 1ms to 10m"))?
            }
            "exit_timeout" => {
                sink.exit_timeout_ms = parse_msec(value)
                    .filter(|&ms| ms <= 3_600_000)
                    .ok_or_else(|| format!("invalid \"exit_timeout={value}\": use a time up to 1h"))?
            }
            "datagram" => {
                sink.datagram_size = parse_size(value)
                    .filter(|&s| (512..=65507).contains(&s))
                    .ok_or_else(|| format!("invalid \"datagram={value}\": use a size from 512 to 65507"))?
            }
            _ => return Err(format!("unknown parameter \"{arg}\"")),
        }
    }
    match &sink.address {
        SinkAddress::Udp { host, port } => sink.udp_peer = Some(resolve(host, *port)?),
        SinkAddress::Http {
            host,
            port,
            path_and_query,
        } => {
            let peer = resolve(host, *port)?;
            let host_header = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            sink.http = Some(HttpTarget {
                peer,
                host: host_header,
                path_and_query: path_and_query.clone(),
                headers: std::mem::take(&mut headers),
                timeout_ms,
                exit_timeout_ms: sink.exit_timeout_ms,
                batch_lines,
                gzip,
            });
        }
        SinkAddress::File { path } => {
            // nginx keeps the name and later passes it to open(2), so it must live in the
            // configuration's pool and end with a NUL byte, as nginx's own strings do.
            let mut with_nul = path.clone().into_bytes();
            with_nul.push(0);
            // SAFETY: `cf->pool` is the pool of the cycle being configured.
            let mut name = unsafe { ngx_str_t::from_bytes((*cf).pool, &with_nul) }
                .ok_or_else(|| "out of memory".to_owned())?;
            name.len -= 1;
            // SAFETY: `cf->cycle` is the cycle being configured; the returned record lives as long
            // as the cycle.
            let file = unsafe { ngx_conf_open_file((*cf).cycle, &mut name) };
            if file.is_null() {
                return Err(format!("cannot register \"{path}\""));
            }
            sink.file = file;
        }
    }
    Ok(sink)
}

/// Resolved once, as nginx resolves upstream names: a worker never waits on DNS.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve \"{host}\": {e}"))?
        .next()
        .ok_or_else(|| format!("\"{host}\" has no address"))
}

extern "C" fn set_beacon(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    if lcf.beacon {
        return fail(cf, "\"analytics_beacon\" directive is duplicate");
    }
    lcf.beacon = true;
    // SAFETY: `cf` is valid while its directive is parsed; both configurations exist in an http
    // location context.
    let cf_ref = unsafe { &*cf };
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(cf_ref) else {
        return fail(cf, "\"analytics_beacon\" must be inside a location");
    };
    clcf.handler = Some(crate::beacon_handler::beacon_handler);
    if let Some(main) = AnalyticsModule::main_conf_mut(cf_ref) {
        main.beacon_locations += 1;
    }
    NGX_CONF_OK
}

extern "C" fn set_agent(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    if lcf.agent.is_some() {
        return fail(cf, "\"analytics_agent\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    let beacon_url = match args.first().map(text) {
        None => None,
        Some(Ok(arg)) => match arg.strip_prefix("beacon=") {
            Some(url) => Some(url),
            None => return fail(cf, &format!("\"analytics_agent\": unknown parameter \"{arg}\"")),
        },
        Some(Err(e)) => return fail(cf, &format!("\"analytics_agent\": {e}")),
    };
    match crate::agent_handler::AgentScript::new(beacon_url) {
        Ok(script) => lcf.agent = Some(script),
        Err(e) => return fail(cf, &format!("\"analytics_agent\": {e}")),
    }
    // SAFETY: `cf` is valid while its directive is parsed.
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return fail(cf, "\"analytics_agent\" must be inside a location");
    };
    clcf.handler = Some(crate::agent_handler::agent_handler);
    NGX_CONF_OK
}

extern "C" fn set_pixel(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    if lcf.pixel {
        return fail(cf, "\"analytics_pixel\" directive is duplicate");
    }
    lcf.pixel = true;
    // SAFETY: `cf` is valid while its directive is parsed.
    let cf_ref = unsafe { &*cf };
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(cf_ref) else {
        return fail(cf, "\"analytics_pixel\" must be inside a location");
    };
    clcf.handler = Some(crate::pixel_handler::pixel_handler);
    if let Some(main) = AnalyticsModule::main_conf_mut(cf_ref) {
        main.beacon_locations += 1;
    }
    NGX_CONF_OK
}

extern "C" fn set_query_params(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    if lcf.query_params.is_some() {
        return fail(cf, "\"analytics_query_params\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    let names: Result<Vec<String>, String> = args
        .iter()
        .map(|arg| text(arg).and_then(|name| valid_param_name(name).map(|()| name.to_owned())))
        .collect();
    match names {
        Ok(names) => {
            lcf.query_params = Some(names);
            NGX_CONF_OK
        }
        Err(e) => fail(cf, &format!("\"analytics_query_params\": {e}")),
    }
}

extern "C" fn set_event_names(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    if lcf.event_names.is_some() {
        return fail(cf, "\"analytics_event_names\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    let names: Result<Vec<String>, String> = args
        .iter()
        .map(|arg| {
            text(arg).and_then(|name| {
                if valid_event_name(name) {
                    Ok(name.to_owned())
                } else {
                    Err(format!("\"{name}\": use 1 to 64 letters, digits or -_.:/"))
                }
            })
        })
        .collect();
    match names {
        Ok(names) => {
            lcf.event_names = Some(names);
            NGX_CONF_OK
        }
        Err(e) => fail(cf, &format!("\"analytics_event_names\": {e}")),
    }
}

extern "C" fn set_trailing_slash(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    if lcf.strip_trailing_slash.is_some() {
        return fail(cf, "\"analytics_trailing_slash\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive that takes one argument.
    let arg = unsafe { arguments(cf) }[0];
    lcf.strip_trailing_slash = match text(&arg).as_deref() {
        Ok("strip") => Some(true),
        Ok("keep") => Some(false),
        _ => return fail(cf, "\"analytics_trailing_slash\": use \"strip\" or \"keep\""),
    };
    NGX_CONF_OK
}

/// `on`/`off` directives; the directive's name says which switch.
extern "C" fn set_switch(cf: *mut ngx_conf_t, cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET, and
    // the command being handled.
    let (lcf, command) = unsafe { (&mut *conf.cast::<LocationConfig>(), &*cmd) };
    let name = command.name.to_str().unwrap_or("");
    let switch = match name {
        "analytics_respect_dnt" => &mut lcf.respect_dnt,
        "analytics_filter_bots" => &mut lcf.filter_bots,
        _ => return fail(cf, "unknown switch"),
    };
    if switch.is_some() {
        return fail(cf, &format!("\"{name}\" directive is duplicate"));
    }
    // SAFETY: called by nginx while parsing a directive that takes one argument.
    let arg = unsafe { arguments(cf) }[0];
    *switch = match text(&arg).as_deref() {
        Ok("on") => Some(true),
        Ok("off") => Some(false),
        _ => return fail(cf, &format!("\"{name}\": use \"on\" or \"off\"")),
    };
    NGX_CONF_OK
}

extern "C" fn set_status(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    // SAFETY: called by nginx while parsing a directive.
    lcf.status_prometheus = match unsafe { arguments(cf) }.first().map(text) {
        None | Some(Ok("json")) => false,
        Some(Ok("prometheus")) => true,
        _ => {
            return fail(
                cf,
                "\"analytics_status\": use \"json\" (the default) or \"prometheus\"",
            )
        }
    };
    // SAFETY: `cf` is valid while its directive is parsed.
    let cf_ref = unsafe { &*cf };
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(cf_ref) else {
        return fail(cf, "\"analytics_status\" must be inside a location");
    };
    clcf.handler = Some(crate::status_handler::status_handler);
    if let Some(main) = AnalyticsModule::main_conf_mut(cf_ref) {
        main.status_locations += 1;
    }
    NGX_CONF_OK
}

extern "C" fn set_domains(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    if lcf.domains.is_some() {
        return fail(cf, "\"analytics_domains\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    let names: Result<Vec<&str>, String> = args.iter().map(text).collect();
    match names.and_then(DomainList::parse) {
        Ok(list) => {
            lcf.domains = Some(list);
            NGX_CONF_OK
        }
        Err(message) => fail(cf, &format!("\"analytics_domains\": {message}")),
    }
}

/// One handler for every `analytics_*measurement` directive: the directive's name says which.
extern "C" fn set_measurement(
    cf: *mut ngx_conf_t,
    cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET, and
    // the command being handled.
    let (lcf, command) = unsafe { (&mut *conf.cast::<LocationConfig>(), &*cmd) };
    let Some(which) = MEASUREMENT_DIRECTIVES
        .iter()
        .position(|d| d.name.as_bytes() == command.name.as_bytes())
    else {
        return fail(cf, "unknown measurement directive");
    };
    let directive = &MEASUREMENT_DIRECTIVES[which];
    if lcf.measurements[which].is_some() {
        return fail(cf, &format!("\"{}\" directive is duplicate", directive.name));
    }
    // SAFETY: called by nginx while parsing a directive that takes one argument.
    let arg = unsafe { arguments(cf) }[0];
    let parsed = text(&arg).and_then(|name| match name {
        "off" if directive.may_be_off => Ok(None),
        "off" => Err("cannot be \"off\"".to_owned()),
        _ => Measurement::parse(name).map(Some),
    });
    match parsed {
        Ok(measurement) => {
            lcf.measurements[which] = Some(measurement);
            NGX_CONF_OK
        }
        Err(e) => fail(cf, &format!("\"{}\": {e}", directive.name)),
    }
}

extern "C" fn set_max_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConfig>() };
    if lcf.max_body.is_some() {
        return fail(cf, "\"analytics_max_body\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive that takes one argument.
    let arg = unsafe { arguments(cf) }[0];
    match text(&arg)
        .ok()
        .and_then(parse_size)
        .filter(|&s| (64..=1024 * 1024).contains(&s))
    {
        Some(size) => {
            lcf.max_body = Some(size);
            NGX_CONF_OK
        }
        None => fail(
            cf,
            "\"analytics_max_body\": invalid size; use a size from 64 to 1m",
        ),
    }
}

/// Fills in defaults, and checks what needs the whole `http` block: a beacon needs a sink.
pub unsafe extern "C" fn init_main_conf(cf: *mut ngx_conf_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's main configuration.
    let main = unsafe { &mut *conf.cast::<MainConfig>() };
    if main.beacon_locations > 0 && main.sink.is_none() {
        return fail(
            cf,
            "\"analytics_beacon\" is used but no \"analytics_sink\" is set in the http block",
        );
    }
    if main.sink.is_some() || main.status_locations > 0 {
        // SAFETY: `cf` is the configuration being parsed.
        match unsafe { shared_state::add_zone(cf) } {
            Some(zone) => main.shared_zone = zone,
            None => return NGX_CONF_ERROR,
        }
    }
    if let Some(sink) = main.sink.as_ref() {
        if !sink.file.is_null() {
            // SAFETY: `file` was returned by ngx_conf_open_file and lives as long as the cycle, as
            // does `main`; the flush hook runs before nginx reopens the file.
            unsafe {
                (*sink.file).flush = Some(crate::sink::file::flush_before_reopen);
                (*sink.file).data = conf;
            }
        }
    }
    NGX_CONF_OK
}

/// Inherits unset values from the enclosing block, applies defaults, and refuses a beacon
/// location without an allow-list.
pub unsafe extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes this module's location configurations of the enclosing and this block.
    let (prev, conf) = unsafe {
        (
            &*prev.cast::<LocationConfig>(),
            &mut *conf.cast::<LocationConfig>(),
        )
    };
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
    for (mine, inherited) in conf.measurements.iter_mut().zip(&prev.measurements) {
        if mine.is_none() {
            mine.clone_from(inherited);
        }
    }
    if conf.max_body.is_none() {
        conf.max_body = prev.max_body;
    }
    if conf.beacon && conf.domains.as_ref().is_none_or(DomainList::is_empty) {
        return fail(
            cf,
            "\"analytics_beacon\" needs \"analytics_domains\" (in this location or an enclosing block)",
        );
    }
    if conf.pixel && conf.domains.as_ref().is_none_or(DomainList::is_empty) {
        return fail(
            cf,
            "\"analytics_pixel\" needs \"analytics_domains\" (in this location or an enclosing block)",
        );
    }
    conf.respect_dnt.get_or_insert(true);
    conf.filter_bots.get_or_insert(true);
    let mut policy = Policy::new(
        conf.domains.clone().unwrap_or_default(),
        conf.query_params.as_deref().unwrap_or_default(),
        conf.strip_trailing_slash.unwrap_or(true),
    );
    policy.event_names = conf.event_names.clone();
    conf.policy = Some(policy);
    conf.domains.get_or_insert_with(DomainList::default);
    for (mine, directive) in conf.measurements.iter_mut().zip(&MEASUREMENT_DIRECTIVES) {
        mine.get_or_insert_with(|| Some(Measurement::parse(directive.default).expect("valid default")));
    }
    conf.max_body.get_or_insert(DEFAULT_MAX_BODY);
    NGX_CONF_OK
}

impl MainConfig {
    /// The counters and clock shared by all workers, once nginx has set the zone up.
    pub fn shared(&self) -> Option<&'static shared_state::SharedState> {
        if self.shared_zone.is_null() {
            return None;
        }
        // SAFETY: a non-null zone was added by init_main_conf; request handlers only run after
        // nginx has initialised every zone.
        Some(unsafe { shared_state::from_zone(self.shared_zone) })
    }
}
