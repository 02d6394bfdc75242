//! The normalised page view: everything that may be stored, and nothing else.

use crate::normalise::platform::Device;
use crate::normalise::referrer::Referrer;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Lower-case host, on the allow-list.
    pub domain: String,
    /// Path only, starting with `/`, length-capped.
    pub page: String,
    pub referrer: Referrer,
    pub platform: Option<String>,
    pub device: Option<Device>,
    /// Minutes, as `Date.getTimezoneOffset()` reports them (positive west of UTC).
    pub utc_offset: Option<i32>,
    pub load_ms: Option<u32>,
    pub session_pages: Option<u32>,
}
