//! The pure core of the analytics module: everything that turns a beacon body into a line of
//! InfluxDB line protocol, and the bookkeeping of lines waiting for a sink.
//!
//! Data flows one way: body → [`beacon::Beacon`] (typed, range-checked) →
//! [`normalise::normalise`] (privacy rules) → [`record::Record`] → [`line_protocol`] → line →
//! [`pending::PendingLines`] (bounded batch) → sink (in the nginx shell).
//!
//! Nothing here knows about nginx, and nothing here is `unsafe`.
#![forbid(unsafe_code)]

pub mod agent_features;
pub mod aggregate;
pub mod beacon;
pub mod bots;
pub mod budget;
pub mod cors;
pub mod dashboard;
pub mod delivery;
pub mod domain_list;
pub mod http;
pub mod line_protocol;
pub mod log_excerpt;
pub mod measurement;
pub mod normalise;
pub mod outcome_line;
pub mod pending;
pub mod pixel;
pub mod policy;
pub mod record;
pub mod representation;
pub mod sink_address;
pub mod timestamp_precision;
pub mod unique_clock;
pub mod upstream_choice;

pub use beacon::{Beacon, BeaconError, BeaconKind};
pub use domain_list::DomainList;
pub use measurement::Measurement;
pub use normalise::{normalise, normalise_for_client, Outcome};
pub use policy::Policy;
pub use record::Record;
