//! Page normalisation: a path with as few spellings as possible, and nothing from the query string
//! but the campaign parameters the site allows (see [`super::campaign`]).

use std::borrow::Cow;

/// Longest page path kept, in bytes; longer paths are cut (at a character boundary) so that
/// hostile input cannot create unbounded tag values.
pub const MAX_PAGE_LEN: usize = 256;

/// Splits what the browser sent (a path with an optional query string, or a full URL such as
/// `location.href`) into its path and its query string. The fragment is dropped.
pub fn split_page(raw: &str) -> (Cow<'_, str>, Option<Cow<'_, str>>) {
    let raw = raw.trim();
    if raw.contains("://") {
        if let Some(url) = url::Url::parse(raw).ok().filter(|u| u.has_host()) {
            return (
                Cow::Owned(url.path().to_owned()),
                url.query().map(|q| Cow::Owned(q.to_owned())),
            );
        }
    }
    let without_fragment = &raw[..raw.bytes().position(|b| b == b'#').unwrap_or(raw.len())];
    match without_fragment.split_once('?') {
        Some((path, query)) => (Cow::Borrowed(path), Some(Cow::Borrowed(query))),
        None => (Cow::Borrowed(without_fragment), None),
    }
}

/// Normalises a path so that one page has one spelling: control characters removed, a leading
/// `/`, runs of `/` collapsed, percent-encoding made canonical (unreserved characters decoded, hex
/// digits upper-case, a stray `%` encoded), a trailing `/` removed when `strip_trailing_slash`,
/// and the length capped. Query strings and fragments never get here.
pub fn normalise_path(path: &str, strip_trailing_slash: bool) -> Cow<'_, str> {
    let bytes = path.as_bytes();
    let plain = bytes.first() == Some(&b'/')
        && bytes.len() <= MAX_PAGE_LEN
        && bytes
            .iter()
            .all(|&b| b > b' ' && !matches!(b, b'%' | b'?' | b'#' | 0x7f | 0xc2))
        && !bytes.windows(2).any(|pair| pair == b"//")
        && !(strip_trailing_slash && bytes.len() > 1 && bytes.ends_with(b"/"));
    if plain {
        return Cow::Borrowed(path);
    }
    let mut page = String::with_capacity(path.len().min(MAX_PAGE_LEN) + 1);
    page.push('/');
    let mut rest = path;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let piece: Cow<str> = match c {
            c if c.is_control() => continue,
            '/' if page.ends_with('/') => continue,
            '%' => {
                let hex = rest.get(..2).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
                match hex.map(|h| u8::from_str_radix(h, 16).expect("two hex digits")) {
                    Some(byte) => {
                        rest = &rest[2..];
                        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                            Cow::Owned((byte as char).to_string())
                        } else {
                            Cow::Owned(format!("%{byte:02X}"))
                        }
                    }
                    None => Cow::Borrowed("%25"),
                }
            }
            c => Cow::Owned(c.to_string()),
        };
        if page.len() + piece.len() > MAX_PAGE_LEN {
            break;
        }
        page.push_str(&piece);
    }
    if strip_trailing_slash && page.len() > 1 && page.ends_with('/') {
        page.pop();
    }
    Cow::Owned(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(raw: &str) -> String {
        normalise_path(&split_page(raw).0, true).into_owned()
    }

    #[test]
    fn keeps_the_path_only() {
        assert_eq!(page("/blog/x?token=secret#top"), "/blog/x");
        assert_eq!(page("/a#b?c"), "/a");
        assert_eq!(page("/?q=1"), "/");
        assert_eq!(page("https://user:pw@example.com:8443/p/q?x=1#f"), "/p/q");
        assert_eq!(page("http://example.com"), "/");
    }

    #[test]
    fn splits_off_the_query_string() {
        assert_eq!(
            split_page("/a?utm_source=x&b=2#f"),
            (Cow::Borrowed("/a"), Some(Cow::Borrowed("utm_source=x&b=2")))
        );
        assert_eq!(split_page("https://e.com/a?x=1").1.as_deref(), Some("x=1"));
        assert_eq!(split_page("/a#f?x=1").1, None);
    }

    #[test]
    fn guarantees_a_leading_slash_and_no_control_characters() {
        assert_eq!(page(""), "/");
        assert_eq!(page("blog"), "/blog");
        assert_eq!(page("/a\nb\r\tc\u{0}\u{85}"), "/abc");
    }

    #[test]
    fn one_page_has_one_spelling() {
        assert_eq!(page("/blog/"), "/blog");
        assert_eq!(page("//blog///x//"), "/blog/x");
        assert_eq!(page("/%62%6C%6fg"), "/blog");
        assert_eq!(page("/a%2fb%c3%a9"), "/a%2Fb%C3%A9");
        assert_eq!(page("/100%"), "/100%25");
        assert_eq!(page("/%zz"), "/%25zz");
        assert_eq!(page("/caf\u{e9}"), "/caf\u{e9}");
        assert_eq!(normalise_path("/blog/", false), "/blog/");
        assert_eq!(page("/"), "/");
    }

    #[test]
    fn caps_length_at_a_character_boundary() {
        let long = format!("/{}", "é".repeat(300));
        let page = page(&long);
        assert!(page.len() <= MAX_PAGE_LEN);
        assert!(page.starts_with("/é"));
    }

    #[test]
    fn plain_paths_are_borrowed() {
        assert!(matches!(normalise_path("/blog/x", true), Cow::Borrowed(_)));
    }
}
