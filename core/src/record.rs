//! The normalised page view: everything that may be stored, and nothing else.

use std::borrow::Cow;

use crate::normalise::client::Browser;
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
    /// The browser family, from the request headers; `None` when they said nothing.
    pub browser: Option<Browser>,
    /// The operating system family, from the request headers, or else the beacon's platform;
    /// `None` when neither said anything.
    pub platform: Option<Platform>,
    pub device: Option<Device>,
    /// The site owner's own tags (`analytics_tag`): checked names, sorted, distinct from the
    /// module's own keys and the campaign parameters; values checked by
    /// [`crate::normalise::site_tag::site_tag_value`].
    pub site_tags: Vec<(String, String)>,
    /// Minutes, as `Date.getTimezoneOffset()` reports them (positive west of UTC), rounded to a
    /// multiple of 15.
    pub utc_offset: Option<i32>,
    pub load_ms: Option<u32>,
    pub session_pages: Option<u32>,
}
