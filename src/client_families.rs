//! The visitor's browser, OS and device families, read from the request's `User-Agent` and
//! client hints for the core to reduce to closed vocabularies; the headers themselves go no
//! further.

use analytics_core::normalise::client::{client_families, ClientHeaders, Families};

use crate::visitor_headers::VisitorHeaders;

/// The families named by the headers gathered in the handler's one pass over them.
pub fn request_families(visitor: &VisitorHeaders<'_>) -> Families {
    client_families(&ClientHeaders {
        user_agent: visitor.user_agent,
        brands: visitor.hint_brands,
        mobile: visitor.hint_mobile,
        platform: visitor.hint_platform,
    })
}
