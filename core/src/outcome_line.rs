//! The one place that decides what an accepted beacon becomes: its measurement, its line, and the
//! kind of record the status counters count it as. The beacon and pixel handlers, the property
//! tests and the fuzz target all go through [`write_outcome`], so they cannot drift apart.

use crate::line_protocol::{write_event, write_page_view, write_unlisted};
use crate::measurement::Measurement;
use crate::normalise::Outcome;

/// The measurement each kind of record is written to (`analytics_*measurement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurements {
    pub page_view: Measurement,
    pub not_found: Measurement,
    pub event: Measurement,
    /// `None` when `analytics_unlisted_measurement off`: such beacons are counted, not written.
    pub unlisted: Option<Measurement>,
}

impl Default for Measurements {
    fn default() -> Self {
        let name = Measurement::default_name;
        Measurements {
            page_view: name("pageview"),
            not_found: name("notfound"),
            event: name("event"),
            unlisted: Some(name("unlisted_domain")),
        }
    }
}

/// What kind of record an outcome is, for the status counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    PageView,
    NotFound,
    Event,
    Unlisted,
}

/// Appends the line for `outcome` (nothing for an unlisted domain whose measurement is off) and
/// says what kind of record it was.
pub fn write_outcome(
    out: &mut Vec<u8>,
    outcome: &Outcome,
    measurements: &Measurements,
    timestamp_ns: u64,
) -> RecordKind {
    match outcome {
        Outcome::PageView(record) => {
            write_page_view(out, &measurements.page_view, record, timestamp_ns);
            RecordKind::PageView
        }
        Outcome::NotFound(record) => {
            write_page_view(out, &measurements.not_found, record, timestamp_ns);
            RecordKind::NotFound
        }
        Outcome::Event {
            domain,
            page,
            name,
            detail,
        } => {
            write_event(out, &measurements.event, domain, page, name, detail, timestamp_ns);
            RecordKind::Event
        }
        Outcome::Unlisted { domain } => {
            if let Some(unlisted) = &measurements.unlisted {
                write_unlisted(out, unlisted, domain, timestamp_ns);
            }
            RecordKind::Unlisted
        }
    }
}
