//! InfluxDB line protocol encoding.
//!
//! Escaping follows InfluxDB's rules: measurement names escape `,` and space; tag keys, tag values
//! and field keys escape `,`, `=` and space; string field values escape `"` and `\`. Line protocol
//! has no escape for newlines, so control characters are removed here, whatever the caller
//! passed: no raw newline can ever split one record into two lines. So are all other invisible
//! characters (line and paragraph separators, bidi controls, zero-width and other format
//! characters, see [`crate::normalise::invisible`]): this is the last line of defence, whatever a
//! normaliser missed. A tag value may not end in a backslash (it would escape the separator), so
//! backslashes in tag values are written `%5C`, as a URL would write them. Empty tag values are
//! invalid and are left out.
//!
//! Schema (see `docs/line-protocol.md`):
//! `<measurement>,browser=..,device=..,domain=..,page=..,platform=..,referrer_domain=..,tz=..
//!  hits=1i,load_ms=..i,session_pages=..i,referrer=".." <unique ns timestamp>`

use crate::measurement::Measurement;
use crate::normalise::invisible::is_invisible;
use crate::normalise::referrer::Referrer;
use crate::normalise::script_event::EventDetail;
use crate::record::Record;

/// Appends one page-view line (with its trailing `\n`) to `out`. Tags are written in key order,
/// as InfluxDB prefers: the campaign tags (sorted by name, see
/// [`crate::normalise::campaign::campaign_tags`]) are merged in among the module's own.
pub fn write_page_view(out: &mut Vec<u8>, measurement: &Measurement, record: &Record, timestamp_ns: u64) {
    out.extend_from_slice(measurement.as_str().as_bytes());
    let mut campaign = record.campaign.iter().peekable();
    let mut site_tags = record.site_tags.iter().peekable();
    // Writes the campaign and site tags whose names sort before `key`, the next of the module's
    // own tags, in order: both lists are sorted, and their names differ (the configuration sees
    // to it).
    let mut campaign_before = |out: &mut Vec<u8>, key: &str| loop {
        let campaign_first = match (campaign.peek(), site_tags.peek()) {
            (Some(c), Some(s)) => c.0 <= s.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if campaign_first {
            &mut campaign
        } else {
            &mut site_tags
        };
        let Some((name, value)) = next.next_if(|(name, _)| name.as_str() < key) else {
            break;
        };
        // Parameter and tag names are checked by the configuration (`a-z0-9_`): no escaping
        // needed.
        write_tag(out, name.as_bytes(), value);
    };
    if let Some(browser) = record.browser {
        campaign_before(out, "browser");
        write_word_tag(out, b",browser=", browser.as_str());
    }
    if let Some(device) = record.device {
        campaign_before(out, "device");
        write_word_tag(out, b",device=", device.as_str());
    }
    campaign_before(out, "domain");
    write_tag(out, b"domain", &record.domain);
    campaign_before(out, "page");
    write_tag(out, b"page", &record.page);
    if let Some(platform) = record.platform {
        campaign_before(out, "platform");
        write_word_tag(out, b",platform=", platform.as_str());
    }
    if let Referrer::External { domain, .. } = &record.referrer {
        campaign_before(out, "referrer_domain");
        write_tag(out, b"referrer_domain", domain);
    }
    if let Some(tz) = record.utc_offset {
        campaign_before(out, "tz");
        out.extend_from_slice(b",tz=");
        write_integer(out, tz.into());
    }
    // What is left sorts after every tag of the module's own.
    campaign_before(out, "\u{10FFFF}");
    out.extend_from_slice(b" hits=1i");
    if let Some(load_ms) = record.load_ms {
        out.extend_from_slice(b",load_ms=");
        write_integer(out, load_ms.into());
        out.push(b'i');
    }
    if let Some(pages) = record.session_pages {
        out.extend_from_slice(b",session_pages=");
        write_integer(out, pages.into());
        out.push(b'i');
    }
    if let Referrer::External { url, .. } = &record.referrer {
        out.extend_from_slice(b",referrer=\"");
        write_escaped_string_field(out, url);
        out.push(b'"');
    }
    finish_line(out, timestamp_ns);
}

/// Appends one event line: domain, page and event name, and a count; for the script's own events
/// their detail too (`extension` and `file`, `target_domain`, or the `engaged_ms` field).
pub fn write_event(
    out: &mut Vec<u8>,
    measurement: &Measurement,
    domain: &str,
    page: &str,
    name: &str,
    detail: &EventDetail,
    timestamp_ns: u64,
) {
    out.extend_from_slice(measurement.as_str().as_bytes());
    write_tag(out, b"domain", domain);
    if let EventDetail::Download { extension, file } = detail {
        write_tag(out, b"extension", extension);
        write_tag(out, b"file", file);
    }
    write_tag(out, b"name", name);
    write_tag(out, b"page", page);
    if let EventDetail::Outbound { target_domain } = detail {
        write_tag(out, b"target_domain", target_domain);
    }
    out.extend_from_slice(b" hits=1i");
    if let EventDetail::Engagement { engaged_ms } = detail {
        out.extend_from_slice(b",engaged_ms=");
        write_integer(out, (*engaged_ms).into());
        out.push(b'i');
    }
    finish_line(out, timestamp_ns);
}

/// Appends the line recorded for a beacon whose domain is not on the allow-list: the domain and a
/// count, nothing else.
pub fn write_unlisted(out: &mut Vec<u8>, measurement: &Measurement, domain: &str, timestamp_ns: u64) {
    out.extend_from_slice(measurement.as_str().as_bytes());
    write_tag(out, b"domain", domain);
    out.extend_from_slice(b" hits=1i");
    finish_line(out, timestamp_ns);
}

fn finish_line(out: &mut Vec<u8>, timestamp_ns: u64) {
    out.push(b' ');
    write_unsigned(out, timestamp_ns);
    out.push(b'\n');
}

/// Whether a byte can be copied as it is into a tag value: printable ASCII other than the
/// separators. Text holding anything else (non-ASCII included, which may be invisible) takes the
/// careful path.
const fn plain_tag_byte(b: u8) -> bool {
    b > b' ' && b < 0x7f && !matches!(b, b',' | b'=' | b'\\')
}

/// [`plain_tag_byte`] of every byte: one load per byte of every tag value of every line.
static PLAIN_TAG_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = plain_tag_byte(b as u8);
        b += 1;
    }
    table
};

/// A tag whose value is a word of a closed set (browser, device, platform: never empty, only
/// plain bytes, as a test checks), written without looking at its bytes. `key` is `,key=`.
fn write_word_tag(out: &mut Vec<u8>, key: &[u8], word: &'static str) {
    out.extend_from_slice(key);
    out.extend_from_slice(word.as_bytes());
}

/// `key` is one of this module's own tag keys, which need no escaping.
fn write_tag(out: &mut Vec<u8>, key: &[u8], value: &str) {
    let bytes = value.as_bytes();
    if bytes.iter().all(|&b| PLAIN_TAG_BYTES[usize::from(b)]) {
        if !bytes.is_empty() {
            out.push(b',');
            out.extend_from_slice(key);
            out.push(b'=');
            out.extend_from_slice(bytes);
        }
        return;
    }
    let start = out.len();
    out.push(b',');
    out.extend_from_slice(key);
    out.push(b'=');
    let value_start = out.len();
    for_each_kept_byte(value, |b| match b {
        b',' | b'=' | b' ' => out.extend_from_slice(&[b'\\', b]),
        b'\\' => out.extend_from_slice(b"%5C"),
        _ => out.push(b),
    });
    if out.len() == value_start {
        // Nothing but invisible characters: an empty tag value is invalid, so leave the tag out.
        out.truncate(start);
    }
}

fn write_escaped_string_field(out: &mut Vec<u8>, value: &str) {
    if value
        .bytes()
        .all(|b| (b' '..0x7f).contains(&b) && !matches!(b, b'"' | b'\\'))
    {
        out.extend_from_slice(value.as_bytes());
        return;
    }
    for_each_kept_byte(value, |b| match b {
        b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
        _ => out.push(b),
    });
}

/// Calls `keep` for every byte of `text` except those of invisible characters: control
/// characters (C0 including `\n` and `\r`, DEL, C1), U+2028/U+2029, format characters and the other
/// default-ignorable code points. Whole characters are removed, so what is kept stays valid UTF-8.
fn for_each_kept_byte(text: &str, mut keep: impl FnMut(u8)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            if !b.is_ascii_control() {
                keep(b);
            }
            i += 1;
            continue;
        }
        // A non-ASCII character: `i` is at its first byte, as `text` is UTF-8.
        let c = text[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
        let end = i + c.len_utf8();
        if !is_invisible(c) {
            for &b in &bytes[i..end] {
                keep(b);
            }
        }
        i = end;
    }
}

/// Writes `value` in decimal, without allocating (`i64::to_string` would, per number).
pub(crate) fn write_integer(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    write_unsigned(out, value.unsigned_abs());
}

/// The decimal digits of 0 to 99, two by two.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Two digits per division: every line ends with a 19-digit timestamp.
pub(crate) fn write_unsigned(out: &mut Vec<u8>, mut magnitude: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while magnitude >= 100 {
        let pair = (magnitude % 100) as usize * 2;
        magnitude /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if magnitude >= 10 {
        let pair = magnitude as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + magnitude as u8;
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_byte_table_is_the_rule() {
        for b in 0..=255u8 {
            assert_eq!(PLAIN_TAG_BYTES[usize::from(b)], plain_tag_byte(b), "{b}");
        }
    }

    /// What lets `write_word_tag` skip `write_tag`'s checks: it would write the same bytes.
    #[test]
    fn closed_set_words_are_written_as_write_tag_writes_them() {
        let words = Browser::ALL
            .iter()
            .map(|b| b.as_str())
            .chain(Platform::ALL.iter().map(|p| p.as_str()))
            .chain(Device::ALL.iter().map(|d| d.as_str()));
        for word in words {
            let (mut tagged, mut worded) = (Vec::new(), Vec::new());
            write_tag(&mut tagged, b"browser", word);
            write_word_tag(&mut worded, b",browser=", word);
            assert_eq!(tagged, worded, "{word}");
        }
    }

    proptest::proptest! {
        /// The digits are those of Rust's own formatting, for every size of number.
        #[test]
        fn integers_are_written_as_rust_formats_them(
            value in proptest::prop_oneof![proptest::num::i64::ANY, -1000i64..1000, proptest::strategy::Strategy::prop_map(proptest::num::u32::ANY, i64::from)],
            shift in 0u32..64,
        ) {
            let mut out = Vec::new();
            write_integer(&mut out, value);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
            let magnitude = u64::MAX >> shift;
            let mut out = Vec::new();
            write_unsigned(&mut out, magnitude);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), magnitude.to_string());
        }
    }

    #[test]
    fn integers_at_every_power_of_ten_are_written_as_rust_formats_them() {
        for power in 0..20 {
            let ten = 10u64.pow(power);
            for value in [ten - 1, ten, ten + 1, u64::MAX] {
                let mut out = Vec::new();
                write_unsigned(&mut out, value);
                assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
            }
        }
    }
    use crate::normalise::client::Browser;
    use crate::normalise::platform::{Device, Platform};

    fn record() -> Record<'static> {
        Record {
            domain: "example.com".into(),
            page: "/blog/x".into(),
            campaign: Vec::new(),
            referrer: Referrer::External {
                domain: "news.example.org".into(),
                url: "https://news.example.org/a".into(),
            },
            browser: Some(Browser::Firefox),
            platform: Some(Platform::Linux),
            device: Some(Device::Desktop),
            site_tags: Vec::new(),
            utc_offset: Some(-60),
            load_ms: Some(532),
            session_pages: Some(3),
        }
    }

    fn line(record: &Record) -> String {
        let mut out = Vec::new();
        write_page_view(
            &mut out,
            &Measurement::parse("pageview").unwrap(),
            record,
            1795940673982000123,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_the_documented_schema() {
        assert_eq!(
            line(&record()),
            "pageview,browser=Firefox,device=desktop,domain=example.com,page=/blog/x,platform=Linux,\
             referrer_domain=news.example.org,tz=-60 hits=1i,load_ms=532i,session_pages=3i,\
             referrer=\"https://news.example.org/a\" 1795940673982000123\n"
        );
    }

    #[test]
    fn leaves_out_what_is_unknown() {
        let r = Record {
            referrer: Referrer::SameSite,
            browser: None,
            platform: None,
            device: None,
            utc_offset: None,
            load_ms: None,
            session_pages: None,
            ..record()
        };
        assert_eq!(
            line(&r),
            "pageview,domain=example.com,page=/blog/x hits=1i 1795940673982000123\n"
        );
    }

    #[test]
    fn escapes_tag_values_and_string_fields() {
        let r = Record {
            page: "/a b,c=d\\e".into(),
            campaign: vec![("utm_source".into(), "x\ny".into())],
            referrer: Referrer::External {
                domain: "o.org".into(),
                url: "https://o.org/\"q\"\\".into(),
            },
            ..record()
        };
        let l = line(&r);
        assert!(l.contains(",page=/a\\ b\\,c\\=d%5Ce,"), "{l}");
        assert!(l.contains(",utm_source=xy "), "{l}");
        assert!(l.contains("referrer=\"https://o.org/\\\"q\\\"\\\\\""), "{l}");
        assert_eq!(l.matches('\n').count(), 1);
    }

    #[test]
    fn omits_empty_tags_and_never_emits_raw_newlines() {
        let r = Record {
            campaign: vec![("utm_source".into(), "\n\r\u{200B}".into())],
            page: "/\n".into(),
            ..record()
        };
        let l = line(&r);
        assert!(!l.contains("utm_source="), "{l}");
        assert_eq!(l.matches('\n').count(), 1);
        assert!(l.ends_with('\n'));
    }

    #[test]
    fn writes_integers_of_every_sign() {
        for v in [
            0i64,
            7,
            -60,
            840,
            -840,
            600_000,
            1_795_940_673_982_000_123,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            write_integer(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
        let mut out = Vec::new();
        write_unsigned(&mut out, u64::MAX);
        assert_eq!(String::from_utf8(out).unwrap(), u64::MAX.to_string());
    }

    #[test]
    fn removes_c1_control_characters_too() {
        let r = Record {
            page: "/a\u{85}b\u{a0}c".into(),
            ..record()
        };
        assert!(line(&r).contains(",page=/ab\u{a0}c,"));
    }

    /// Separators, bidi controls, zero-width characters, the soft hyphen, a BOM, a tag character.
    const INVISIBLE: &str = "\u{2028}\u{2029}\u{202A}\u{202E}\u{2066}\u{2069}\u{200E}\u{200F}\u{061C}\
                             \u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}\u{AD}\u{E0041}\u{180E}";

    #[test]
    fn removes_invisible_characters_from_every_value() {
        let hide = |text: &str| -> String {
            text.chars()
                .flat_map(|c| std::iter::once(c).chain(INVISIBLE.chars()))
                .collect()
        };
        let r = Record {
            domain: hide("example.com").into(),
            page: hide("/a").into(),
            campaign: vec![("utm_source".into(), hide("news"))],
            referrer: Referrer::External {
                domain: hide("o.org"),
                url: hide("https://o.org/x"),
            },
            ..record()
        };
        let l = line(&r);
        assert!(l.is_ascii(), "{l:?}");
        assert!(l.contains(",domain=example.com,page=/a,"), "{l}");
        assert!(
            l.contains(",referrer_domain=o.org,") && l.contains(",utm_source=news "),
            "{l}"
        );
        assert!(l.contains("referrer=\"https://o.org/x\""), "{l}");
        let mut out = Vec::new();
        let event = Measurement::parse("event").unwrap();
        write_event(
            &mut out,
            &event,
            &hide("example.com"),
            &hide("/v"),
            &hide("play"),
            &EventDetail::None,
            1,
        );
        assert_eq!(out, b"event,domain=example.com,name=play,page=/v hits=1i 1\n");
        out.clear();
        write_unlisted(&mut out, &event, INVISIBLE, 1);
        assert_eq!(out, b"event hits=1i 1\n");
    }

    proptest::proptest! {
        #[test]
        fn kept_text_is_the_text_without_invisible_characters(
            text in "\\PC{0,8}[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{2028}\\u{2029}\\u{200B}-\\u{200F}\\u{202A}-\\u{202E}\\u{2060}-\\u{206F}\\u{FEFF}\\u{AD}\\p{Cf}]{0,3}\\PC{0,8}"
        ) {
            let mut kept = Vec::new();
            for_each_kept_byte(&text, |b| kept.push(b));
            let expected: String = text.chars().filter(|&c| !is_invisible(c)).collect();
            proptest::prop_assert_eq!(String::from_utf8(kept).unwrap(), expected);
        }
    }

    #[test]
    fn writes_events() {
        let mut out = Vec::new();
        write_event(
            &mut out,
            &Measurement::parse("event").unwrap(),
            "example.com",
            "/v",
            "video-play",
            &EventDetail::None,
            9,
        );
        assert_eq!(
            out,
            b"event,domain=example.com,name=video-play,page=/v hits=1i 9\n"
        );
    }

    #[test]
    fn writes_the_script_s_own_events_with_their_detail_in_key_order() {
        let event = Measurement::parse("event").unwrap();
        for (name, detail, want) in [
            (
                "outbound",
                EventDetail::Outbound {
                    target_domain: "docs.other.org".into(),
                },
                "event,domain=example.com,name=outbound,page=/v,target_domain=docs.other.org hits=1i 9\n",
            ),
            (
                "download",
                EventDetail::Download {
                    extension: "pdf".into(),
                    file: "/f/a b.pdf".into(),
                },
                "event,domain=example.com,extension=pdf,file=/f/a\\ b.pdf,name=download,page=/v hits=1i 9\n",
            ),
            (
                "engagement",
                EventDetail::Engagement {
                    engaged_ms: 86_400_000,
                },
                "event,domain=example.com,name=engagement,page=/v hits=1i,engaged_ms=86400000i 9\n",
            ),
        ] {
            let mut out = Vec::new();
            write_event(&mut out, &event, "example.com", "/v", name, &detail, 9);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn writes_unlisted_domains() {
        let mut out = Vec::new();
        write_unlisted(
            &mut out,
            &Measurement::parse("unlisted_domain").unwrap(),
            "evil.org",
            5,
        );
        assert_eq!(out, b"unlisted_domain,domain=evil.org hits=1i 5\n");
    }
}
