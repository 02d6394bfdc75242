//! Re-resolving an HTTP upstream's host name with nginx's own `resolver`, on the event loop, when
//! the upstream fails: the name was resolved once when the configuration was read, and an
//! upstream that moved (a new container, a failed-over host) is found again without a reload.
//!
//! One lookup per upstream at a time, at most one a second. The lookup's context is nginx's; its
//! handler writes the answer into this upstream's [`Answer`] cell (boxed, so its address is
//! stable) and the pool takes it from there. A lookup in flight is cancelled when its
//! [`NameLookup`] is dropped, so the handler never runs after the sink is gone.

use std::cell::RefCell;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ptr::{self, NonNull};

use nginx_sys::{
    ngx_log_t, ngx_msec_t, ngx_resolve_name, ngx_resolve_name_done, ngx_resolve_start, ngx_resolver_ctx_t,
    ngx_resolver_strerror, ngx_resolver_t, ngx_str_t, sockaddr_in, sockaddr_in6, AF_INET, AF_INET6,
    NGX_LOG_NOTICE, NGX_LOG_WARN, NGX_OK,
};
use ngx::ngx_log_error;

use crate::panic_guard::contain;

/// The shortest time between two lookups of one upstream's name.
const MIN_INTERVAL_MS: u64 = 1000;

/// nginx's `resolver` of the `http{}` block and its `resolver_timeout`.
#[derive(Clone, Copy)]
pub struct Resolver {
    pub resolver: *mut ngx_resolver_t,
    pub timeout_ms: ngx_msec_t,
}

/// What the last lookup said; taken by the pool.
enum Outcome {
    Address(IpAddr),
    Failed(String),
}

/// Shared between the pool and the resolver's handler: the lookup in flight and its outcome.
struct Answer {
    ctx: *mut ngx_resolver_ctx_t,
    outcome: Option<Outcome>,
    log: *mut ngx_log_t,
}

/// The lookups of one upstream's host name.
pub struct NameLookup {
    resolver: Resolver,
    /// The name as written in `analytics_sink`; nginx reads it while the lookup is in flight.
    name: Box<[u8]>,
    /// Made by `Box::into_raw`, freed by `drop`: the handler reaches it through the context, so
    /// it is never owned by a reference this lookup holds while nginx runs the handler.
    answer: NonNull<RefCell<Answer>>,
    last_started_ms: Option<u64>,
    failure_logged: bool,
    log: *mut ngx_log_t,
}

impl NameLookup {
    /// `None` for an IP literal: there is nothing to look up.
    pub fn new(resolver: Resolver, host: &str, log: *mut ngx_log_t) -> Option<NameLookup> {
        if host.parse::<IpAddr>().is_ok() || host.contains(':') || resolver.resolver.is_null() {
            return None;
        }
        Some(NameLookup {
            resolver,
            name: host.as_bytes().into(),
            answer: NonNull::from(Box::leak(Box::new(RefCell::new(Answer {
                ctx: ptr::null_mut(),
                outcome: None,
                log,
            })))),
            last_started_ms: None,
            failure_logged: false,
            log,
        })
    }

    fn answer(&self) -> &RefCell<Answer> {
        // SAFETY: `answer` is a live box until `drop`, only ever reached through shared references.
        unsafe { self.answer.as_ref() }
    }

    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or("?")
    }

    /// Starts a lookup unless one is in flight or the last started less than a second ago.
    pub fn start(&mut self, now_ms: u64) {
        if !self.answer().borrow().ctx.is_null()
            || self
                .last_started_ms
                .is_some_and(|last| now_ms.saturating_sub(last) < MIN_INTERVAL_MS)
        {
            return;
        }
        self.last_started_ms = Some(now_ms);
        // SAFETY: the resolver is the http block's, allocated from the cycle's pool, which
        // outlives this worker's sink; a null `temp` asks for a plain context.
        let ctx = unsafe { ngx_resolve_start(self.resolver.resolver, ptr::null_mut()) };
        // NGX_NO_RESOLVER is (void *) -1: a resolver without name servers.
        if ctx.is_null() || ctx as isize == -1 {
            self.answer().borrow_mut().outcome = Some(Outcome::Failed("no resolver context".into()));
            return;
        }
        // SAFETY: `ctx` is a fresh context from ngx_resolve_start, ours until the handler or
        // ngx_resolve_name_done. `name` and `answer` are boxed and live until this lookup is
        // dropped, which cancels a lookup in flight first.
        let rc = unsafe {
            (*ctx).name = ngx_str_t {
                len: self.name.len(),
                data: self.name.as_mut_ptr(),
            };
            (*ctx).handler = Some(on_resolved);
            (*ctx).data = self.answer.as_ptr().cast();
            (*ctx).timeout = self.resolver.timeout_ms;
            // A lookup must not keep an exiting worker alive.
            (*ctx).set_cancelable(1);
            self.answer().borrow_mut().ctx = ctx;
            ngx_resolve_name(ctx)
        };
        if rc != NGX_OK as isize {
            // nginx freed the context.
            let mut answer = self.answer().borrow_mut();
            answer.ctx = ptr::null_mut();
            answer.outcome = Some(Outcome::Failed("the lookup could not start".into()));
        }
    }

    /// The address the last finished lookup gave, once: `None` while none finished, or when it
    /// failed (logged here, once until a lookup succeeds again).
    pub fn take_address(&mut self) -> Option<IpAddr> {
        let outcome = self.answer().borrow_mut().outcome.take()?;
        match outcome {
            Outcome::Address(ip) => {
                self.failure_logged = false;
                Some(ip)
            }
            Outcome::Failed(why) => {
                if !self.failure_logged {
                    self.failure_logged = true;
                    ngx_log_error!(
                        NGX_LOG_WARN,
                        self.log,
                        "analytics: cannot resolve \"{}\" again: {}; its address stays as it was",
                        self.name(),
                        why
                    );
                }
                None
            }
        }
    }

    /// Logs a new address for this name.
    pub fn log_moved(&self, from: SocketAddr, to: SocketAddr) {
        ngx_log_error!(
            NGX_LOG_NOTICE,
            self.log,
            "analytics: \"{}\" now resolves to {} (was {}): its next connections go there",
            self.name(),
            to,
            from
        );
    }
}

impl Drop for NameLookup {
    fn drop(&mut self) {
        let ctx = std::mem::replace(&mut self.answer().borrow_mut().ctx, ptr::null_mut());
        if !ctx.is_null() {
            // SAFETY: a non-null `ctx` is a lookup in flight whose handler has not run: nginx
            // takes it off its waiting list and frees it, so the handler never sees `answer` again.
            unsafe { ngx_resolve_name_done(ctx) };
        }
        // SAFETY: made by Box::into_raw in `new`; no lookup in flight refers to it any more.
        drop(unsafe { Box::from_raw(self.answer.as_ptr()) });
    }
}

extern "C" fn on_resolved(ctx: *mut ngx_resolver_ctx_t) {
    // SAFETY: nginx calls the handler with the context we started, whose `data` is the boxed
    // `RefCell<Answer>` of a live `NameLookup` (dropping it cancels the lookup first).
    let answer = unsafe { &*(*ctx).data.cast::<RefCell<Answer>>() };
    let log = answer.try_borrow().map_or(ptr::null_mut(), |a| a.log);
    contain("the HTTP sink's name lookup", log, || {
        // SAFETY: the context is valid until ngx_resolve_name_done below; `addrs` holds `naddrs`
        // addresses when `state` is 0.
        let outcome = unsafe { outcome_of(&*ctx) };
        // Never borrowed while nginx runs this handler; were it, the context would stay recorded
        // in `answer`, for the lookup's drop to end (it stays valid until then).
        if let Ok(mut held) = answer.try_borrow_mut() {
            held.ctx = ptr::null_mut();
            held.outcome = Some(outcome);
            drop(held);
            // SAFETY: the handler ends the lookup, as nginx's own modules do; `ctx` is no longer
            // recorded anywhere, so it is not used after.
            unsafe { ngx_resolve_name_done(ctx) };
        }
    });
    super::http::after_name_lookup(log);
}

/// The first IPv4 or IPv6 address of a finished lookup, or why there is none.
///
/// # Safety
/// `ctx` is a context nginx passed to its handler.
unsafe fn outcome_of(ctx: &ngx_resolver_ctx_t) -> Outcome {
    if ctx.state != 0 {
        // SAFETY: nginx returns a static string for any state.
        let why = unsafe { CStr::from_ptr(ngx_resolver_strerror(ctx.state)) };
        return Outcome::Failed(why.to_string_lossy().into_owned());
    }
    if ctx.naddrs == 0 || ctx.addrs.is_null() {
        return Outcome::Failed("no address".into());
    }
    // SAFETY: `addrs` has `naddrs` > 0 entries, each with a sockaddr of its family.
    let addr = unsafe { &*ctx.addrs };
    let family = if addr.sockaddr.is_null() {
        0
    } else {
        // SAFETY: non-null sockaddr of at least its family field.
        unsafe { (*addr.sockaddr).sa_family as u32 }
    };
    match family {
        AF_INET => {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*addr.sockaddr.cast::<sockaddr_in>() };
            Outcome::Address(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))))
        }
        AF_INET6 => {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let sin6 = unsafe { &*addr.sockaddr.cast::<sockaddr_in6>() };
            // SAFETY: every bit pattern of in6_addr's union is 16 bytes.
            Outcome::Address(IpAddr::V6(Ipv6Addr::from(unsafe {
                sin6.sin6_addr.__in6_u.__u6_addr8
            })))
        }
        _ => Outcome::Failed("an address of an unknown family".into()),
    }
}
