//! The visitor's browser, OS and device families, read from the request's `User-Agent` and
//! client hints for the core to reduce to closed vocabularies; the headers themselves go no
//! further.

use analytics_core::normalise::client::{client_families, ClientHeaders, Families};
use nginx_sys::ngx_http_request_t;

use crate::response::request_headers;

/// # Safety
/// `req` must be a valid request.
pub unsafe fn request_families(req: &ngx_http_request_t) -> Families {
    // SAFETY (caller): `user_agent` is null or points to the request's parsed header.
    let user_agent = unsafe { req.headers_in.user_agent.as_ref() }.and_then(|h| h.value.to_str().ok());
    // SAFETY (caller): valid request; one pass over its headers for the three hints.
    let [brands, mobile, platform] =
        unsafe { request_headers(req, ["Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform"]) };
    client_families(&ClientHeaders {
        user_agent,
        brands,
        mobile,
        platform,
    })
}
