//! The visitor's browser, OS and device families, read from the request's `User-Agent` and
//! client hints for the core to reduce to closed vocabularies; the headers themselves go no
//! further.

use analytics_core::normalise::client::{families_with_agent, ClientHeaders, Families};

use crate::agent_memory::user_agent_families;
use crate::visitor_headers::VisitorHeaders;

/// The families named by the headers gathered in the handler's one pass over them; what the
/// `User-Agent` says comes from this worker's memory of recent headers.
pub fn request_families(visitor: &VisitorHeaders<'_>) -> Families {
    let headers = ClientHeaders {
        user_agent: visitor.user_agent,
        brands: visitor.hint_brands,
        mobile: visitor.hint_mobile,
        platform: visitor.hint_platform,
    };
    families_with_agent(&headers, user_agent_families(visitor.user_agent))
}
