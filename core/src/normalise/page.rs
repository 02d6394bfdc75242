//! Page normalisation: a path with as few spellings as possible, and nothing from the query string
//! but the campaign parameters the site allows (see [`super::campaign`]).

use std::borrow::Cow;

use crate::normalise::scrub::percent::literal_in_segment;
use crate::normalise::scrub::{classify, scrub_segment};

/// Longest page path kept, in bytes; longer paths are cut (at a character boundary) so that
/// hostile input cannot create unbounded tag values.
pub const MAX_PAGE_LEN: usize = 256;

/// Splits what the browser sent (a path with an optional query string, or a full URL such as
/// `location.href`) into its path and its query string. The fragment is dropped.
pub fn split_page(raw: &str) -> (Cow<'_, str>, Option<Cow<'_, str>>) {
    let raw = raw.trim();
    // A byte scan: a substring search sets up its searcher on every beacon's page.
    if raw.as_bytes().windows(3).any(|w| w == b"://") {
        if let Some(url) = url::Url::parse(raw).ok().filter(|u| u.has_host()) {
            return (
                Cow::Owned(url.path().to_owned()),
                url.query().map(|q| Cow::Owned(q.to_owned())),
            );
        }
    }
    let without_fragment = &raw[..raw.bytes().position(|b| b == b'#').unwrap_or(raw.len())];
    match without_fragment.bytes().position(|b| b == b'?') {
        Some(mark) => (
            Cow::Borrowed(&without_fragment[..mark]),
            Some(Cow::Borrowed(&without_fragment[mark + 1..])),
        ),
        None => (Cow::Borrowed(without_fragment), None),
    }
}

/// Normalises a path so that one page has one spelling and names no one: a leading `/`, empty
/// segments (runs of `/`) dropped, each segment scrubbed by [`scrub_segment`] (percent-encoding
/// made canonical, path parameters and invisible characters dropped, identifiers replaced by
/// placeholders), a trailing `/` removed when `strip_trailing_slash`, and the length capped.
/// Query strings and fragments never get here.
pub fn normalise_path(path: &str, strip_trailing_slash: bool) -> Cow<'_, str> {
    clean_path(
        path,
        PathRules {
            strip_trailing_slash,
            max_segments: usize::MAX,
        },
    )
}

/// How a path is cut down.
#[derive(Debug, Clone, Copy)]
pub struct PathRules {
    pub strip_trailing_slash: bool,
    /// Segments kept; the rest of the path is dropped.
    pub max_segments: usize,
}

/// [`normalise_path`] with a limit on the number of segments. Borrowed when `path` is already in
/// its stored form, which is the common case for what browsers send.
pub fn clean_path(path: &str, rules: PathRules) -> Cow<'_, str> {
    if is_clean(path, rules) {
        return Cow::Borrowed(path);
    }
    let mut page = String::with_capacity(path.len().min(MAX_PAGE_LEN) + 1);
    page.push('/');
    let mut kept_segments = 0;
    // Whether a `/` followed the last kept segment (for a kept trailing slash).
    let mut slash_after = false;
    for (i, raw) in path.split('/').enumerate() {
        slash_after |= i > 0;
        if raw.is_empty() {
            continue;
        }
        let segment = scrub_segment(raw);
        if segment.is_empty() {
            continue;
        }
        let separator = usize::from(page.len() > 1);
        if kept_segments == rules.max_segments || page.len() + separator >= MAX_PAGE_LEN {
            slash_after = false;
            break;
        }
        if separator == 1 {
            page.push('/');
        }
        let room = MAX_PAGE_LEN - page.len();
        if segment.len() > room {
            page.push_str(&segment[..cut_point(&segment, room)]);
            slash_after = false;
            break;
        }
        page.push_str(&segment);
        kept_segments += 1;
        slash_after = false;
    }
    if slash_after && !rules.strip_trailing_slash && page.len() > 1 && page.len() < MAX_PAGE_LEN {
        page.push('/');
    }
    Cow::Owned(page)
}

/// Where to cut `segment` (canonical: ASCII, every `%` starting an escape) to fit in `room` bytes:
/// where an encoded character starts, so that neither an escape nor the UTF-8 bytes of one
/// character are split.
fn cut_point(segment: &str, room: usize) -> usize {
    let bytes = segment.as_bytes();
    let mut cut = 0;
    let mut at = 0;
    while at < bytes.len() && at <= room {
        let (len, continues_a_character) = match (bytes[at], bytes.get(at + 1..at + 3)) {
            (b'%', Some(hex)) => {
                let byte = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                (3, byte.is_some_and(|b| (0x80..0xc0).contains(&b)))
            }
            _ => (1, false),
        };
        if !continues_a_character {
            cut = at;
        }
        at += len;
    }
    if at <= room {
        cut = at;
    }
    // Never inside a character of the (ASCII) text itself.
    while !segment.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// Whether `path` is already what [`clean_path`] would make of it: only canonical bytes, no empty
/// segment, no unwanted trailing slash, short enough, and no segment holding an identifier.
fn is_clean(path: &str, rules: PathRules) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/')
        || bytes.len() > MAX_PAGE_LEN
        || (bytes.len() > 1 && bytes.ends_with(b"/") && rules.strip_trailing_slash)
        || !bytes.iter().all(|&b| b == b'/' || literal_in_segment(b))
    {
        return false;
    }
    let trailing = usize::from(bytes.len() > 1 && bytes.ends_with(b"/"));
    let body = &path[1..path.len() - trailing];
    if body.is_empty() {
        // `/` is clean, `//` is not.
        return bytes.len() == 1;
    }
    // `body` is ASCII (checked above), so its segments are cut at the `/` bytes, without a
    // char searcher.
    let mut segments = 0;
    let mut rest = body;
    loop {
        let end = rest.bytes().position(|b| b == b'/').unwrap_or(rest.len());
        let segment = &rest[..end];
        segments += 1;
        if segment.is_empty() || segments > rules.max_segments || classify(segment).is_some() {
            return false;
        }
        if end == rest.len() {
            return true;
        }
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The versions before the byte scans, kept as the oracles of the current ones.
    fn split_page_before(raw: &str) -> (Cow<'_, str>, Option<Cow<'_, str>>) {
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

    fn is_clean_before(path: &str, rules: PathRules) -> bool {
        let bytes = path.as_bytes();
        if bytes.first() != Some(&b'/')
            || bytes.len() > MAX_PAGE_LEN
            || (bytes.len() > 1 && bytes.ends_with(b"/") && rules.strip_trailing_slash)
            || !bytes.iter().all(|&b| b == b'/' || literal_in_segment(b))
        {
            return false;
        }
        let trailing = usize::from(bytes.len() > 1 && bytes.ends_with(b"/"));
        let body = &path[1..path.len() - trailing];
        if body.is_empty() {
            return bytes.len() == 1;
        }
        let mut segments = 0;
        for segment in body.split('/') {
            segments += 1;
            if segment.is_empty() || segments > rules.max_segments || classify(segment).is_some() {
                return false;
            }
        }
        true
    }

    proptest::proptest! {
        #[test]
        fn the_page_split_agrees_with_its_previous_version(
            raw in proptest::prop_oneof![
                "[ ]?(https?:/{0,3}[a-z.:@]{0,12})?[/a-z0-9?#:=&.%-]{0,30}[ ]?",
                "\\PC{0,24}",
            ]
        ) {
            proptest::prop_assert_eq!(split_page(&raw), split_page_before(&raw));
        }

        #[test]
        fn the_clean_check_agrees_with_its_previous_version(
            path in proptest::prop_oneof![
                "/{0,2}([a-z0-9.@:-]{0,14}/{0,2}){0,5}",
                "/([a-f0-9]{0,34}|[0-9]{0,12}|[a-z]{0,6})(/[a-zA-Z0-9_-]{0,20}){0,3}/?",
                "/\\PC{0,20}",
            ],
            strip_trailing_slash in proptest::bool::ANY,
            max_segments in proptest::prop_oneof![proptest::strategy::Just(usize::MAX), 0usize..4],
        ) {
            let rules = PathRules { strip_trailing_slash, max_segments };
            proptest::prop_assert_eq!(is_clean(&path, rules), is_clean_before(&path, rules));
            proptest::prop_assert_eq!(clean_path(&path, rules), {
                // What clean_path returned before: borrowed exactly when the old check said clean.
                if is_clean_before(&path, rules) { Cow::Borrowed(path.as_str()) } else { clean_path(&path, rules) }
            });
        }
    }

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
        assert_eq!(page("/caf\u{e9}"), "/caf%C3%A9");
        assert_eq!(page("/a b"), "/a%20b");
        assert_eq!(normalise_path("/blog/", false), "/blog/");
        assert_eq!(normalise_path("/blog//", false), "/blog/");
        assert_eq!(normalise_path("//", false), "/");
        assert_eq!(page("/"), "/");
    }

    #[test]
    fn caps_length_without_cutting_a_character_or_an_escape() {
        let long = format!("/{}", "é".repeat(300));
        let page = page(&long);
        assert!(
            page.len() <= MAX_PAGE_LEN && page.len() > MAX_PAGE_LEN - 6,
            "{page}"
        );
        assert!(page.starts_with("/%C3%A9"));
        assert!(page.ends_with("%A9"), "{page}");
        let words = format!("/{}", "word/".repeat(100));
        assert!(page_len_ok(&normalise_path(&words, false)));
    }

    fn page_len_ok(page: &str) -> bool {
        page.len() <= MAX_PAGE_LEN && !page.ends_with("//")
    }

    #[test]
    fn plain_paths_are_borrowed() {
        for path in ["/blog/x", "/", "/2024/05/hello-world", "/products/shoes-42"] {
            assert!(matches!(normalise_path(path, true), Cow::Borrowed(_)), "{path}");
        }
        assert!(matches!(normalise_path("/blog/", false), Cow::Borrowed(_)));
    }

    /// Realistic pages of ordinary sites: none may be changed.
    const ORDINARY_PAGES: &[&str] = &[
        "/",
        "/about",
        "/2024/05/hello-world",
        "/page/2",
        "/products/shoes-42",
        "/blog/rust-1.80-released",
        "/docs/getting-started/installation",
        "/wiki/List_of_Apollo_11_astronauts",
        "/en-US/docs/Web/API/Navigator/platform",
        "/questions/12345/how-to-parse-json",
        "/shop/category/mens-shoes/page/3",
        "/news/2024-05-17-launch-day",
        "/@alice",
        "/downloads/report-2023-q4.pdf",
        "/tags/c%2B%2B",
    ];

    #[test]
    fn ordinary_pages_come_through_unchanged() {
        for path in ORDINARY_PAGES {
            let expected = if *path == "/tags/c%2B%2B" {
                "/tags/c++"
            } else {
                path
            };
            assert_eq!(normalise_path(path, true), expected, "{path}");
        }
    }

    #[test]
    fn identifiers_in_paths_become_placeholders() {
        for (raw, expected) in [
            ("/user/bob@example.com", "/user/:email"),
            ("/user/bob%40example.com/settings", "/user/:email/settings"),
            ("/user/%62ob%2540Example.COM", "/user/:email"),
            ("/order/123456789012", "/order/:id"),
            ("/cart;jsessionid=0123456789ABCDEF/checkout", "/cart/checkout"),
            ("/acct/bob@example.com", "/acct/:email"),
            ("/call/+49-151-2345678", "/call/:phone"),
            ("/item/123e4567-e89b-12d3-a456-426614174000", "/item/:uuid"),
            ("/from/192.168.1.1/x", "/from/:ip/x"),
            ("/from/%5B::1%5D", "/from/:ip"),
            ("/reset/d41d8cd98f00b204e9800998ecf8427e", "/reset/:token"),
            (
                "/auth/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                "/auth/:token",
            ),
            ("/adm\u{200B}in/\u{202E}x", "/admin/x"),
        ] {
            assert_eq!(normalise_path(raw, true), expected, "{raw}");
        }
    }
}
