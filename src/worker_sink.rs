//! The per-worker sink: the bounded buffer of pending lines, the flush timer, and the accounting
//! that makes every accepted line either delivered or counted as dropped with a reason.
//!
//! Lines are sent as soon as a full batch is pending, and otherwise when the flush timer fires.
//! The timer is armed only while lines are pending, and is not cancelable: a worker that is
//! shutting down gracefully (`nginx -s quit`, or an old worker after `nginx -s reload`) stays alive
//! until its pending lines are delivered or `exit_timeout=` passes.

use std::time::{SystemTime, UNIX_EPOCH};

use analytics_core::pending::PendingLines;
use analytics_core::unique_clock::next_unique_timestamp;
use nginx_sys::{
    ngx_add_timer, ngx_current_msec, ngx_del_timer, ngx_event_t, ngx_exiting, ngx_log_t, ngx_msec_t,
    ngx_time, NGX_LOG_ERR, NGX_LOG_NOTICE,
};
use ngx::ngx_log_error;

use crate::config::SinkConfig;
use crate::shared_state::{Counter, SharedState};
use crate::sink::{SendOutcome, SinkTarget};

/// Retry period while exiting: short, since the worker is only waiting for us.
const EXIT_RETRY_MS: ngx_msec_t = 100;

pub struct WorkerSink {
    pending: PendingLines,
    target: SinkTarget,
    address: String,
    flush_interval: ngx_msec_t,
    timer: ngx_event_t,
    shared: &'static SharedState,
    log: *mut ngx_log_t,
    exit_deadline: Option<ngx_msec_t>,
    exit_timeout: ngx_msec_t,
    buffer_full_drops: DropReport,
    sink_error_drops: DropReport,
    last_retry_report: i64,
}

impl WorkerSink {
    pub fn new(
        target: SinkTarget,
        config: &SinkConfig,
        shared: &'static SharedState,
        log: *mut ngx_log_t,
    ) -> Box<WorkerSink> {
        Box::new(WorkerSink {
            pending: PendingLines::new(config.buffer_size),
            target,
            address: config.address.to_string(),
            flush_interval: config.flush_interval_ms,
            // SAFETY: ngx_event_t is a plain C struct for which all-zero is the documented initial
            // state (nginx itself allocates events with ngx_pcalloc).
            timer: unsafe { std::mem::zeroed() },
            shared,
            log,
            exit_deadline: None,
            exit_timeout: config.exit_timeout_ms,
            buffer_full_drops: DropReport::default(),
            sink_error_drops: DropReport::default(),
            last_retry_report: 0,
        })
    }

    /// Points the timer event at this sink. Called once the sink sits in its final heap place.
    pub fn arm_timer_event(self: &mut Box<Self>) {
        let this: *mut WorkerSink = &mut **self;
        self.timer.handler = Some(on_flush_timer);
        self.timer.data = this.cast();
        self.timer.log = self.log;
        let flush_event: *mut ngx_event_t = &mut self.timer;
        if let SinkTarget::Http(http) = &mut self.target {
            http.bind(flush_event);
        }
    }

    pub fn shared(&self) -> &'static SharedState {
        self.shared
    }

    /// The next unique timestamp, in nanoseconds since the epoch.
    pub fn timestamp(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        next_unique_timestamp(&self.shared.last_timestamp_ns, now)
    }

    /// Queues one line written by `write`. A line that does not fit is dropped and counted.
    pub fn enqueue(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if self.pending.push_with(write).is_err() {
            self.shared.add(Counter::DroppedBufferFull, 1);
            let reason = "the pending buffer is full (see \"buffer=\" of analytics_sink)";
            self.buffer_full_drops.add(1, reason, self.log, &self.address);
            return;
        }
        if self
            .target
            .batch_is_full(self.pending.len(), self.pending.line_count())
        {
            self.flush();
        }
        self.schedule();
    }

    /// Sends every full batch the sink takes now; stops at the first "try later".
    pub fn flush(&mut self) {
        while !self.pending.is_empty() {
            let (max_bytes, max_lines) = self.target.max_batch();
            let batch = self.pending.next_batch(max_bytes, max_lines);
            let len = batch.len();
            match self.target.send(batch) {
                SendOutcome::Sent(n) => {
                    let lines = self.pending.lines_in_front(n) as u64;
                    self.shared.add(Counter::LinesWritten, lines);
                    self.shared.add(Counter::BytesWritten, n as u64);
                    self.shared.add(Counter::BatchesOk, 1);
                    self.pending.consume(n);
                }
                SendOutcome::Taken(n) => self.pending.consume(n),
                SendOutcome::Retry(reason) => {
                    self.shared.add(Counter::BatchesFailed, 1);
                    self.report_retry(&reason);
                    return;
                }
                // The sink posts the flush event once it can take more.
                SendOutcome::Busy => return,
                SendOutcome::Failed(reason) => {
                    self.shared.add(Counter::BatchesFailed, 1);
                    let lines = self.pending.lines_in_front(len) as u64;
                    self.shared.add(Counter::DroppedSinkError, lines);
                    self.sink_error_drops.add(lines, &reason, self.log, &self.address);
                    self.pending.consume(len);
                }
            }
        }
    }

    /// Arms the timer while lines are pending. While exiting, retries come quickly and stop at
    /// the deadline, so a dead sink cannot keep a worker alive for ever.
    fn schedule(&mut self) {
        if self.pending.is_empty() || self.timer.timer_set() != 0 {
            return;
        }
        // SAFETY: `ngx_exiting` and `ngx_current_msec` are plain globals written only by this
        // (single-threaded) worker's event loop.
        let (exiting, now) = unsafe { (ngx_exiting != 0, ngx_current_msec) };
        let delay = if exiting {
            let deadline = *self.exit_deadline.get_or_insert(now + self.exit_timeout);
            if now >= deadline {
                self.drop_all_pending("the worker is exiting and the sink still refuses lines");
                return;
            }
            EXIT_RETRY_MS.min(self.flush_interval)
        } else {
            self.flush_interval
        };
        // SAFETY: the event lives inside this boxed sink, which lives until the process exits;
        // its handler and data were set by arm_timer_event.
        unsafe { ngx_add_timer(&mut self.timer, delay) };
    }

    /// The last chance before the process ends: one more flush, then count what is left.
    pub fn deliver_before_exit(&mut self) {
        if self.timer.timer_set() != 0 {
            // SAFETY: the timer is set, so it is in nginx's timer tree and may be removed.
            unsafe { ngx_del_timer(&mut self.timer) };
        }
        self.flush();
        if let SinkTarget::Http(http) = &mut self.target {
            http.abandon("the worker exited before the sink took them");
        }
        self.drop_all_pending("the worker exited before the sink took them");
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
        if now >= self.last_retry_report + 10 {
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

/// Drops of one kind, logged at most once a second with the count since the last line.
#[derive(Default)]
struct DropReport {
    unreported: u64,
    reason: String,
    last_logged: i64,
}

impl DropReport {
    fn add(&mut self, lines: u64, reason: &str, log: *mut ngx_log_t, address: &str) {
        self.unreported += lines;
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
    // SAFETY: `data` was set by arm_timer_event to the boxed WorkerSink that owns this event; the
    // box is never freed while the worker runs, and the worker is single-threaded.
    let sink = unsafe { &mut *(*event).data.cast::<WorkerSink>() };
    sink.flush();
    sink.schedule();
}
