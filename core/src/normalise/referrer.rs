//! Referrer normalisation: where a visit came from, never who came.

use crate::domain_list::DomainList;
use crate::normalise::domain::{host_core, is_ip_literal};
use crate::normalise::page::{clean_path, PathRules};
use crate::normalise::scrub::classify;

/// What is kept of a referrer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Referrer {
    /// No referrer, an unparsable one, or a non-web scheme (`javascript:`, `data:`, …).
    None,
    /// A page of the same site: not recorded at all, so movements within a site cannot be
    /// followed (privacy rule 4).
    SameSite,
    /// Another site: its host, and scheme + host + the first [`REFERRER_PATH_SEGMENTS`] segments
    /// of its path, scrubbed like a page (no userinfo, port, query or fragment).
    External { domain: String, url: String },
}

/// `site` is the beacon's own (normalised) domain; every host of the allow-list counts as the same
/// site too, since `example.com` and `www.example.com` are one site to its owner.
pub fn normalise_referrer(raw: Option<&str>, site: &str, allowed: &DomainList) -> Referrer {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Referrer::None;
    };
    match simple_web_url(raw) {
        Some(parts) => keep_external(parts, site, allowed),
        None => {
            let Ok(url) = url::Url::parse(raw) else {
                return Referrer::None;
            };
            keep_external(
                (url.scheme(), url.host_str().unwrap_or(""), url.path()),
                site,
                allowed,
            )
        }
    }
}

/// Segments of a referrer's path that are kept: enough for the section of a site a visit came
/// from (`/r/rust`, `/owner/repo`, `/questions/:id`), not enough to name a visitor's own page deep
/// inside a web-mail or account area (`/u/0/bob@example.com/inbox/…`).
pub const REFERRER_PATH_SEGMENTS: usize = 2;

fn keep_external((scheme, host, path): (&str, &str, &str), site: &str, allowed: &DomainList) -> Referrer {
    if !matches!(scheme, "http" | "https") {
        return Referrer::None;
    }
    let Some(core) = host_core(host) else {
        return Referrer::None;
    };
    let host = core.to_ascii_lowercase();
    // An address, not a site: `referrer_domain` would record where a visitor's own machine or
    // network is. Identifiers in a host name (`4915123456789.example.org`) drop it too.
    if is_ip_literal(&host) {
        return Referrer::None;
    }
    if host == site || allowed.contains(&host) {
        return Referrer::SameSite;
    }
    if classify(core).is_some() {
        return Referrer::None;
    }
    let path = clean_path(
        path,
        PathRules {
            strip_trailing_slash: false,
            max_segments: REFERRER_PATH_SEGMENTS,
        },
    );
    let mut kept = String::with_capacity(scheme.len() + 3 + host.len() + path.len());
    kept.push_str(scheme);
    kept.push_str("://");
    kept.push_str(&host);
    kept.push_str(&path);
    Referrer::External {
        domain: host,
        url: kept,
    }
}

/// Splits the common case, a plain `http(s)://host[:port]/path[?query][#fragment]`, into scheme,
/// host and path without a full URL parser, but only when the WHATWG parser (the `url` crate) would
/// give exactly the same three parts: anything unusual (userinfo, IP-like or IDN hosts, dot
/// segments, characters the parser would encode, a port out of range) returns `None` and goes to
/// the `url` crate. A property test holds the two to agreement.
fn simple_web_url(raw: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = if let Some(rest) = raw.strip_prefix("https://") {
        ("https", rest)
    } else {
        ("http", raw.strip_prefix("http://")?)
    };
    let authority_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // Byte scans rather than `str` splitting by a char, which costs several times as much on
    // every beacon: every separator looked for is ASCII, which no byte of a multi-byte UTF-8
    // character can be, and every label is checked to be ASCII before its prefix is looked at.
    let host = match authority.bytes().position(|b| b == b':') {
        Some(colon) => {
            let port = &authority[colon + 1..];
            let valid_port = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
            if !valid_port || port.parse::<u32>().ok()? > 65535 {
                return None;
            }
            &authority[..colon]
        }
        None => authority,
    };
    let labels = || host.as_bytes().split(|&b| b == b'.');
    let plain_host = !host.is_empty()
        && labels().all(|label| {
            !label.is_empty()
                && label.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
        })
        && labels().next_back().is_some_and(|last| {
            !last.iter().all(u8::is_ascii_digit)
                && !last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"0x"))
        });
    if !plain_host {
        return None;
    }
    let path = match tail.strip_prefix('/') {
        Some(_) => {
            &tail[..tail
                .bytes()
                .position(|b| b == b'?' || b == b'#')
                .unwrap_or(tail.len())]
        }
        None => "/",
    };
    let plain_path = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b))
        && !path
            .as_bytes()
            .split(|&b| b == b'/')
            .any(|segment| segment == b"." || segment == b"..")
        && !contains_encoded_dot(path);
    plain_path.then_some((scheme, host, path))
}

/// Whether `path` holds `%2e` in either case (an encoded dot, which the URL parser may fold into
/// a dot segment); a byte scan, without lower-casing a copy of the path per beacon.
fn contains_encoded_dot(path: &str) -> bool {
    path.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'2' && w[2].eq_ignore_ascii_case(&b'e'))
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
    fn the_simple_path_agrees_with_the_url_crate() {
        for raw in [
            "https://news.example.org/a/b?q=1#f",
            "http://Example.ORG:8080",
            "https://x.org?q",
            "https://x.org#f",
            "https://a-b.c-d.org/~x/(y)/a,b;c=d:e@f%20g",
        ] {
            let url = url::Url::parse(raw).unwrap();
            let (scheme, host, path) = simple_web_url(raw).unwrap();
            // Host case does not matter: normalise_host lower-cases either way.
            assert_eq!(
                (scheme, host.to_ascii_lowercase().as_str(), path),
                (url.scheme(), url.host_str().unwrap(), url.path()),
                "{raw}"
            );
        }
        for raw in [
            "https://user@x.org/",
            "https://1.2.3.4/",
            "https://x.0x7f/",
            "https://xn--bcher-kva.de/",
            "https://x.org/a/../b",
            "https://x.org/%2e%2E/b",
            "https://x.org:99999/",
            "https://x.org:/",
            "https://x..org/",
            "https://x.org./",
            "https://x.org/a b",
            "https://x.org/a\\b",
            "HTTPS://x.org/",
            "https://[::1]/",
        ] {
            assert_eq!(simple_web_url(raw), None, "{raw}");
        }
    }

    /// The version before the byte scans, kept as the oracle of the current one.
    fn simple_web_url_before(raw: &str) -> Option<(&str, &str, &str)> {
        let (scheme, rest) = if let Some(rest) = raw.strip_prefix("https://") {
            ("https", rest)
        } else {
            ("http", raw.strip_prefix("http://")?)
        };
        let authority_end = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let host = match authority.split_once(':') {
            Some((host, port)) => {
                let valid_port =
                    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
                if !valid_port || port.parse::<u32>().ok()? > 65535 {
                    return None;
                }
                host
            }
            None => authority,
        };
        let plain_host = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
            })
            && host.rsplit('.').next().is_some_and(|last| {
                !last.bytes().all(|b| b.is_ascii_digit())
                    && !last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"))
            });
        if !plain_host {
            return None;
        }
        let path = match tail.strip_prefix('/') {
            Some(_) => {
                &tail[..tail
                    .bytes()
                    .position(|b| b == b'?' || b == b'#')
                    .unwrap_or(tail.len())]
            }
            None => "/",
        };
        let plain_path = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b))
            && !path.split('/').any(|segment| segment == "." || segment == "..")
            && !contains_encoded_dot(path);
        plain_path.then_some((scheme, host, path))
    }

    proptest::proptest! {
        #[test]
        fn the_simple_path_agrees_with_its_previous_version(
            raw in proptest::prop_oneof![
                "(https?://)?[a-zA-Z0-9.:@\\[\\]-]{0,20}(/[a-zA-Z0-9.%~!$&'()*+,;=:@ <>^|\\\\-]{0,12}){0,4}([?#][a-z/=&.]{0,8})?",
                "https?://([a-zA-Z0-9-]{0,5}[.]){0,4}(xn--|XN--|0x|0X)?[a-zA-Z0-9-]{0,5}(:[0-9]{0,6})?(/[.]{0,3}|/%2[eE]|/[a-z]{0,3}){0,4}",
                "https?://\\PC{0,20}",
            ]
        ) {
            proptest::prop_assert_eq!(simple_web_url(&raw), simple_web_url_before(&raw));
        }
    }

    proptest::proptest! {
        #[test]
        fn the_simple_path_never_disagrees_with_the_url_crate(
            raw in "(https?://)?[a-zA-Z0-9.:@\\[\\]-]{0,20}(/[a-zA-Z0-9.%~!$&'()*+,;=:@ <>^|\\\\-]{0,12}){0,4}([?#][a-z/=&.]{0,8})?"
        ) {
            if let Some((scheme, host, path)) = simple_web_url(&raw) {
                let url = url::Url::parse(&raw).expect("the url crate parses what the simple path accepts");
                let host = host.to_ascii_lowercase();
                proptest::prop_assert_eq!((scheme, host.as_str(), path), (url.scheme(), url.host_str().unwrap_or(""), url.path()));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_encoded_dot_scan_agrees_with_lower_casing(path in "[%2eE/a.-]{0,12}|\\PC{0,12}") {
            proptest::prop_assert_eq!(
                contains_encoded_dot(&path),
                path.to_ascii_lowercase().contains("%2e")
            );
        }
    }

    #[test]
    fn caps_the_kept_path() {
        let long = format!("https://o.org/{}", "x".repeat(1000));
        let Referrer::External { url, .. } = referrer(&long) else {
            panic!()
        };
        assert!(url.len() <= "https://o.org".len() + crate::normalise::page::MAX_PAGE_LEN);
    }

    fn url_of(raw: &str) -> String {
        match referrer(raw) {
            Referrer::External { url, .. } => url,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn keeps_two_scrubbed_segments_of_the_path() {
        for (raw, kept) in [
            (
                "https://news.ycombinator.com/item?id=1",
                "https://news.ycombinator.com/item",
            ),
            (
                "https://www.reddit.com/r/rust/comments/abc/title/",
                "https://www.reddit.com/r/rust",
            ),
            ("https://o.org/a/", "https://o.org/a/"),
            (
                "https://mail.other.org/u/0/bob@example.com/inbox/FMfcgz",
                "https://mail.other.org/u/0",
            ),
            ("https://o.org/u/bob@example.com/x", "https://o.org/u/:email"),
            ("https://o.org/u/bob%40example.com", "https://o.org/u/:email"),
            ("https://o.org/order/123456789012", "https://o.org/order/:id"),
            ("https://o.org/cart;jsessionid=ABC/x", "https://o.org/cart/x"),
            ("https://o.org/%E2%80%8Bx", "https://o.org/x"),
        ] {
            assert_eq!(url_of(raw), kept, "{raw}");
        }
    }

    #[test]
    fn drops_referrers_from_ip_addresses_in_any_spelling() {
        for raw in [
            "https://192.168.1.1/x",
            "http://3232235777/",
            "http://0xC0A80101/",
            "http://0300.0250.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "https://[2001:db8::1]/x",
            "https://[::ffff:192.168.1.1]/",
            "http://1.2.3.4:8080/a",
        ] {
            assert_eq!(referrer(raw), Referrer::None, "{raw}");
        }
    }

    #[test]
    fn drops_referrers_whose_host_holds_an_identifier() {
        for raw in [
            "https://4915123456789.example.org/",
            "https://123e4567-e89b-12d3-a456-426614174000.o.org/",
        ] {
            assert_eq!(referrer(raw), Referrer::None, "{raw}");
        }
    }
}
