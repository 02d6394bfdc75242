//! The normalised page view: everything that may be stored, and nothing else.

use std::borrow::Cow;

use crate::normalise::platform::{Device, Platform};
use crate::normalise::referrer::Referrer;

#[derive(Debug, Clone, PartialEq, Eq)]
/// Text is borrowed from the beacon body when normalisation left it unchanged.
pub struct Record<'a> {
    /// Lower-case host, on the allow-list.
    pub domain: Cow<'a, str>,
    /// Path only, starting with `/`, scrubbed of identifiers, length-capped.
    pub page: Cow<'a, str>,
    /// Allowed campaign parameters (`utm_source`, ...) and their cleaned (or placeholder) values.
    pub campaign: Vec<(String, String)>,
    pub referrer: Referrer,
    /// The operating system family; `None` when the beacon had no platform.
    pub platform: Option<Platform>,
    pub device: Option<Device>,
    /// Minutes, as `Date.getTimezoneOffset()` reports them (positive west of UTC), rounded to a
    /// multiple of 15.
    pub utc_offset: Option<i32>,
    pub load_ms: Option<u32>,
    pub session_pages: Option<u32>,
}
