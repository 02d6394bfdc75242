//! The worker's runtime state: the bounded buffer of pending lines, the sink, the flush timer,
//! and the accounting that makes every accepted line either delivered or counted as dropped with
//! a reason. It lives in a worker-local cell, never inside a configuration struct.
//!
//! Sending happens off the request path: queuing a line only appends it (and, once a batch is
//! full and the sink can take it, posts a flush event). A flush pass sends a bounded amount, then
//! yields to the event loop. While the sink is busy or backing off, queuing costs nothing more, so
//! an outage of the write API costs the website nothing. The flush timer is armed only while
//! lines are pending and is not cancelable: a worker that is shutting down gracefully stays alive
//! until its lines are delivered or `exit_timeout=` passes.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::collections::HashMap;

use analytics_core::aggregate::{Added, AggregationTable};
use analytics_core::budget::{apply_budget, Budget, BudgetedTag, Overflowed, OVERFLOW_VALUE};
use analytics_core::pending::PendingLines;
use analytics_core::unique_clock::{next_unique_millisecond, next_unique_timestamp, Instance};
use analytics_core::Outcome;
use nginx_sys::{
    ngx_event_t, ngx_log_t, ngx_msec_t, ngx_time, NGX_LOG_ALERT, NGX_LOG_ERR, NGX_LOG_NOTICE, NGX_LOG_WARN,
};
use ngx::ngx_log_error;

use crate::conf::MainConf;
use crate::panic_guard::contain;
use crate::shared_state::{Counter, SharedState};
use crate::sink::http_last_attempt::LAST_ATTEMPT_MS;
use crate::sink::udp::Confirmation;
use crate::sink::{SendOutcome, Sink};
use crate::timer::{exiting, now_ms, Alarm, Timer};

/// Retry period while exiting: short, since the worker is only waiting for us.
const EXIT_RETRY_MS: ngx_msec_t = 100;
/// Most sends in one flush pass, and most bytes: a backlog is drained in slices, with the event
/// loop serving requests in between.
const MAX_SENDS_PER_PASS: usize = 64;
const MAX_BYTES_PER_PASS: usize = 1024 * 1024;

thread_local! {
    /// nginx workers run our code on one thread; this cell is that worker's state.
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// Runs `f` with this worker's state; `None` when there is none (no sink configured, the master
/// process) or when called from inside another `with` (which would be a bug, not a crash).
pub fn with<R>(f: impl FnOnce(&mut Worker) -> R) -> Option<R> {
    WORKER.with(|cell| {
        let mut guard = cell.try_borrow_mut().ok()?;
        guard.as_mut().map(f)
    })
}

/// Sets up this worker's sink (its socket or file, its buffer and timers). Called by nginx's
/// `init_process`.
pub fn start(main: &'static MainConf, log: *mut ngx_log_t) -> Result<(), ()> {
    let (Some(conf), Some(shared)) = (main.sink.as_ref(), main.shared()) else {
        return Ok(());
    };
    let address = conf.address.to_string();
    let sink = Sink::open(&conf.target, shared, log)?;
    let budget = main.budget.budget();
    if main.budget.config.is_some() && budget.is_none() {
        ngx_log_error!(
            NGX_LOG_ALERT,
            log,
            "analytics: the cardinality budget's shared memory is not usable; refusing to start without it"
        );
        return Err(());
    }
    let aggregation = main.aggregate_interval_ms.map(|interval| Aggregation {
        // Bounded like the pending buffer it drains into.
        table: AggregationTable::new(conf.buffer_size),
        interval,
        alarm: Alarm::new(Some(on_aggregate_timer), log),
        scratch: Vec::new(),
    });
    let worker = Worker {
        pending: PendingLines::new(conf.buffer_size),
        instance: main.instance.unwrap_or_else(|| Instance::from_host_name("")),
        aggregation,
        sink,
        shared,
        log,
        address,
        flush_interval: conf.flush_interval_ms,
        exit_timeout: conf.exit_timeout_ms,
        exit_deadline: None,
        flush_timer: Alarm::new(Some(on_flush_timer), log),
        flush_soon: Timer::new(Some(on_flush_soon), log),
        waiting_for_timer: false,
        budget,
        budget_domains: &main.budget.domain_index,
        overflow: OverflowReport::default(),
        buffer_full_drops: DropReport::default(),
        sink_error_drops: DropReport::default(),
        last_retry_report: 0,
    };
    WORKER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            *slot = Some(worker);
            Ok(())
        }
        Err(_) => Err(()),
    })
}

/// The last chance before the process ends (`exit_process`): one more flush, then count what is
/// left.
pub fn stop() {
    let worker = WORKER.with(|cell| cell.try_borrow_mut().ok().and_then(|mut slot| slot.take()));
    if let Some(mut worker) = worker {
        worker.drain_aggregation();
        worker.deliver_before_exit();
        // Whatever the table still holds could not be offered: there is no pending room left.
        worker.drop_aggregation();
    }
}

/// Called by nginx just before it reopens the file sink's file (`nginx -s reopen`).
pub fn flush_before_reopen() {
    contain("reopen", std::ptr::null_mut(), || {
        with(Worker::flush_all_now);
    });
}

/// `analytics_aggregate`: the table of this interval's hits and the alarm that ends the interval.
struct Aggregation {
    table: AggregationTable,
    interval: ngx_msec_t,
    /// Set when the first hit of an interval arrives; not cancelable, and wakes at least once a
    /// second, so an exiting worker drains its table at once and is kept alive until it has.
    alarm: Alarm,
    /// Where a hit's line is written before the table reads it: reused, to allocate once.
    scratch: Vec<u8>,
}

pub struct Worker {
    pending: PendingLines,
    /// `analytics_instance`: the lowest three digits of every timestamp.
    instance: Instance,
    /// `analytics_aggregate`, when on.
    aggregation: Option<Aggregation>,
    sink: Sink,
    shared: &'static SharedState,
    log: *mut ngx_log_t,
    /// The sink as logged: never its query string or headers.
    address: String,
    flush_interval: ngx_msec_t,
    exit_timeout: ngx_msec_t,
    exit_deadline: Option<ngx_msec_t>,
    flush_timer: Alarm,
    /// Posted to run a flush pass off the request path.
    flush_soon: Timer,
    /// The sink said "try later": no sends until the flush timer fires.
    waiting_for_timer: bool,
    /// The cardinality budget shared by all workers (`None`: `analytics_budget off`).
    budget: Option<Budget<'static>>,
    /// Each allow-listed domain's index in the budget.
    budget_domains: &'static HashMap<String, usize>,
    overflow: OverflowReport,
    buffer_full_drops: DropReport,
    sink_error_drops: DropReport,
    last_retry_report: i64,
}

impl Worker {
    /// The next unique timestamp, in nanoseconds since the epoch.
    pub fn timestamp(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        next_unique_timestamp(&self.shared.last_hit_us, now, self.instance)
    }

    /// Records the line of one hit that `write` appends: into the aggregation table when
    /// `analytics_aggregate` is on, else straight into the pending buffer.
    pub fn enqueue_hit(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let Some(aggregation) = self.aggregation.as_mut() else {
            return self.enqueue(write);
        };
        let mut line = std::mem::take(&mut aggregation.scratch);
        line.clear();
        write(&mut line);
        if !line.is_empty() {
            self.aggregate(&line);
        }
        if let Some(aggregation) = self.aggregation.as_mut() {
            aggregation.scratch = line;
        }
    }

    fn aggregate(&mut self, line: &[u8]) {
        let Some(aggregation) = self.aggregation.as_mut() else {
            return;
        };
        // An exiting worker is draining its table for the last time: what still comes goes out
        // as it is.
        if exiting() {
            return self.pass_through(line);
        }
        let mut before = aggregation.table.hits();
        let mut added = aggregation.table.add(line);
        if added == Added::Full && !aggregation.table.is_empty() {
            // Early rather than lost: the table's lines go to the pending buffer now.
            self.drain_aggregation();
            let Some(aggregation) = self.aggregation.as_mut() else {
                return;
            };
            // Only part of it may have gone: what stays was counted before.
            before = aggregation.table.hits();
            added = aggregation.table.add(line);
        }
        let Some(aggregation) = self.aggregation.as_mut() else {
            return;
        };
        match added {
            Added::Aggregated => {
                let hits = aggregation.table.hits().saturating_sub(before);
                self.shared.add(Counter::HitsAggregated, hits);
                if !aggregation.alarm.is_set() {
                    aggregation.alarm.set(aggregation.interval);
                }
            }
            // The table is full of lines the pending buffer cannot take yet, or the line is not
            // one the table reads: it goes as it is.
            Added::Full | Added::NotAggregable => self.pass_through(line),
        }
    }

    /// Queues a hit's line as it is, counted like the table's lines (one hit, one line), so that
    /// the counters still reconcile.
    fn pass_through(&mut self, line: &[u8]) {
        self.shared.add(Counter::HitsAggregated, 1);
        self.shared.add(Counter::AggregateLines, 1);
        self.enqueue(|out| out.extend_from_slice(line));
    }

    /// Writes the aggregation table's lines into the pending buffer, all with one timestamp: a
    /// millisecond no other flush of this instance has, so that even a millisecond store keeps
    /// every flush of a series. What the pending buffer cannot take now stays in the table and
    /// is offered again after the flush interval: the table is a buffer too, never a reason to
    /// drop.
    fn drain_aggregation(&mut self) {
        let Worker {
            aggregation: Some(aggregation),
            pending,
            shared,
            instance,
            ..
        } = self
        else {
            return;
        };
        aggregation.alarm.clear();
        if aggregation.table.is_empty() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let timestamp = next_unique_millisecond(&shared.last_flush_ms, now, *instance);
        let taken = aggregation
            .table
            .drain_while(timestamp, |line| pending.push(line).is_ok());
        shared.add(Counter::AggregateLines, taken as u64);
        if !aggregation.table.is_empty() {
            let retry = if exiting() {
                EXIT_RETRY_MS
            } else {
                self.flush_interval
            };
            aggregation.alarm.set(retry);
        }
        if self.can_send()
            && self
                .sink
                .batch_is_full(self.pending.len(), self.pending.line_count())
        {
            self.flush_soon.post();
        }
        self.schedule();
    }

    /// The worker is about to end: what its table still holds after a last drain is counted and
    /// logged as dropped.
    fn drop_aggregation(&mut self) {
        let Some(aggregation) = self.aggregation.as_mut() else {
            return;
        };
        aggregation.alarm.clear();
        let mut lines = 0u64;
        aggregation.table.drain(0, |_| lines += 1);
        if lines > 0 {
            self.shared.add(Counter::AggregateLines, lines);
            drop_at_exit(
                self.shared,
                self.log,
                lines,
                &self.address,
                "the worker exited before the pending buffer could take them",
            );
        }
    }

    /// Replaces every value of `outcome` that its cardinality budget does not admit by
    /// `(other)`, and counts (and now and then logs, by tag name) what was replaced.
    pub fn apply_budget(&mut self, outcome: &mut Outcome) {
        let Some(budget) = &self.budget else { return };
        let domain_index = match &*outcome {
            Outcome::PageView(record) | Outcome::NotFound(record) => self.budget_domains.get(&*record.domain),
            Outcome::Event { domain, .. } => self.budget_domains.get(&**domain),
            Outcome::Unlisted { .. } => None,
        };
        let now_s = u64::try_from(ngx_time()).unwrap_or(0);
        let overflowed = apply_budget(outcome, budget, domain_index.copied(), now_s);
        if !overflowed.is_empty() {
            for kind in overflowed.kinds() {
                if let Some(counter) = Counter::overflow(kind) {
                    self.shared.add(counter, 1);
                }
            }
            self.overflow.add(overflowed, self.log);
        }
    }

    /// Queues the line `write` appends (if it appends one). A line that does not fit is dropped
    /// and counted. Sending is left to a flush pass: this never touches the sink.
    pub fn enqueue(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if self.pending.push_with(write).is_err() {
            self.shared.add(Counter::DroppedBufferFull, 1);
            let reason = "the pending buffer is full (see \"buffer=\" of analytics_sink)";
            self.buffer_full_drops.add(1, reason, self.log, &self.address);
            return;
        }
        if self.pending.is_empty() {
            return;
        }
        if self.can_send()
            && self
                .sink
                .batch_is_full(self.pending.len(), self.pending.line_count())
        {
            self.flush_soon.post();
        }
        self.schedule();
    }

    fn can_send(&self) -> bool {
        !self.waiting_for_timer && self.sink.ready()
    }

    /// One bounded pass of sending; if more could go now, the next pass is posted for the next
    /// turn of the event loop.
    fn flush_pass(&mut self) {
        let mut sends = 0;
        let mut bytes = 0;
        while !self.pending.is_empty() && self.can_send() {
            if sends == MAX_SENDS_PER_PASS || bytes >= MAX_BYTES_PER_PASS {
                self.flush_soon.post_next();
                return;
            }
            sends += 1;
            bytes += self.send_one_batch();
        }
    }

    /// Offers the next batch to the sink; returns the bytes it took.
    fn send_one_batch(&mut self) -> usize {
        // A refusal the UDP socket reports is for an earlier datagram: count it, and wait for the
        // flush interval before the next, as for any refusal.
        if self.confirm_datagrams(false) {
            return 0;
        }
        let (max_bytes, max_lines) = self.sink.max_batch();
        let batch = self.pending.next_batch(max_bytes, max_lines);
        let len = batch.len();
        let lines = self.pending.lines_in_front(len);
        let taken = match self.sink.send(batch, lines) {
            SendOutcome::Sent(n) => {
                let lines = if n == len {
                    lines
                } else {
                    self.pending.lines_in_front(n)
                } as u64;
                self.shared.add(Counter::LinesWritten, lines);
                self.shared.add(Counter::BytesWritten, n as u64);
                self.shared.add(Counter::BatchesOk, 1);
                self.pending.consume(n);
                n
            }
            SendOutcome::Unconfirmed(n) => {
                self.pending.consume(n);
                // For a listener on this host the socket knows at once.
                self.confirm_datagrams(false);
                n
            }
            SendOutcome::Taken(n) => {
                self.pending.consume(n);
                n
            }
            SendOutcome::Retry(reason) => {
                self.shared.add(Counter::BatchesFailed, 1);
                self.report_retry(&reason);
                self.waiting_for_timer = true;
                0
            }
            // The sink reports readiness itself (see `after_sink_event`).
            SendOutcome::Busy => 0,
            SendOutcome::Failed(reason) => {
                self.shared.add(Counter::BatchesFailed, 1);
                let lines = lines as u64;
                self.shared.add(Counter::DroppedSinkError, lines);
                self.sink_error_drops.add(lines, &reason, self.log, &self.address);
                self.pending.consume(len);
                len
            }
        };
        self.pending.set_held_elsewhere(self.sink.held_bytes());
        taken
    }

    /// Counts what the UDP socket says about the datagrams sent before (all of them, when `all`:
    /// the worker is exiting). True if it reported a refusal.
    fn confirm_datagrams(&mut self, all: bool) -> bool {
        let Sink::Udp(udp) = &mut self.sink else {
            return false;
        };
        let mut refused = false;
        for confirmation in udp.confirm(now_ms(), all) {
            match confirmation {
                Confirmation::Written {
                    lines,
                    bytes,
                    datagrams,
                } => {
                    self.shared.add(Counter::LinesWritten, lines as u64);
                    self.shared.add(Counter::BytesWritten, bytes as u64);
                    self.shared.add(Counter::BatchesOk, datagrams as u64);
                }
                Confirmation::Lost { lines, reason } => {
                    refused = true;
                    self.shared.add(Counter::BatchesFailed, 1);
                    self.shared.add(Counter::DroppedSinkError, lines as u64);
                    self.sink_error_drops
                        .add(lines as u64, &reason, self.log, &self.address);
                    self.waiting_for_timer = true;
                }
            }
        }
        refused
    }

    /// Sends everything the sink takes now, in one go: only where nginx needs the lines out
    /// before it goes on (a reopen, the worker's exit).
    fn flush_all_now(&mut self) {
        self.waiting_for_timer = false;
        // Each send that takes anything takes at least one line: this many passes always suffice.
        for _ in 0..=self.pending.line_count() {
            if self.pending.is_empty() || !self.sink.ready() || self.send_one_batch() == 0 {
                break;
            }
        }
    }

    /// Called after the sink handled one of its own events: it may now take the next batch.
    pub fn after_sink_event(&mut self) {
        self.pending.set_held_elsewhere(self.sink.held_bytes());
        if !self.pending.is_empty() && self.can_send() {
            self.flush_soon.post();
        }
        self.schedule();
    }

    pub fn sink_mut(&mut self) -> &mut Sink {
        &mut self.sink
    }

    /// Arms the timer while lines are pending. While exiting, retries come quickly and stop at
    /// the deadline, so a dead sink cannot keep a worker alive for ever.
    fn schedule(&mut self) {
        if self.flush_timer.is_set() {
            return;
        }
        let (exiting, now) = (exiting(), now_ms());
        if self.pending.is_empty() {
            // Datagrams to a remote listener are confirmed when their round trip has passed.
            if let Sink::Udp(udp) = &self.sink {
                if let Some(due_in) = udp.confirmation_due_in(now) {
                    self.flush_timer.set(due_in.clamp(1, self.flush_interval.max(1)));
                }
            }
            return;
        }
        let delay = if exiting {
            let deadline = *self
                .exit_deadline
                .get_or_insert(now.saturating_add(self.exit_timeout));
            if now >= deadline {
                self.drop_all_pending("the worker is exiting and the sink still refuses lines");
                return;
            }
            EXIT_RETRY_MS.min(self.flush_interval)
        } else {
            self.flush_interval
        };
        self.flush_timer.set(delay);
    }

    fn deliver_before_exit(&mut self) {
        self.flush_timer.clear();
        // Not into the HTTP sink: a request sent now could be stored upstream and still be
        // counted as dropped when the connection is closed below.
        if let Sink::Http(http) = &mut self.sink {
            // The event loop is over (`nginx -s stop`, or a graceful exit that ran out of time):
            // one last, blocking, strictly bounded attempt.
            if !self.pending.is_empty() || http.holds_batches() {
                let budget = LAST_ATTEMPT_MS.min(self.exit_timeout as u64);
                http.last_attempt(&mut self.pending, Duration::from_millis(budget));
            }
        } else {
            self.flush_all_now();
        }
        self.confirm_datagrams(true);
        let reason = if self.sink.delivers_later() {
            "the worker was stopped and the write API did not take them within the last attempt \
             (at most 1s)"
        } else {
            "the worker exited before the sink took them"
        };
        self.sink.abandon(reason);
        self.drop_all_pending(reason);
        // Every drop is in the log by the time the worker is gone.
        self.buffer_full_drops.report_now(self.log, &self.address);
        self.sink_error_drops.report_now(self.log, &self.address);
    }

    fn drop_all_pending(&mut self, reason: &str) {
        if self.pending.is_empty() {
            return;
        }
        let lines = self.pending.line_count() as u64;
        drop_at_exit(self.shared, self.log, lines, &self.address, reason);
        let len = self.pending.len();
        self.pending.consume(len);
    }

    fn report_retry(&mut self, reason: &str) {
        let now = ngx_time() as i64;
        if now >= self.last_retry_report.saturating_add(10) {
            ngx_log_error!(
                NGX_LOG_NOTICE,
                self.log,
                "analytics: {} lines wait for the sink: {}",
                self.pending.line_count(),
                reason
            );
            self.last_retry_report = now;
        }
    }
}

/// Counts lines that a worker could not deliver before exiting, and says so in the error log (in
/// the form the tests and operators read: "analytics: N lines for <sink> dropped: <reason>").
pub fn drop_at_exit(shared: &SharedState, log: *mut ngx_log_t, lines: u64, address: &str, reason: &str) {
    shared.add(Counter::DroppedAtExit, lines);
    ngx_log_error!(
        NGX_LOG_ERR,
        log,
        "analytics: {} lines for {} dropped: {}",
        lines,
        address,
        reason
    );
}

/// Values replaced by `(other)`, logged at most once a minute per worker, by tag name only: the
/// values themselves are what the budget keeps out of storage, and out of the log too.
#[derive(Default)]
struct OverflowReport {
    unreported: [u64; BudgetedTag::KINDS],
    last_logged: i64,
}

impl OverflowReport {
    fn add(&mut self, overflowed: Overflowed, log: *mut ngx_log_t) {
        for kind in overflowed.kinds() {
            if let Some(n) = self.unreported.get_mut(kind) {
                *n = n.saturating_add(1);
            }
        }
        let now = ngx_time() as i64;
        if now < self.last_logged.saturating_add(60) {
            return;
        }
        self.last_logged = now;
        for (kind, n) in self.unreported.iter_mut().enumerate() {
            if *n > 0 {
                ngx_log_error!(
                    NGX_LOG_WARN,
                    log,
                    "analytics: the cardinality budget of \"{}\" is spent for this period: {} lines \
                     were written with {} in its place (see analytics_budget)",
                    BudgetedTag::kind_name(kind),
                    n,
                    OVERFLOW_VALUE
                );
                *n = 0;
            }
        }
    }
}

/// Drops of one kind, logged at most once a second with the count since the last line.
#[derive(Default)]
struct DropReport {
    unreported: u64,
    reason: String,
    last_logged: i64,
}

impl DropReport {
    fn add(&mut self, lines: u64, reason: &str, log: *mut ngx_log_t, address: &str) {
        self.unreported = self.unreported.saturating_add(lines);
        if self.reason != reason {
            self.reason = reason.to_owned();
        }
        if ngx_time() as i64 > self.last_logged {
            self.report_now(log, address);
        }
    }

    fn report_now(&mut self, log: *mut ngx_log_t, address: &str) {
        if self.unreported == 0 {
            return;
        }
        ngx_log_error!(
            NGX_LOG_ERR,
            log,
            "analytics: {} lines for {} dropped: {}",
            self.unreported,
            address,
            self.reason
        );
        self.unreported = 0;
        self.last_logged = ngx_time() as i64;
    }
}

extern "C" fn on_flush_timer(event: *mut ngx_event_t) {
    // SAFETY: nginx calls timer handlers with the event that fired.
    let log = unsafe { (*event).log };
    contain("the flush timer", log, || {
        with(|worker| {
            // A long flush interval must not hold up a worker that is shutting down.
            if !worker.flush_timer.ring(exiting().then(now_ms)) {
                return;
            }
            worker.confirm_datagrams(false);
            // This is the retry a refusal waited for, even one reported just now.
            worker.waiting_for_timer = false;
            worker.flush_pass();
            worker.schedule();
        })
    });
}

extern "C" fn on_aggregate_timer(event: *mut ngx_event_t) {
    // SAFETY: nginx calls timer handlers with the event that fired.
    let log = unsafe { (*event).log };
    contain("the aggregation timer", log, || {
        with(|worker| {
            let Some(aggregation) = worker.aggregation.as_mut() else {
                return;
            };
            // A worker that is shutting down drains its table at once.
            if aggregation.alarm.ring(exiting().then(now_ms)) {
                worker.drain_aggregation();
            }
        })
    });
}

extern "C" fn on_flush_soon(event: *mut ngx_event_t) {
    // SAFETY: nginx calls posted-event handlers with the event.
    let log = unsafe { (*event).log };
    contain("a flush pass", log, || {
        with(|worker| {
            worker.flush_pass();
            worker.schedule();
        })
    });
}
