//! The request headers the module reads about a visitor, gathered in one pass over nginx's list
//! of request headers. A header the module needs gets a field here and an arm in [`collect`]'s
//! match: a handler never scans the list itself, so a beacon costs one pass however many headers
//! are read.

use nginx_sys::{ngx_http_request_t, ngx_table_elt_t};

/// The first value of each header (if valid UTF-8), borrowed from the request.
#[derive(Default)]
pub struct VisitorHeaders<'r> {
    /// Parsed by nginx itself (`headers_in.user_agent`), so not looked for in the pass.
    pub user_agent: Option<&'r str>,
    pub origin: Option<&'r str>,
    /// `DNT` (Do Not Track).
    pub dnt: Option<&'r str>,
    /// `Sec-GPC` (Global Privacy Control).
    pub sec_gpc: Option<&'r str>,
}

impl<'r> VisitorHeaders<'r> {
    /// Whether the visitor asks not to be tracked (`DNT: 1` or `Sec-GPC: 1`).
    pub fn asks_not_to_be_tracked(&self) -> bool {
        let one = |value: Option<&str>| value.is_some_and(|v| v.trim() == "1");
        one(self.dnt) || one(self.sec_gpc)
    }
}

/// # Safety
/// `r` must be a valid request; the result must not outlive it.
pub unsafe fn collect(r: &ngx_http_request_t) -> VisitorHeaders<'_> {
    // SAFETY (caller): `user_agent` is null or points to the request's parsed header.
    let user_agent = unsafe { r.headers_in.user_agent.as_ref() }.and_then(|h| h.value.to_str().ok());
    let mut found = VisitorHeaders {
        user_agent,
        ..VisitorHeaders::default()
    };
    // One bit per header: the first of each name counts, even when its value is not UTF-8.
    let mut seen = 0u8;
    // SAFETY (caller): the request's header list is valid for its lifetime.
    let mut part = &r.headers_in.headers.part;
    loop {
        let elts = if part.nelts == 0 {
            &[][..]
        } else {
            // SAFETY: a part with elements holds `nelts` initialised ones at `elts`.
            unsafe { std::slice::from_raw_parts(part.elts.cast::<ngx_table_elt_t>(), part.nelts) }
        };
        for h in elts {
            let key = h.key.as_bytes();
            // The length first: most headers are ruled out without reading their name.
            let (bit, slot) = match key.len() {
                3 if key.eq_ignore_ascii_case(b"DNT") => (1, &mut found.dnt),
                6 if key.eq_ignore_ascii_case(b"Origin") => (2, &mut found.origin),
                7 if key.eq_ignore_ascii_case(b"Sec-GPC") => (4, &mut found.sec_gpc),
                _ => continue,
            };
            if seen & bit == 0 {
                seen |= bit;
                *slot = h.value.to_str().ok();
            }
        }
        // SAFETY: `next` is null or the next valid part.
        match unsafe { part.next.as_ref() } {
            Some(next) => part = next,
            None => return found,
        }
    }
}
