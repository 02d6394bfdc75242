//! The directives: the commands table and the functions that check each directive's arguments
//! and store them in the configuration structs of `conf.rs`. This is the only file that knows both
//! the handlers (to install them in their locations) and the configuration. Every value is checked
//! here, so a mistake fails `nginx -t` with a message that names the directive.

use std::ffi::{c_char, c_void};
use std::net::{SocketAddr, ToSocketAddrs};
use std::ptr;

use analytics_core::agent_features::AgentFeatures;
use analytics_core::beacon::valid_event_name;
use analytics_core::budget::BudgetConfig;
use analytics_core::dashboard::DashboardSettings;
use analytics_core::http::request::parse_header;
use analytics_core::log_excerpt::Secrets;
use analytics_core::normalise::campaign::valid_param_name;
use analytics_core::normalise::site_tag::check_site_tag_name;
use analytics_core::normalise::site_tag::identifying_variable;
use analytics_core::sink_address::SinkAddress;
use analytics_core::timestamp_precision::check_precision;
use analytics_core::unique_clock::Instance;
use analytics_core::upstream_choice::Balance;
use analytics_core::{DomainList, Measurement};
use nginx_sys::{
    ngx_command_t, ngx_conf_t, ngx_http_compile_complex_value, ngx_http_compile_complex_value_t,
    ngx_http_complex_value_t, ngx_int_t, ngx_msec_t, ngx_parse_offset, ngx_parse_size, ngx_parse_time,
    ngx_str_t, ngx_uint_t, NGX_CONF_1MORE, NGX_CONF_FLAG, NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE12,
    NGX_CONF_TAKE2, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF,
    NGX_HTTP_MAIN_CONF_OFFSET, NGX_HTTP_SRV_CONF, NGX_LOG_EMERG, NGX_LOG_WARN, NGX_OK,
};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};
use ngx::{ngx_conf_log_error, ngx_string};

use crate::conf::{
    LocationConf, MainConf, SinkConf, SinkTarget, SiteTags, SkipConditions, DEFAULT_BATCH_LINES,
    DEFAULT_BUFFER_SIZE, DEFAULT_DATAGRAM_SIZE, DEFAULT_EXIT_TIMEOUT_MS, DEFAULT_FLUSH_INTERVAL_MS,
    DEFAULT_HTTP_TIMEOUT_MS, MEASUREMENT_DIRECTIVES,
};
use crate::handlers::agent::AgentScript;
use crate::handlers::dashboard::Dashboard;
use crate::net::tls::{TlsSettings, TlsTarget, SYSTEM_CA_BUNDLE};
use crate::sink::file::FileTarget;
use crate::sink::http::HttpTarget;
use crate::sink::http_pool::{HttpPoolTarget, UpstreamTarget, MAX_CONNECTIONS, MAX_UPSTREAMS};
use crate::AnalyticsModule;

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

pub static mut COMMANDS: [ngx_command_t; 24] = [
    directive(
        ngx_string!("analytics_sink"),
        NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE,
        set_sink,
        HTTP,
    ),
    directive(
        ngx_string!("analytics_budget"),
        NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE,
        set_budget,
        HTTP,
    ),
    directive(
        ngx_string!("analytics_instance"),
        NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
        set_instance,
        HTTP,
    ),
    directive(
        ngx_string!("analytics_aggregate"),
        NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
        set_aggregate,
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
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS | NGX_CONF_TAKE12,
        set_agent,
        LOC,
    ),
    directive(
        ngx_string!("analytics_dashboard"),
        NGX_HTTP_LOC_CONF | NGX_CONF_1MORE,
        set_dashboard,
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
    directive(
        ngx_string!("analytics_session_pages"),
        ANY_LEVEL | NGX_CONF_FLAG,
        set_switch,
        LOC,
    ),
    directive(
        ngx_string!("analytics_skip"),
        ANY_LEVEL | NGX_CONF_1MORE,
        set_skip,
        LOC,
    ),
    directive(
        ngx_string!("analytics_tag"),
        ANY_LEVEL | NGX_CONF_TAKE2,
        set_tag,
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
pub fn fail(cf: *mut ngx_conf_t, message: &str) -> *mut c_char {
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

/// A size that may be given in gigabytes too (`1g`), as nginx's own `*_max_*_size` directives
/// take it: `ngx_parse_size` stops at megabytes.
fn parse_large_size(arg: &str) -> Option<usize> {
    let mut s = ngx_str_t {
        len: arg.len(),
        data: arg.as_ptr().cast_mut(),
    };
    // SAFETY: ngx_parse_offset only reads `len` bytes from `data`, which point into `arg`.
    let size = unsafe { ngx_parse_offset(&mut s) };
    usize::try_from(size).ok()
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
    let main = unsafe { &mut *conf.cast::<MainConf>() };
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
        Err(message) => {
            // The message may quote a URL or a parameter: never a query string or a header.
            let words: Vec<&str> = args.iter().filter_map(|a| a.to_str().ok()).collect();
            let headers: Vec<&str> = words.iter().filter_map(|a| a.strip_prefix("header=")).collect();
            let mut message = Secrets::new(&headers, None).redacted(&message);
            for query in words
                .iter()
                .filter(|w| !is_parameter(w))
                .filter_map(|url| url.split_once('?'))
                .map(|(_, q)| q)
            {
                message = Secrets::new(&[], Some(query)).redacted(&message);
            }
            fail(cf, &format!("\"analytics_sink\": {message}"))
        }
    }
}

/// Whether an argument of `analytics_sink` is a `name=value` parameter rather than an address (whose
/// query string may hold `=` too, but never right after a plain lowercase name).
fn is_parameter(arg: &str) -> bool {
    arg.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })
}

fn parse_sink(cf: *mut ngx_conf_t, args: &[ngx_str_t]) -> Result<SinkConf, String> {
    let address = SinkAddress::parse(text(&args[0])?)?;
    // More addresses may follow the first, before the parameters: upstreams of one HTTP sink.
    let mut more_addresses = Vec::new();
    let mut rest = &args[1..];
    while let Some((arg, tail)) = rest.split_first() {
        let arg = text(arg)?;
        if is_parameter(arg) {
            break;
        }
        let another = SinkAddress::parse(arg)?;
        let scheme = |a: &SinkAddress| {
            (
                std::mem::discriminant(a),
                matches!(a, SinkAddress::Http { tls: true, .. }),
            )
        };
        if scheme(&another) != scheme(&address) {
            return Err(format!(
                "\"{another}\" is not of the same kind as \"{address}\": all addresses of one sink use one scheme"
            ));
        }
        if !matches!(address, SinkAddress::Http { .. }) {
            return Err("several addresses are for http:// sinks".to_owned());
        }
        more_addresses.push(another);
        rest = tail;
    }
    if more_addresses.len() >= MAX_UPSTREAMS {
        return Err(format!("at most {MAX_UPSTREAMS} addresses"));
    }
    let is_http = matches!(address, SinkAddress::Http { .. });
    let is_https = matches!(address, SinkAddress::Http { tls: true, .. });
    let is_udp = matches!(address, SinkAddress::Udp { .. });
    let mut buffer_size = DEFAULT_BUFFER_SIZE;
    let mut flush_interval_ms = DEFAULT_FLUSH_INTERVAL_MS;
    let mut exit_timeout_ms = DEFAULT_EXIT_TIMEOUT_MS;
    let mut datagram_size = DEFAULT_DATAGRAM_SIZE;
    let mut headers = Vec::new();
    let mut batch_lines = DEFAULT_BATCH_LINES;
    let mut timeout_ms = DEFAULT_HTTP_TIMEOUT_MS;
    let mut gzip = false;
    let mut balance = Balance::Failover;
    let mut connections = 1;
    let mut tls_ca = None;
    let mut tls_cert = None;
    let mut tls_key = None;
    let mut tls_name = None;
    let mut tls_verify = true;
    for arg in rest {
        let arg = text(arg)?;
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("unknown parameter \"{arg}\""))?;
        match key {
            "buffer" => {
                buffer_size = parse_large_size(value)
                    .filter(|&s| (4096..=1 << 30).contains(&s))
                    .ok_or_else(|| format!("invalid \"buffer={value}\": use a size from 4k to 1g"))?
            }
            "flush" => {
                flush_interval_ms = parse_msec(value)
                    .filter(|&ms| (1..=60_000).contains(&ms))
                    .ok_or_else(|| format!("invalid \"flush={value}\": use a time from 1ms to 60s"))?
            }
            "exit_timeout" => {
                exit_timeout_ms = parse_msec(value)
                    .filter(|&ms| ms <= 3_600_000)
                    .ok_or_else(|| format!("invalid \"exit_timeout={value}\": use a time up to 1h"))?
            }
            "header" | "batch" | "timeout" | "gzip" | "balance" | "connections" if !is_http => {
                return Err(format!("\"{key}=\" is for http:// sinks"));
            }
            "datagram" if !is_udp => return Err("\"datagram=\" is for udp:// sinks".to_owned()),
            "tls_ca" | "tls_cert" | "tls_key" | "tls_name" | "tls_verify" if !is_https => {
                return Err(format!("\"{key}=\" is for https:// sinks"));
            }
            "tls_ca" | "tls_cert" | "tls_key" | "tls_name" if value.is_empty() => {
                return Err(format!("\"{key}=\" needs a value"));
            }
            "tls_ca" => tls_ca = Some(value.to_owned()),
            "tls_cert" => tls_cert = Some(value.to_owned()),
            "tls_key" => tls_key = Some(value.to_owned()),
            "tls_name" => tls_name = Some(value.to_owned()),
            "tls_verify" => {
                tls_verify = match value {
                    "on" => true,
                    "off" => false,
                    _ => return Err(format!("invalid \"tls_verify={value}\": use on or off")),
                }
            }
            "header" => headers.push(parse_header(value)?),
            "balance" => {
                balance = Balance::parse(value)
                    .ok_or_else(|| format!("invalid \"balance={value}\": use failover or round-robin"))?
            }
            "connections" => {
                connections = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_CONNECTIONS).contains(n))
                    .ok_or_else(|| {
                        format!("invalid \"connections={value}\": use a number from 1 to {MAX_CONNECTIONS}")
                    })?
            }
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
            "datagram" => {
                datagram_size = parse_size(value)
                    .filter(|&s| (512..=65507).contains(&s))
                    .ok_or_else(|| format!("invalid \"datagram={value}\": use a size from 512 to 65507"))?
            }
            _ => return Err(format!("unknown parameter \"{arg}\"")),
        }
    }
    let target = match &address {
        SinkAddress::Udp { host, port } => SinkTarget::Udp {
            peer: resolve(host, *port)?,
            datagram_size,
        },
        SinkAddress::Http { .. } => {
            let client_cert = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some((cert, key)),
                (None, None) => None,
                _ => return Err("\"tls_cert=\" and \"tls_key=\" go together".to_owned()),
            };
            if is_https && !tls_verify {
                ngx_conf_log_error!(
                    NGX_LOG_WARN,
                    cf,
                    "\"analytics_sink\": \"tls_verify=off\" trusts any certificate: anyone on the \
                     path can read and change what is sent"
                );
            }
            let mut upstreams = Vec::new();
            for upstream in std::iter::once(&address).chain(&more_addresses) {
                let SinkAddress::Http {
                    host,
                    port,
                    path_and_query,
                    tls,
                } = upstream
                else {
                    continue;
                };
                check_precision(path_and_query)?;
                // Resolved here, when the configuration is read (at start and at each reload):
                // a blocking lookup has no place on a worker's event loop.
                let peer = resolve(host, *port)?;
                let tls = if *tls {
                    let settings = TlsSettings {
                        ca: tls_ca.clone().unwrap_or_else(|| SYSTEM_CA_BUNDLE.to_owned()),
                        client_cert: client_cert.clone(),
                        name: tls_name.clone().unwrap_or_else(|| host.clone()),
                        verify: tls_verify,
                    };
                    // SAFETY: `cf` is the configuration being parsed.
                    Some(unsafe { TlsTarget::create(cf, &settings) }?)
                } else {
                    None
                };
                let host_header = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                upstreams.push(UpstreamTarget {
                    target: HttpTarget {
                        peer,
                        host: host_header,
                        path_and_query: path_and_query.clone(),
                        headers: headers.clone(),
                        timeout_ms,
                        exit_timeout_ms,
                        batch_lines,
                        gzip,
                        tls,
                    },
                    address: upstream.to_string(),
                    host: host.clone(),
                });
            }
            SinkTarget::Http(HttpPoolTarget {
                upstreams,
                balance,
                connections,
                // Known once the whole configuration is read (see `postconfiguration`).
                resolver: None,
            })
        }
        // SAFETY: `cf` is the configuration being parsed.
        SinkAddress::File { path } => SinkTarget::File(unsafe { FileTarget::register(cf, path) }?),
    };
    Ok(SinkConf {
        address,
        target,
        buffer_size,
        flush_interval_ms,
        exit_timeout_ms,
    })
}

extern "C" fn set_budget(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's main configuration for NGX_HTTP_MAIN_CONF_OFFSET.
    let main = unsafe { &mut *conf.cast::<MainConf>() };
    if main.budget_set {
        return fail(cf, "\"analytics_budget\" directive is duplicate");
    }
    main.budget_set = true;
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    match parse_budget(args) {
        Ok(config) => {
            main.budget.config = config;
            NGX_CONF_OK
        }
        Err(message) => fail(cf, &format!("\"analytics_budget\": {message}")),
    }
}

extern "C" fn set_instance(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's main configuration for NGX_HTTP_MAIN_CONF_OFFSET.
    let main = unsafe { &mut *conf.cast::<MainConf>() };
    if main.instance.is_some() {
        return fail(cf, "\"analytics_instance\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    let value = text(&args[0]).unwrap_or_default();
    match Instance::parse(value) {
        Some(instance) => {
            main.instance = Some(instance);
            NGX_CONF_OK
        }
        None => fail(
            cf,
            &format!("invalid \"analytics_instance\" \"{value}\": use a number from 0 to 999"),
        ),
    }
}

extern "C" fn set_aggregate(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's main configuration for NGX_HTTP_MAIN_CONF_OFFSET.
    let main = unsafe { &mut *conf.cast::<MainConf>() };
    if main.aggregate_set {
        return fail(cf, "\"analytics_aggregate\" directive is duplicate");
    }
    main.aggregate_set = true;
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    let value = text(&args[0]).unwrap_or_default();
    if value == "off" {
        return NGX_CONF_OK;
    }
    match parse_msec(value).filter(|&ms| (1..=3_600_000).contains(&ms)) {
        Some(ms) => {
            main.aggregate_interval_ms = Some(ms);
            NGX_CONF_OK
        }
        None => fail(
            cf,
            &format!("invalid \"analytics_aggregate\" \"{value}\": use off or a time from 1ms to 1h"),
        ),
    }
}

/// `off`, or `name=value` pairs that change the defaults.
fn parse_budget(args: &[ngx_str_t]) -> Result<Option<BudgetConfig>, String> {
    let words: Vec<&str> = args.iter().map(text).collect::<Result<_, _>>()?;
    if words == ["off"] {
        return Ok(None);
    }
    let mut config = BudgetConfig::default();
    for word in words {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| format!("unknown parameter \"{word}\""))?;
        let count = || -> Result<u32, String> {
            value
                .parse::<u32>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| format!("invalid \"{word}\": use a whole number of values, at least 1"))
        };
        match key {
            "page" => config.page = count()?,
            "notfound_page" => config.notfound_page = count()?,
            "event_page" => config.event_page = count()?,
            "event_name" => config.event_name = count()?,
            "referrer_domain" => config.referrer = count()?,
            "campaign" => config.campaign = count()?,
            "custom" => config.custom = count()?,
            "unlisted_domain" => config.unlisted = count()?,
            "series" => config.series = count()?,
            "doorkeeper" => config.doorkeeper_slots = count()?,
            "open_share" => {
                config.open_share = value
                    .strip_suffix('%')
                    .and_then(|v| v.parse::<u8>().ok())
                    .filter(|&p| p <= 100)
                    .ok_or_else(|| format!("invalid \"{word}\": use a percentage such as 50%"))?
            }
            "admit_after" => {
                config.admit_after = match value {
                    "1" => 1,
                    "2" => 2,
                    _ => return Err(format!("invalid \"{word}\": use 1 or 2")),
                }
            }
            "period" => {
                config.period_s = parse_msec(value)
                    .map(|ms| ms as u64 / 1000)
                    .ok_or_else(|| format!("invalid \"{word}\": use a time such as 1h or 1d"))?
            }
            _ => return Err(format!("unknown parameter \"{word}\"")),
        }
    }
    config.validate()?;
    Ok(Some(config))
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
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
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
    clcf.handler = Some(crate::handlers::beacon::beacon_handler);
    if let Some(main) = AnalyticsModule::main_conf_mut(cf_ref) {
        main.recording_directive.get_or_insert("analytics_beacon");
    }
    NGX_CONF_OK
}

extern "C" fn set_agent(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
    if lcf.agent.is_some() {
        return fail(cf, "\"analytics_agent\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    let mut beacon_url = None;
    let mut features = None;
    for arg in args {
        let arg = match text(arg) {
            Ok(arg) => arg,
            Err(e) => return fail(cf, &format!("\"analytics_agent\": {e}")),
        };
        let repeated = if let Some(url) = arg.strip_prefix("beacon=") {
            beacon_url.replace(url).is_some()
        } else if let Some(list) = arg.strip_prefix("features=") {
            match AgentFeatures::parse(list) {
                Ok(parsed) => features.replace(parsed).is_some(),
                Err(e) => return fail(cf, &format!("\"analytics_agent\": {e}")),
            }
        } else {
            return fail(cf, &format!("\"analytics_agent\": unknown parameter \"{arg}\""));
        };
        if repeated {
            return fail(cf, &format!("\"analytics_agent\": duplicate parameter \"{arg}\""));
        }
    }
    match AgentScript::new(beacon_url, features.unwrap_or_default()) {
        Ok(script) => lcf.agent = Some(script),
        Err(e) => return fail(cf, &format!("\"analytics_agent\": {e}")),
    }
    // SAFETY: `cf` is valid while its directive is parsed.
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return fail(cf, "\"analytics_agent\" must be inside a location");
    };
    clcf.handler = Some(crate::handlers::agent::agent_handler);
    NGX_CONF_OK
}

extern "C" fn set_dashboard(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
    if lcf.dashboard.is_some() {
        return fail(cf, "\"analytics_dashboard\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive.
    let args = unsafe { arguments(cf) };
    let parsed = args
        .iter()
        .map(text)
        .collect::<Result<Vec<&str>, String>>()
        .and_then(DashboardSettings::parse)
        .and_then(Dashboard::new);
    match parsed {
        Ok(dashboard) => lcf.dashboard = Some(dashboard),
        Err(e) => return fail(cf, &format!("\"analytics_dashboard\": {e}")),
    }
    // SAFETY: `cf` is valid while its directive is parsed.
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return fail(cf, "\"analytics_dashboard\" must be inside a location");
    };
    clcf.handler = Some(crate::handlers::dashboard::dashboard_handler);
    NGX_CONF_OK
}

extern "C" fn set_pixel(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
    if lcf.pixel {
        return fail(cf, "\"analytics_pixel\" directive is duplicate");
    }
    lcf.pixel = true;
    // SAFETY: `cf` is valid while its directive is parsed.
    let cf_ref = unsafe { &*cf };
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(cf_ref) else {
        return fail(cf, "\"analytics_pixel\" must be inside a location");
    };
    clcf.handler = Some(crate::handlers::pixel::pixel_handler);
    if let Some(main) = AnalyticsModule::main_conf_mut(cf_ref) {
        main.recording_directive.get_or_insert("analytics_pixel");
    }
    NGX_CONF_OK
}

extern "C" fn set_query_params(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
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
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
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
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
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
    let (lcf, command) = unsafe { (&mut *conf.cast::<LocationConf>(), &*cmd) };
    let name = command.name.to_str().unwrap_or("");
    let switch = match name {
        "analytics_respect_dnt" => &mut lcf.respect_dnt,
        "analytics_filter_bots" => &mut lcf.filter_bots,
        "analytics_session_pages" => &mut lcf.session_pages,
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

/// `analytics_skip value ...`: each value is compiled as nginx compiles `proxy_no_cache`'s, so it
/// may hold variables.
extern "C" fn set_skip(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
    if lcf.skip.is_some() {
        return fail(cf, "\"analytics_skip\" directive is duplicate");
    }
    // SAFETY: called by nginx while parsing a directive that takes one or more arguments.
    let args = unsafe { arguments(cf) };
    let mut conditions = Vec::with_capacity(args.len());
    for arg in args {
        if arg.len == 0 {
            return fail(cf, "\"analytics_skip\": an empty value never skips anything");
        }
        let Some(compiled) = compile_value(cf, arg) else {
            return fail(cf, &format!("\"analytics_skip\": invalid value \"{}\"", arg));
        };
        conditions.push(compiled);
    }
    lcf.skip = Some(SkipConditions(conditions));
    NGX_CONF_OK
}

/// A directive argument compiled as an nginx complex value (text with variables), or `None` when
/// nginx refuses it (it has logged why).
fn compile_value(cf: *mut ngx_conf_t, arg: &ngx_str_t) -> Option<ngx_http_complex_value_t> {
    let mut value = *arg;
    // SAFETY: all-zero bytes are a valid ngx_http_complex_value_t and
    // ngx_http_compile_complex_value_t (null pointers, zero sizes and flags), which is what
    // nginx's own directives start from.
    let mut compiled: ngx_http_complex_value_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut compile: ngx_http_compile_complex_value_t = unsafe { std::mem::zeroed() };
    compile.cf = cf;
    compile.value = &mut value;
    compile.complex_value = &mut compiled;
    // SAFETY: `compile` points to the configuration being parsed, a value whose bytes live in
    // its pool, and a complex value to fill; nginx allocates what it compiles from that pool,
    // so `compiled` may be moved once filled.
    (unsafe { ngx_http_compile_complex_value(&mut compile) } == NGX_OK as ngx_int_t).then_some(compiled)
}

/// `analytics_tag name value`: one of the site owner's own tags; the value is compiled like
/// `analytics_skip`'s, so it may hold variables. The tags of one level are kept sorted by name,
/// the order they are written in.
extern "C" fn set_tag(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
    // SAFETY: called by nginx while parsing a directive that takes two arguments.
    let [name, value] = (unsafe { arguments(cf) }) else {
        return fail(cf, "\"analytics_tag\" takes a name and a value");
    };
    let Ok(name) = text(name).map(str::to_owned) else {
        return fail(cf, "\"analytics_tag\": the name is not UTF-8");
    };
    if let Err(why) = check_site_tag_name(&name) {
        return fail(cf, &format!("\"analytics_tag\": invalid name \"{name}\": {why}"));
    }
    let tags = lcf.site_tags.get_or_insert_with(SiteTags::default);
    let Err(at) = tags.0.binary_search_by(|(other, _)| other.as_str().cmp(&name)) else {
        return fail(
            cf,
            &format!("\"analytics_tag\": \"{name}\" is set twice in this block"),
        );
    };
    if value.len == 0 {
        return fail(cf, "\"analytics_tag\": an empty value never writes a tag");
    }
    if let Some(variable) = text(value).ok().and_then(identifying_variable) {
        return fail(
            cf,
            &format!(
                "\"analytics_tag\": \"${variable}\" identifies a visitor or carries what does: it is never \
                 recorded"
            ),
        );
    }
    let Some(compiled) = compile_value(cf, value) else {
        return fail(cf, &format!("\"analytics_tag\": invalid value \"{}\"", value));
    };
    tags.0.insert(at, (name, compiled));
    NGX_CONF_OK
}

extern "C" fn set_status(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
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
    clcf.handler = Some(crate::handlers::status::status_handler);
    if let Some(main) = AnalyticsModule::main_conf_mut(cf_ref) {
        main.status_locations += 1;
    }
    NGX_CONF_OK
}

extern "C" fn set_domains(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
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
    let (lcf, command) = unsafe { (&mut *conf.cast::<LocationConf>(), &*cmd) };
    let Some(which) = MEASUREMENT_DIRECTIVES
        .iter()
        .position(|d| d.name.as_bytes() == command.name.as_bytes())
    else {
        return fail(cf, "unknown measurement directive");
    };
    let directive = &MEASUREMENT_DIRECTIVES[which];
    if lcf.measurement_names[which].is_some() {
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
            lcf.measurement_names[which] = Some(measurement);
            NGX_CONF_OK
        }
        Err(e) => fail(cf, &format!("\"{}\": {e}", directive.name)),
    }
}

extern "C" fn set_max_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes this module's location configuration for NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocationConf>() };
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
