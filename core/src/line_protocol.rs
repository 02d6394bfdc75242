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

use std::io::Write;

use crate::measurement::Measurement;
use crate::normalise::referrer::Referrer;
use crate::record::Record;

/// Appends one page-view line (with its trailing `\n`) to `out`. Tags are written in key order,
/// as InfluxDB prefers.
pub fn write_page_view(out: &mut Vec<u8>, measurement: &Measurement, record: &Record, timestamp_ns: u64) {
    out.extend_from_slice(measurement.as_str().as_bytes());
    if let Some(device) = record.device {
        write_tag(out, "device", device.as_str());
    }
    write_tag(out, "domain", &record.domain);
    write_tag(out, "page", &record.page);
    if let Some(platform) = &record.platform {
        write_tag(out, "platform", platform);
    }
    if let Referrer::External { domain, .. } = &record.referrer {
        write_tag(out, "referrer_domain", domain);
    }
    if let Some(tz) = record.utc_offset {
        write_tag(out, "tz", itoa_i64(tz.into()).as_str());
    }
    out.extend_from_slice(b" hits=1i");
    if let Some(load_ms) = record.load_ms {
        write_integer_field(out, "load_ms", load_ms.into());
    }
    if let Some(pages) = record.session_pages {
        write_integer_field(out, "session_pages", pages.into());
    }
    if let Referrer::External { url, .. } = &record.referrer {
        out.extend_from_slice(b",referrer=\"");
        write_escaped_string_field(out, url);
        out.push(b'"');
    }
    finish_line(out, timestamp_ns);
}

/// Appends the line recorded for a beacon whose domain is not on the allow-list: the domain and a
/// count, nothing else.
pub fn write_unlisted(out: &mut Vec<u8>, measurement: &Measurement, domain: &str, timestamp_ns: u64) {
    out.extend_from_slice(measurement.as_str().as_bytes());
    write_tag(out, "domain", domain);
    out.extend_from_slice(b" hits=1i");
    finish_line(out, timestamp_ns);
}

fn finish_line(out: &mut Vec<u8>, timestamp_ns: u64) {
    // Writing to a Vec cannot fail.
    let _ = writeln!(out, " {timestamp_ns}");
}

fn write_tag(out: &mut Vec<u8>, key: &str, value: &str) {
    if !value.chars().any(|c| !c.is_control()) {
        return;
    }
    out.push(b',');
    write_escaped_key(out, key);
    out.push(b'=');
    for c in value.chars().filter(|c| !c.is_control()) {
        match c {
            ',' | '=' | ' ' => {
                out.push(b'\\');
                push_char(out, c);
            }
            '\\' => out.extend_from_slice(b"%5C"),
            _ => push_char(out, c),
        }
    }
}

fn write_escaped_key(out: &mut Vec<u8>, key: &str) {
    for c in key.chars().filter(|c| !c.is_control()) {
        if matches!(c, ',' | '=' | ' ') {
            out.push(b'\\');
        }
        push_char(out, c);
    }
}

fn write_integer_field(out: &mut Vec<u8>, key: &str, value: i64) {
    out.push(b',');
    write_escaped_key(out, key);
    out.push(b'=');
    out.extend_from_slice(itoa_i64(value).as_bytes());
    out.push(b'i');
}

fn write_escaped_string_field(out: &mut Vec<u8>, value: &str) {
    for c in value.chars().filter(|c| !c.is_control()) {
        if matches!(c, '"' | '\\') {
            out.push(b'\\');
        }
        push_char(out, c);
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn itoa_i64(v: i64) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::platform::Device;

    fn record() -> Record {
        Record {
            domain: "example.com".into(),
            page: "/blog/x".into(),
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
