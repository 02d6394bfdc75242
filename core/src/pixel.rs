//! The no-JavaScript pixel: a page view described by the `Referer` of an image request.

use std::borrow::Cow;

use crate::beacon::Beacon;

/// The beacon a pixel request stands for: the domain and page (path and query, for the campaign
/// parameters) of the page that shows the image. `None` when the `Referer` is absent or is not an
/// http(s) URL with a host. Nothing else about the request is used.
pub fn beacon_from_referer(referer: Option<&str>) -> Option<Beacon<'static>> {
    let url = url::Url::parse(referer?.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.to_owned();
    let page = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    Some(Beacon {
        domain: Cow::Owned(host),
        page: Cow::Owned(page),
        ..Beacon::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_domain_and_page_from_the_referer() {
        let b = beacon_from_referer(Some("https://user:pw@Example.com:8443/a/b?utm_source=x#f")).unwrap();
        assert_eq!(
            (b.domain.as_ref(), b.page.as_ref()),
            ("example.com", "/a/b?utm_source=x")
        );
        assert_eq!(b.referrer, None);
        assert_eq!(b.platform, None);
    }

    #[test]
    fn refuses_what_is_not_a_web_page() {
        for r in [
            None,
            Some(""),
            Some("not a url"),
            Some("data:text/html,x"),
            Some("file:///etc/passwd"),
        ] {
            assert_eq!(beacon_from_referer(r), None, "{r:?}");
        }
    }
}
