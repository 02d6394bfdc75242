//! The HTTP sink's pool: `connections=` exchanges to each of one or more upstreams, each exchange
//! an [`HttpSink`] (one connection, one batch at a time, its own retry rules). The pool hands each
//! free exchange the next batch, in the order `balance=` says, and keeps each upstream's health
//! (`analytics_core::upstream_choice`): an upstream whose exchange fails is down for a back-off,
//! and a batch waiting on it goes at once to an upstream that is up, instead of waiting there.
//!
//! Nothing is counted here: each exchange counts what it delivers, refuses or drops, so the
//! worker's accounting is the same for one connection or many. Every batch held anywhere in the
//! pool counts against `buffer=` (see [`HttpPool::held_bytes`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use analytics_core::pending::PendingLines;
use analytics_core::upstream_choice::{Balance, Upstreams};
use nginx_sys::{ngx_log_t, ngx_random, NGX_LOG_NOTICE};
use ngx::ngx_log_error;

use super::http::{HttpSink, HttpTarget, News};
use super::upstream_lookup::{NameLookup, Resolver};
use super::SendOutcome;
use crate::shared_state::SharedState;
use crate::timer::now_ms;

/// Most exchanges in flight to one upstream from one worker (`connections=`).
pub const MAX_CONNECTIONS: usize = 64;
/// Most upstreams in one `analytics_sink`.
pub const MAX_UPSTREAMS: usize = 16;

/// One upstream as configured: where to send, and how it appears in the log.
#[derive(Clone)]
pub struct UpstreamTarget {
    pub target: HttpTarget,
    /// Scheme, host, port and path: never the query string.
    pub address: String,
    /// The host as written: a name is looked up again when the upstream fails (with `resolver`).
    pub host: String,
}

/// What `analytics_sink` says about an HTTP sink with one or more upstreams.
#[derive(Clone)]
pub struct HttpPoolTarget {
    /// In the order written: the order of `balance=failover`.
    pub upstreams: Vec<UpstreamTarget>,
    pub balance: Balance,
    /// Exchanges in flight per upstream.
    pub connections: usize,
    /// The `http{}` block's `resolver`, set once the configuration is read; `None` without one.
    pub resolver: Option<Resolver>,
}

pub struct HttpPool {
    /// `connections` exchanges per upstream, upstream by upstream.
    sinks: Vec<HttpSink>,
    connections: usize,
    upstreams: Upstreams,
    addresses: Vec<String>,
    /// Per upstream: the lookups of its name (`None` for an address, or without `resolver`).
    lookups: Vec<Option<NameLookup>>,
    log: *mut ngx_log_t,
}

impl HttpPool {
    pub fn new(conf: &HttpPoolTarget, shared: &'static SharedState, log: *mut ngx_log_t) -> HttpPool {
        let connections = conf.connections.max(1);
        let sinks = conf
            .upstreams
            .iter()
            .flat_map(|u| (0..connections).map(move |_| u))
            .map(|u| HttpSink::new(u.target.clone(), &u.address, shared, log))
            .collect();
        HttpPool {
            sinks,
            connections,
            upstreams: Upstreams::new(conf.balance, conf.upstreams.len()),
            addresses: conf.upstreams.iter().map(|u| u.address.clone()).collect(),
            lookups: conf
                .upstreams
                .iter()
                .map(|u| conf.resolver.and_then(|r| NameLookup::new(r, &u.host, log)))
                .collect(),
            log,
        }
    }

    /// `batch=`, the same for every upstream.
    pub fn batch_lines(&self) -> usize {
        self.sinks.first().map_or(1, HttpSink::batch_lines)
    }

    fn upstream_of(&self, sink: usize) -> usize {
        sink / self.connections
    }

    /// A free exchange to `upstream`, if it has one.
    fn free_sink(&self, upstream: usize) -> Option<usize> {
        let first = upstream * self.connections;
        (first..first + self.connections).find(|&i| self.sinks.get(i).is_some_and(HttpSink::ready))
    }

    /// Ready for a new batch: an upstream that `balance=` lets take it has a free exchange.
    pub fn ready(&self) -> bool {
        self.upstreams
            .peek(now_ms() as u64, |u| self.free_sink(u).is_some())
            .is_some()
    }

    /// Whether any exchange holds a batch (in flight or waiting to be retried). Not the opposite
    /// of [`HttpPool::ready`]: a pool can hold batches and still take one more.
    pub fn holds_batches(&self) -> bool {
        self.sinks.iter().any(|sink| !sink.ready())
    }

    /// Bytes held by every exchange: all count against `buffer=`.
    pub fn held_bytes(&self) -> usize {
        self.sinks.iter().map(HttpSink::held_bytes).sum()
    }

    /// Hands `batch` to the exchange `balance=` chooses, unless none can take it now.
    pub fn send(&mut self, batch: &[u8], lines: usize) -> SendOutcome {
        self.fail_over();
        let now = now_ms() as u64;
        let chosen = {
            let sinks = &self.sinks;
            let connections = self.connections;
            self.upstreams.choose(now, |u| {
                let first = u * connections;
                (first..first + connections).any(|i| sinks.get(i).is_some_and(HttpSink::ready))
            })
        };
        let Some(sink) = chosen.and_then(|u| self.free_sink(u)) else {
            return SendOutcome::Busy;
        };
        let outcome = self.sinks[sink].send(batch, lines);
        // The exchange may have failed at once (a refused connect): its batch can move on now.
        self.fail_over();
        outcome
    }

    /// Runs `f` on each exchange `is_theirs` claims, then acts on what the exchanges learnt about
    /// their upstreams.
    pub fn on_sink_event(&mut self, is_theirs: impl Fn(&HttpSink) -> bool, mut f: impl FnMut(&mut HttpSink)) {
        for sink in self.sinks.iter_mut().filter(|s| is_theirs(s)) {
            f(sink);
        }
        self.fail_over();
    }

    /// Takes each exchange's news into its upstream's health, and moves each batch waiting on an
    /// upstream that is down to a free exchange of one that is up. A move that fails at once marks
    /// that upstream down too, so this ends within one round per upstream.
    fn fail_over(&mut self) {
        for _ in 0..=self.addresses.len() {
            self.take_news();
            if !self.move_one_round() {
                return;
            }
        }
    }

    fn take_news(&mut self) {
        self.apply_name_lookups();
        let now = now_ms() as u64;
        for i in 0..self.sinks.len() {
            let upstream = self.upstream_of(i);
            let Some(news) = self.sinks[i].take_news() else {
                continue;
            };
            match news {
                News::Answered => {
                    if let Some(health) = self.upstreams.health_mut(upstream) {
                        health.answered();
                    }
                }
                News::Failed {
                    retry_in_ms,
                    unanswered,
                } => {
                    if unanswered {
                        if let Some(Some(lookup)) = self.lookups.get_mut(upstream) {
                            lookup.start(now);
                        }
                    }
                    let Some(health) = self.upstreams.health_mut(upstream) else {
                        continue;
                    };
                    let was_up = health.is_up(now);
                    let down_for = health.failed(now, retry_in_ms, u64::from(ngx_random() as u32));
                    if was_up && self.addresses.len() > 1 {
                        ngx_log_error!(
                            NGX_LOG_NOTICE,
                            self.log,
                            "analytics: {} is down for {} ms; its batches go to the other upstreams",
                            self.addresses[upstream],
                            down_for
                        );
                    }
                }
            }
        }
    }

    /// A name lookup finished: takes its answer, and moves batches if it let one go.
    pub fn take_name_lookups(&mut self) {
        self.fail_over();
    }

    /// Points each upstream whose name now resolves elsewhere at its new address: the next
    /// connections of its exchanges go there, and batches waiting for a retry are tried at once.
    fn apply_name_lookups(&mut self) {
        for upstream in 0..self.lookups.len() {
            let Some(Some(lookup)) = self.lookups.get_mut(upstream) else {
                continue;
            };
            let Some(ip) = lookup.take_address() else {
                continue;
            };
            let first = upstream * self.connections;
            let Some(was) = self.sinks.get(first).map(HttpSink::peer) else {
                continue;
            };
            let now = SocketAddr::new(ip, was.port());
            if now == was {
                continue;
            }
            lookup.log_moved(was, now);
            // A new address starts with a clean slate: its failures so far were the old one's.
            if let Some(health) = self.upstreams.health_mut(upstream) {
                health.answered();
            }
            for sink in self.sinks.iter_mut().skip(first).take(self.connections) {
                sink.move_to(now);
            }
        }
    }

    /// One pass of moves; whether any batch moved.
    fn move_one_round(&mut self) -> bool {
        let now = now_ms() as u64;
        let mut moved = false;
        for from in 0..self.sinks.len() {
            if !self.sinks[from].backing_off() {
                continue;
            }
            let upstream = self.upstream_of(from);
            let target = self
                .upstreams
                .failover_for(upstream, now, |u| self.free_sink(u).is_some())
                .and_then(|u| self.free_sink(u));
            let Some(to) = target else { continue };
            let (giver, taker) = two_mut(&mut self.sinks, from, to);
            giver.hand_over(taker);
            moved = true;
        }
        moved
    }

    /// `nginx -s stop`: every batch held in the pool, then the worker's `pending` lines, over
    /// blocking connections to one upstream after another in the order written, within `budget` in
    /// all. What is left is for the caller to count.
    pub fn last_attempt(&mut self, pending: &mut PendingLines, budget: Duration) {
        let deadline = Instant::now() + budget;
        for upstream in 0..self.addresses.len() {
            let Some(left) = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
            else {
                return;
            };
            let first = upstream * self.connections;
            for other in (0..self.sinks.len()).filter(|&i| i != first) {
                let (taker, giver) = two_mut(&mut self.sinks, first, other);
                taker.take_batches_of(giver);
            }
            self.sinks[first].last_attempt(pending, left);
            if pending.is_empty() && self.sinks[first].ready() {
                return;
            }
        }
    }

    /// Gives up every batch in the pool, counting them.
    pub fn abandon(&mut self, reason: &str) {
        for sink in &mut self.sinks {
            sink.abandon(reason);
        }
    }
}

/// Two distinct elements of `items`, mutably.
fn two_mut<T>(items: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b, "two different elements");
    if a < b {
        let (left, right) = items.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = items.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}
