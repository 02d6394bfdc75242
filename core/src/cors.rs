//! CORS: which `Origin`s may post beacons from scripts that use `fetch`.

use crate::domain_list::DomainList;
use crate::normalise::domain::normalise_host;

/// An origin (`scheme://host[:port]`) is allowed when it is http(s) and its host is on the
/// allow-list. `sendBeacon` with a `text/plain` body needs no preflight; this serves `fetch`.
pub fn origin_is_allowed(origin: &str, allowed: &DomainList) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") || rest.contains(['/', '@', '?', '#']) {
        return false;
    }
    normalise_host(rest).is_some_and(|host| allowed.contains(&host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_listed_origins_only() {
        let list = DomainList::parse(["example.com"]).unwrap();
        assert!(origin_is_allowed("https://example.com", &list));
        assert!(origin_is_allowed("http://EXAMPLE.com:8080", &list));
        for bad in [
            "https://evil.org",
            "null",
            "https://example.com.evil.org",
            "https://x@example.com",
            "ftp://example.com",
            "https://example.com/",
        ] {
            assert!(!origin_is_allowed(bad, &list), "{bad}");
        }
    }
}
