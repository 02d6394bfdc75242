//! An nginx event owned by the module: a timer, or an event posted to run later in this
//! event-loop pass. Boxed, because nginx keeps pointers to it while it is armed or posted.

use std::ptr;

use nginx_sys::{
    ngx_add_timer, ngx_current_msec, ngx_del_timer, ngx_delete_posted_event, ngx_event_handler_pt,
    ngx_event_t, ngx_exiting, ngx_log_t, ngx_msec_t, ngx_post_event, ngx_posted_events,
    ngx_posted_next_events,
};

pub struct Timer {
    event: Box<ngx_event_t>,
}

impl Timer {
    /// An event that calls `handler` when it fires. It is not cancelable: an exiting worker waits
    /// for it, which is how pending lines get delivered before a reload or quit completes.
    pub fn new(handler: ngx_event_handler_pt, log: *mut ngx_log_t) -> Timer {
        // SAFETY: ngx_event_t is a plain C struct for which all-zero is the documented initial
        // state (nginx itself allocates events with ngx_pcalloc).
        let mut event: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
        event.handler = handler;
        event.log = log;
        event.data = ptr::null_mut();
        Timer { event }
    }

    pub fn is_set(&self) -> bool {
        self.event.timer_set() != 0
    }

    /// Arms the timer unless it is armed already.
    pub fn set_once(&mut self, delay_ms: ngx_msec_t) {
        if !self.is_set() {
            // SAFETY: the boxed event stays at its address until this Timer is dropped, which
            // removes it from the timer tree first.
            unsafe { ngx_add_timer(&mut *self.event, delay_ms) };
        }
    }

    pub fn clear(&mut self) {
        if self.is_set() {
            // SAFETY: the event is in nginx's timer tree.
            unsafe { ngx_del_timer(&mut *self.event) };
        }
    }

    /// Runs the handler later in this event-loop pass (after the current request or event).
    pub fn post(&mut self) {
        if self.event.posted() == 0 {
            // SAFETY: the boxed event stays at its address until dropped, which unposts it;
            // `ngx_posted_events` is this worker's queue.
            unsafe { ngx_post_event(&mut *self.event, ptr::addr_of_mut!(ngx_posted_events)) };
        }
    }
}

impl Timer {
    /// Runs the handler in the next event-loop pass, after the events and timers that are due
    /// now: how a long job yields to the requests waiting behind it.
    pub fn post_next(&mut self) {
        if self.event.posted() == 0 {
            // SAFETY: as in `post`; nginx moves this queue into the posted queue at the start of
            // its next pass and does not sleep while it is non-empty.
            unsafe { ngx_post_event(&mut *self.event, ptr::addr_of_mut!(ngx_posted_next_events)) };
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.clear();
        if self.event.posted() != 0 {
            // SAFETY: the event is in the posted queue.
            unsafe { ngx_delete_posted_event(&mut *self.event) };
        }
    }
}

/// Longest an [`Alarm`] sleeps between checks.
const ALARM_STEP_MS: ngx_msec_t = 1000;

/// A timer for a moment that may be far off (a retry after `Retry-After: 300`, an exchange
/// deadline of minutes, a long flush interval). It is not cancelable, so it keeps an exiting
/// worker alive; it wakes at least once a second, so that a worker told to shut down acts on its
/// own exit deadline instead of waiting out the whole delay.
pub struct Alarm {
    timer: Timer,
    due: Option<ngx_msec_t>,
}

impl Alarm {
    pub fn new(handler: ngx_event_handler_pt, log: *mut ngx_log_t) -> Alarm {
        Alarm {
            timer: Timer::new(handler, log),
            due: None,
        }
    }

    pub fn is_set(&self) -> bool {
        self.due.is_some()
    }

    /// Rings `delay_ms` from now, replacing any earlier setting.
    pub fn set(&mut self, delay_ms: ngx_msec_t) {
        let now = now_ms();
        self.due = Some(now.saturating_add(delay_ms));
        self.timer.clear();
        self.timer.set_once(delay_ms.min(ALARM_STEP_MS));
    }

    pub fn clear(&mut self) {
        self.due = None;
        self.timer.clear();
    }

    /// Called by the handler when the timer fires: whether the moment has come, or `sooner` (an
    /// exit deadline) has; if neither, it sleeps again.
    pub fn ring(&mut self, sooner: Option<ngx_msec_t>) -> bool {
        let Some(due) = self.due else { return false };
        let due = sooner.map_or(due, |s| s.min(due));
        let now = now_ms();
        if now >= due {
            self.due = None;
            return true;
        }
        self.timer.set_once((due - now).min(ALARM_STEP_MS));
        false
    }
}

/// nginx's cached clock, in milliseconds.
pub fn now_ms() -> ngx_msec_t {
    // SAFETY: a plain global written only by this (single-threaded) worker's event loop.
    unsafe { ngx_current_msec }
}

/// Whether this worker is shutting down (`nginx -s quit`, or an old worker after a reload).
pub fn exiting() -> bool {
    // SAFETY: as above.
    unsafe { ngx_exiting != 0 }
}
