//! The domain allow-list: the sites whose beacons are written to the real measurement.

use crate::normalise::domain::{is_ip_literal, normalise_host};

/// Exact, case-insensitive host names. Matching is done on normalised hosts (lower case, no port,
/// no trailing dot), so `Example.COM.` and `example.com:443` both match `example.com`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainList {
    hosts: Vec<String>,
}

impl DomainList {
    /// Builds the list from configuration words, refusing anything that is not a host name so
    /// that a typo is caught by `nginx -t` rather than silently never matching.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<DomainList, String> {
        let mut hosts = Vec::new();
        for name in names {
            let host = normalise_host(name).ok_or_else(|| format!("\"{name}\" is not a valid host name"))?;
            // Beacons naming an IP address are refused (see `normalise`): listing one would
            // never match, and would record addresses as sites if it did.
            if is_ip_literal(&host) {
                return Err(format!("\"{name}\" is an IP address: list host names"));
            }
            if !hosts.iter().any(|h| *h == host) {
                hosts.push(host.into_owned());
            }
        }
        Ok(DomainList { hosts })
    }

    /// `host` must already be normalised.
    pub fn contains(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host)
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_exact_hosts_case_insensitively() {
        let list = DomainList::parse(["Example.com", "www.example.com."]).unwrap();
        assert!(list.contains("example.com"));
        assert!(list.contains("www.example.com"));
        assert!(!list.contains("example.com.evil.org"));
        assert!(!list.contains("evil-example.com"));
        assert!(!list.contains("sub.example.com"));
    }

    #[test]
    fn refuses_words_that_are_not_hosts() {
        assert!(DomainList::parse(["exa mple.com"]).is_err());
        assert!(DomainList::parse(["http://example.com"]).is_err());
        assert!(DomainList::parse([""]).is_err());
        for ip in ["127.0.0.1", "10.1", "3232235777", "0x7f.0.0.1"] {
            assert!(DomainList::parse([ip]).is_err(), "{ip}");
        }
    }
}
