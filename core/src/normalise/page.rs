//! Page normalisation: the path only.

use std::borrow::Cow;

/// Longest page path kept, in bytes; longer paths are cut (at a character boundary) so that
/// hostile input cannot create unbounded tag values.
pub const MAX_PAGE_LEN: usize = 256;

/// Keeps the path of a page: query string and fragment removed (they carry tokens, e-mail
/// addresses and session ids), control characters removed, a leading `/` guaranteed, length
/// capped. A full URL (`location.href`) is reduced to its path.
pub fn normalise_page(raw: &str) -> Cow<'_, str> {
    let raw = raw.trim();
    let plain = raw.starts_with('/')
        && raw.len() <= MAX_PAGE_LEN
        && raw
            .bytes()
            .all(|b| b >= b' ' && !matches!(b, b'?' | b'#' | 0x7f | 0xc2));
    if plain {
        return Cow::Borrowed(raw);
    }
    let full_url = if raw.contains("://") {
        url::Url::parse(raw).ok().filter(|u| u.has_host())
    } else {
        None
    };
    let path = match &full_url {
        Some(url) => url.path(),
        None => {
            &raw[..raw
                .bytes()
                .position(|b| b == b'?' || b == b'#')
                .unwrap_or(raw.len())]
        }
    };
    let mut page = String::with_capacity(path.len().min(MAX_PAGE_LEN) + 1);
    if !path.starts_with('/') {
        page.push('/');
    }
    for c in path.chars().filter(|c| !c.is_control()) {
        if page.len() + c.len_utf8() > MAX_PAGE_LEN {
            break;
        }
        page.push(c);
    }
    Cow::Owned(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_query_and_fragment() {
        assert_eq!(normalise_page("/blog/x?token=secret#top"), "/blog/x");
        assert_eq!(normalise_page("/a#b?c"), "/a");
        assert_eq!(normalise_page("/?q=1"), "/");
    }

    #[test]
    fn reduces_full_urls_to_their_path() {
        assert_eq!(
            normalise_page("https://user:pw@example.com:8443/p/q?x=1#f"),
            "/p/q"
        );
        assert_eq!(normalise_page("http://example.com"), "/");
    }

    #[test]
    fn guarantees_a_leading_slash_and_no_control_characters() {
        assert_eq!(normalise_page(""), "/");
        assert_eq!(normalise_page("blog"), "/blog");
        assert_eq!(normalise_page("/a\nb\r\tc\u{0}"), "/abc");
    }

    #[test]
    fn caps_length_at_a_character_boundary() {
        let long = format!("/{}", "é".repeat(300));
        let page = normalise_page(&long);
        assert!(page.len() <= MAX_PAGE_LEN);
        assert!(page.starts_with("/é"));
    }
}
