//! The cardinality budget: at most N distinct values of each client-controlled tag per domain
//! per period reach storage; the rest are written as [`OVERFLOW_VALUE`], so every hit still
//! counts. See `docs/cardinality.md`.
//!
//! InfluxDB 1.x refuses whole batches once a database reaches `max-series-per-database` or a tag
//! reaches `max-values-per-tag`. Every beacon with a new random page, referrer, campaign value or
//! event name would add a tag value and a series, so an anonymous flood could stop all ingestion.
//!
//! - A new value gets its own tag only when it is seen a second time while the
//!   doorkeeper (`doorkeeper.rs`) still remembers the first sighting: one-shot junk never does.
//! - Each (domain, tag) region then admits at most its budget of values per period, exactly,
//!   across all workers (`admitted_set.rs` says how and why lookups are right).
//! - The whole tag set of a line is budgeted too ([`BudgetedTag::Series`]), bounding products of
//!   admitted values.
//!
//! Everything lives in one table of `AtomicU64` words that the shell maps into nginx shared
//! memory: [`BudgetLayout`] says where, [`Budget`] admits, [`apply_budget`] applies it all to a
//! normalised outcome.

mod admitted_set;
mod apply;
mod config;
mod doorkeeper;
mod fingerprint;
mod layout;
mod table;
mod tag;
#[cfg(test)]
mod tests;

pub use apply::{apply_budget, Overflowed};
pub use config::{Bounds, BudgetConfig};
pub use fingerprint::{new_key, BudgetKey};
pub use layout::{BudgetLayout, MAX_TABLE_BYTES};
pub use table::{Admission, Budget};
pub use tag::BudgetedTag;

/// What replaces a value over its budget. No normalised value can look like it: pages start
/// with `/`, hosts, campaign values and event names have no parentheses.
pub const OVERFLOW_VALUE: &str = "(other)";
