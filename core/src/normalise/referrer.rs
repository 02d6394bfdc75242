//! Referrer normalisation: where a visit came from, never who came.

use crate::domain_list::DomainList;
use crate::normalise::domain::normalise_host;
use crate::normalise::page::MAX_PAGE_LEN;

/// What is kept of a referrer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Referrer {
    /// No referrer, an unparsable one, or a non-web scheme (`javascript:`, `data:`, …).
    None,
    /// A page of the same site: not recorded at all, so movements within a site cannot be
    /// followed (privacy rule 4).
    SameSite,
    /// Another site: its host, and scheme + host + path (no userinfo, port, query or fragment).
    External { domain: String, url: String },
}

/// `site` is the beacon's own (normalised) domain; every host of the allow-list counts as the same
/// site too, since `example.com` and `www.example.com` are one site to its owner.
pub fn normalise_referrer(raw: Option<&str>, site: &str, allowed: &DomainList) -> Referrer {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Referrer::None;
    };
    let Ok(url) = url::Url::parse(raw) else {
        return Referrer::None;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Referrer::None;
    }
    let Some(host) = url.host_str().and_then(normalise_host) else {
        return Referrer::None;
    };
    if host == site || allowed.contains(&host) {
        return Referrer::SameSite;
    }
    let mut kept = format!("{}://{}", url.scheme(), host);
    for c in url.path().chars().filter(|c| !c.is_control()) {
        if kept.len() + c.len_utf8() > host.len() + 8 + MAX_PAGE_LEN {
            break;
        }
        kept.push(c);
    }
    Referrer::External {
        domain: host,
        url: kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referrer(raw: &str) -> Referrer {
        let allowed = DomainList::parse(["example.com", "www.example.com"]).unwrap();
        normalise_referrer(Some(raw), "example.com", &allowed)
    }

    #[test]
    fn keeps_scheme_host_and_path_of_external_referrers() {
        assert_eq!(
            referrer("https://User:Secret@News.Example.org:8443/a/b?utm=1&email=x@y.z#frag"),
            Referrer::External {
                domain: "news.example.org".into(),
                url: "https://news.example.org/a/b".into()
            }
        );
        assert_eq!(
            referrer("http://other.net"),
            Referrer::External {
                domain: "other.net".into(),
                url: "http://other.net/".into()
            }
        );
    }

    #[test]
    fn drops_same_site_referrers() {
        assert_eq!(referrer("https://example.com/prev"), Referrer::SameSite);
        assert_eq!(referrer("https://WWW.example.com./x?y"), Referrer::SameSite);
    }

    #[test]
    fn drops_unparsable_and_non_web_referrers() {
        for raw in [
            "not a url",
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://example.org/x",
            "file:///etc/passwd",
            "https://[::1]/x",
            "",
            "   ",
        ] {
            assert_eq!(referrer(raw), Referrer::None, "{raw:?}");
        }
        let allowed = DomainList::default();
        assert_eq!(normalise_referrer(None, "a", &allowed), Referrer::None);
    }

    #[test]
    fn caps_the_kept_path() {
        let long = format!("https://o.org/{}", "x".repeat(1000));
        let Referrer::External { url, .. } = referrer(&long) else {
            panic!()
        };
        assert!(url.len() <= "https://o.org".len() + MAX_PAGE_LEN);
    }
}
