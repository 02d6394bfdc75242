//! InfluxDB line protocol encoding.
//!
//! Escaping follows InfluxDB's rules: measurement names escape `,` and space; tag keys, tag values
//! and field keys escape `,`, `=` and space; string field values escape `"` and `\`. Line protocol
//! has no escape for newlines, so control characters are removed here, whatever the caller
//! passed: no raw newline can ever split one record into two lines. A tag value may not end in a
//! backslash (it would escape the separator), so backslashes in tag values are written `%5C`, as
//! a URL would write them. Empty tag values are invalid and are left out.
//!
//! Schema (see `docs/line-protocol.md`):
//! `<measurement>,device=..,domain=..,page=..,platform=..,referrer_domain=..,tz=..
//!  hits=1i,load_ms=..i,session_pages=..i,referrer=".." <unique ns timestamp>`

use crate::measurement::Measurement;
use crate::normalise::referrer::Referrer;
use crate::record::Record;

/// Appends one page-view line (with its trailing `\n`) to `out`. Tags are written in key order,
/// as InfluxDB prefers.
pub fn write_page_view(out: &mut Vec<u8>, measurement: &Measurement, record: &Record, timestamp_ns: u64) {
    out.extend_from_slice(measurement.as_str().as_bytes());
    if let Some(device) = record.device {
        write_tag(out, b"device", device.as_str());
    }
    write_tag(out, b"domain", &record.domain);
    write_tag(out, b"page", &record.page);
    if let Some(platform) = &record.platform {
        write_tag(out, b"platform", platform);
    }
    if let Referrer::External { domain, .. } = &record.referrer {
        write_tag(out, b"referrer_domain", domain);
    }
    if let Some(tz) = record.utc_offset {
        out.extend_from_slice(b",tz=");
        write_integer(out, tz.into());
    }
    for (key, value) in &record.campaign {
        // Parameter names are checked by the configuration (`a-z0-9_`): no escaping needed.
        write_tag(out, key.as_bytes(), value);
    }
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

/// Appends one custom-event line: domain, page and event name, and a count.
pub fn write_event(
    out: &mut Vec<u8>,
    measurement: &Measurement,
    domain: &str,
    page: &str,
    name: &str,
    timestamp_ns: u64,
) {
    out.extend_from_slice(measurement.as_str().as_bytes());
    write_tag(out, b"domain", domain);
    write_tag(out, b"name", name);
    write_tag(out, b"page", page);
    out.extend_from_slice(b" hits=1i");
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

/// Whether a byte can be copied as it is into a tag value. `0xC2` leads the UTF-8 encoding of the
/// C1 control characters (U+0080..U+009F), so text holding it takes the careful path.
fn plain_tag_byte(b: u8) -> bool {
    b > b' ' && !matches!(b, b',' | b'=' | b'\\' | 0x7f | 0xc2)
}

/// `key` is one of this module's own tag keys, which need no escaping.
fn write_tag(out: &mut Vec<u8>, key: &[u8], value: &str) {
    let bytes = value.as_bytes();
    if bytes.iter().all(|&b| plain_tag_byte(b)) {
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
    for_each_kept_byte(bytes, |b| match b {
        b',' | b'=' | b' ' => out.extend_from_slice(&[b'\\', b]),
        b'\\' => out.extend_from_slice(b"%5C"),
        _ => out.push(b),
    });
    if out.len() == value_start {
        // Nothing but control characters: an empty tag value is invalid, so leave the tag out.
        out.truncate(start);
    }
}

fn write_escaped_string_field(out: &mut Vec<u8>, value: &str) {
    for_each_kept_byte(value.as_bytes(), |b| match b {
        b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
        _ => out.push(b),
    });
}

/// Calls `keep` for every byte of `text` except those of control characters: C0 (`\0`..`\x1f`,
/// including `\n` and `\r`), DEL, and C1 (U+0080..U+009F, encoded `C2 80`..`C2 9F`). Whole
/// characters are removed, so what is kept stays valid UTF-8.
fn for_each_kept_byte(text: &[u8], mut keep: impl FnMut(u8)) {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b < b' ' || b == 0x7f {
            i += 1;
        } else if b == 0xc2 && text.get(i + 1).is_some_and(|next| (0x80..=0x9f).contains(next)) {
            i += 2;
        } else {
            keep(b);
            i += 1;
        }
    }
}

fn write_integer(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    write_unsigned(out, value.unsigned_abs());
}

fn write_unsigned(out: &mut Vec<u8>, mut magnitude: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::platform::Device;

    fn record() -> Record<'static> {
        Record {
            domain: "example.com".into(),
            page: "/blog/x".into(),
            campaign: Vec::new(),
            referrer: Referrer::External {
                domain: "news.example.org".into(),
                url: "https://news.example.org/a".into(),
            },
            platform: Some("Linux x86_64".into()),
            device: Some(Device::Desktop),
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
            "pageview,device=desktop,domain=example.com,page=/blog/x,platform=Linux\\ x86_64,\
             referrer_domain=news.example.org,tz=-60 hits=1i,load_ms=532i,session_pages=3i,\
             referrer=\"https://news.example.org/a\" 1795940673982000123\n"
        );
    }

    #[test]
    fn leaves_out_what_is_unknown() {
        let r = Record {
            referrer: Referrer::SameSite,
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
            platform: Some("x\ny".into()),
            referrer: Referrer::External {
                domain: "o.org".into(),
                url: "https://o.org/\"q\"\\".into(),
            },
            ..record()
        };
        let l = line(&r);
        assert!(l.contains(",page=/a\\ b\\,c\\=d%5Ce,"), "{l}");
        assert!(l.contains(",platform=xy,"), "{l}");
        assert!(l.contains("referrer=\"https://o.org/\\\"q\\\"\\\\\""), "{l}");
        assert_eq!(l.matches('\n').count(), 1);
    }

    #[test]
    fn omits_empty_tags_and_never_emits_raw_newlines() {
        let r = Record {
            platform: Some("\n\r".into()),
            page: "/\n".into(),
            ..record()
        };
        let l = line(&r);
        assert!(!l.contains("platform="), "{l}");
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

    proptest::proptest! {
        #[test]
        fn kept_text_is_the_text_without_control_characters(text in "\\PC{0,8}[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}]{0,3}\\PC{0,8}") {
            let mut kept = Vec::new();
            for_each_kept_byte(text.as_bytes(), |b| kept.push(b));
            let expected: String = text.chars().filter(|c| !c.is_control()).collect();
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
            9,
        );
        assert_eq!(
            out,
            b"event,domain=example.com,name=video-play,page=/v hits=1i 9\n"
        );
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
