//! Beacon parsing and type enforcement.
//!
//! The browser sends a small JSON object. Numbers may arrive as JSON numbers or as numeric
//! strings (the original payload sent `"utcoffset":"0"`), so every numeric field accepts both and
//! is range-checked here. Unknown keys are ignored so that newer scripts work with older modules.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Largest page load time accepted, in milliseconds (10 minutes).
pub const MAX_LOAD_MS: i64 = 600_000;
/// Largest timezone offset accepted, in minutes (UTC−14:00 .. UTC+14:00).
pub const MAX_UTC_OFFSET: i64 = 840;
/// Largest session page count accepted: far above any real session, low enough to stay sane.
pub const MAX_SESSION_PAGES: i64 = 1_000_000;
/// Largest visible time of a page accepted, in milliseconds (24 hours).
pub const MAX_ENGAGED_MS: i64 = 86_400_000;

/// What a beacon reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BeaconKind<'a> {
    /// A page was viewed (`"type":"pageview"`, or no type: the original payload has none).
    #[default]
    PageView,
    /// A page answered "not found" (`"type":"notfound"`).
    NotFound,
    /// A custom event on a page, such as a video play (`"type":"event"`, with a `name`).
    Event { name: Cow<'a, str> },
    /// A click on a link to another site (`"type":"outbound"`, with the link's host as `target`).
    Outbound { target: Cow<'a, str> },
    /// A click on a link to a file (`"type":"download"`, with the link's path as `file`).
    Download { file: Cow<'a, str> },
    /// The time a page was visible, sent once when it is first hidden (`"type":"engagement"`,
    /// with `engaged_ms`).
    Engagement { engaged_ms: u32 },
}

/// Longest event name accepted.
pub const MAX_EVENT_NAME_LEN: usize = 64;

/// A beacon whose fields have the right types and ranges. Strings are still raw (and borrowed
/// from the body where JSON allows): privacy normalisation happens in [`crate::normalise`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Beacon<'a> {
    pub kind: BeaconKind<'a>,
    pub domain: Cow<'a, str>,
    pub page: Cow<'a, str>,
    pub referrer: Option<Cow<'a, str>>,
    pub platform: Option<Cow<'a, str>>,
    /// The browser's `Date.getTimezoneOffset()`: minutes, positive west of UTC.
    pub utc_offset: Option<i32>,
    pub mobile: Option<bool>,
    pub load_ms: Option<u32>,
    pub session_pages: Option<u32>,
}

/// Why a body was refused. Every variant maps to `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeaconError {
    /// The body is not valid JSON (or not UTF-8).
    NotJson(String),
    /// The body is JSON, but not an object.
    NotObject,
    /// A required field is absent.
    Missing(&'static str),
    /// A field has a type that cannot be read as what it should be.
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    /// A numeric field is outside its accepted range.
    OutOfRange { field: &'static str, min: i64, max: i64 },
    /// A field's value is well-typed but unusable (e.g. a domain with forbidden characters).
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

impl BeaconError {
    /// A short reason, stable enough for counters and tests.
    pub fn kind(&self) -> BeaconErrorKind {
        match self {
            BeaconError::NotJson(_) | BeaconError::NotObject => BeaconErrorKind::Json,
            BeaconError::Missing(_) | BeaconError::WrongType { .. } => BeaconErrorKind::Type,
            BeaconError::OutOfRange { .. } => BeaconErrorKind::Range,
            BeaconError::Invalid { .. } => BeaconErrorKind::Invalid,
        }
    }
}

/// The class of a rejection, as counted by the status counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeaconErrorKind {
    Json,
    Type,
    Range,
    Invalid,
}

impl fmt::Display for BeaconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BeaconError::NotJson(e) => write!(f, "body is not valid JSON: {e}"),
            BeaconError::NotObject => write!(f, "body is not a JSON object"),
            BeaconError::Missing(field) => write!(f, "field \"{field}\" is required"),
            BeaconError::WrongType { field, expected } => {
                write!(f, "field \"{field}\" must be {expected}")
            }
            BeaconError::OutOfRange { field, min, max } => {
                write!(f, "field \"{field}\" must be between {min} and {max}")
            }
            BeaconError::Invalid { field, reason } => write!(f, "field \"{field}\" {reason}"),
        }
    }
}

impl std::error::Error for BeaconError {}

/// The body as JSON sees it: each known key holds any JSON value, so that type errors are ours to
/// report (naming the field) rather than the JSON parser's. Unknown keys are skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
/// Each key also has a one-letter form, which the browser script sends to stay small.
struct RawBeacon<'a> {
    #[serde(borrow, alias = "d")]
    domain: Scalar<'a>,
    #[serde(borrow, alias = "g")]
    page: Scalar<'a>,
    #[serde(borrow, alias = "r")]
    referrer: Scalar<'a>,
    #[serde(borrow, alias = "p")]
    platform: Scalar<'a>,
    #[serde(borrow, alias = "z")]
    utcoffset: Scalar<'a>,
    #[serde(borrow, alias = "m")]
    mobile: Scalar<'a>,
    #[serde(borrow, alias = "l")]
    load_ms: Scalar<'a>,
    #[serde(borrow, alias = "s")]
    session_pages: Scalar<'a>,
    #[serde(borrow, rename = "type", alias = "t")]
    kind: Scalar<'a>,
    #[serde(borrow, alias = "n")]
    name: Scalar<'a>,
    #[serde(borrow, alias = "h")]
    target: Scalar<'a>,
    #[serde(borrow, alias = "f")]
    file: Scalar<'a>,
    #[serde(borrow, alias = "e")]
    engaged_ms: Scalar<'a>,
}

/// One JSON value, kept only as far as a beacon field can use it.
#[derive(Debug, Default, PartialEq)]
enum Scalar<'a> {
    /// Absent, or `null`: both mean "unknown".
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Number(f64),
    Bool(bool),
    /// An array or object: never valid for a beacon field.
    Compound,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Absent)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Compound)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Compound)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl<'a> Beacon<'a> {
    /// Parses and type-checks a beacon body. Strings without JSON escapes are borrowed from `body`.
    pub fn parse(body: &'a [u8]) -> Result<Beacon<'a>, BeaconError> {
        // JSON is UTF-8; serde_json would skip the bytes of unknown keys without checking them.
        let body = std::str::from_utf8(body)
            .map_err(|e| BeaconError::NotJson(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        // A struct also deserializes from a JSON array (by position): refuse anything but an object.
        if body.trim_ascii_start().as_bytes().first() != Some(&b'{') {
            return Err(match serde_json::from_str::<IgnoredAny>(body) {
                Ok(_) => BeaconError::NotObject,
                Err(e) => BeaconError::NotJson(e.to_string()),
            });
        }
        // serde's message names line and column: enough to find the fault, and it never echoes input.
        let raw: RawBeacon<'a> =
            serde_json::from_str(body).map_err(|e| BeaconError::NotJson(e.to_string()))?;
        Ok(Beacon {
            kind: beacon_kind(raw.kind, raw.name, raw.target, raw.file, raw.engaged_ms)?,
            domain: required_string(raw.domain, "domain")?,
            page: required_string(raw.page, "page")?,
            referrer: optional_string(raw.referrer, "referrer")?,
            platform: optional_string(raw.platform, "platform")?,
            utc_offset: optional_integer(raw.utcoffset, "utcoffset", -MAX_UTC_OFFSET, MAX_UTC_OFFSET)?
                .map(|v| v as i32),
            mobile: optional_bool(raw.mobile, "mobile")?,
            load_ms: optional_integer(raw.load_ms, "load_ms", 0, MAX_LOAD_MS)?.map(|v| v as u32),
            session_pages: optional_integer(raw.session_pages, "session_pages", 1, MAX_SESSION_PAGES)?
                .map(|v| v as u32),
        })
    }
}

fn beacon_kind<'a>(
    kind: Scalar<'a>,
    name: Scalar<'a>,
    target: Scalar<'a>,
    file: Scalar<'a>,
    engaged_ms: Scalar<'a>,
) -> Result<BeaconKind<'a>, BeaconError> {
    let kind = optional_string(kind, "type")?;
    match kind.as_deref() {
        None | Some("pageview") => Ok(BeaconKind::PageView),
        Some("notfound") => Ok(BeaconKind::NotFound),
        Some("event") => {
            let name = required_string(name, "name")?;
            if !valid_event_name(&name) {
                return Err(BeaconError::Invalid {
                    field: "name",
                    reason: "must be 1 to 64 letters, digits or -_.:/",
                });
            }
            Ok(BeaconKind::Event { name })
        }
        Some("outbound") => Ok(BeaconKind::Outbound {
            target: required_string(target, "target")?,
        }),
        Some("download") => Ok(BeaconKind::Download {
            file: required_string(file, "file")?,
        }),
        Some("engagement") => {
            let engaged_ms = optional_integer(engaged_ms, "engaged_ms", 0, MAX_ENGAGED_MS)?
                .ok_or(BeaconError::Missing("engaged_ms"))?;
            Ok(BeaconKind::Engagement {
                engaged_ms: engaged_ms as u32,
            })
        }
        Some(_) => Err(BeaconError::Invalid {
            field: "type",
            reason:
                "must be \"pageview\", \"notfound\", \"event\", \"outbound\", \"download\" or \"engagement\"",
        }),
    }
}

/// 1 to 64 letters, digits or `-_.:/`: a low-cardinality tag value that needs no escaping.
pub fn valid_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_EVENT_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
}

fn required_string<'a>(value: Scalar<'a>, field: &'static str) -> Result<Cow<'a, str>, BeaconError> {
    optional_string(value, field)?.ok_or(BeaconError::Missing(field))
}

fn optional_string<'a>(value: Scalar<'a>, field: &'static str) -> Result<Option<Cow<'a, str>>, BeaconError> {
    match value {
        Scalar::Absent => Ok(None),
        Scalar::Str(s) => Ok(Some(s)),
        _ => Err(BeaconError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// Reads an integer given as a JSON number or a numeric string. Fractions are rounded, since
/// browsers report times as fractional milliseconds.
fn optional_integer(
    value: Scalar,
    field: &'static str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, BeaconError> {
    let wrong_type = BeaconError::WrongType {
        field,
        expected: "a number or a numeric string",
    };
    let number = match value {
        Scalar::Absent => return Ok(None),
        Scalar::Number(n) => n,
        Scalar::Str(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            parse_decimal(s).ok_or(wrong_type)?
        }
        _ => return Err(wrong_type),
    };
    let rounded = number.round();
    if !rounded.is_finite() || rounded < min as f64 || rounded > max as f64 {
        return Err(BeaconError::OutOfRange { field, min, max });
    }
    Ok(Some(rounded as i64))
}

/// Accepts plain decimal notation only: `"12"`, `"-60"`, `"532.4"`. Rust's float parser would also
/// take `"inf"`, `"NaN"` and `"1e400"`, which no browser sends for these fields.
fn parse_decimal(s: &str) -> Option<f64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("");
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !all_digits(whole)
        || !all_digits(fraction)
        || digits.len() > 32
    {
        return None;
    }
    s.parse().ok()
}

fn optional_bool(value: Scalar, field: &'static str) -> Result<Option<bool>, BeaconError> {
    let wrong_type = BeaconError::WrongType {
        field,
        expected: "a boolean, 0 or 1",
    };
    match value {
        Scalar::Absent => Ok(None),
        Scalar::Bool(b) => Ok(Some(b)),
        Scalar::Number(0.0) => Ok(Some(false)),
        Scalar::Number(1.0) => Ok(Some(true)),
        Scalar::Str(s) => match s.trim() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(wrong_type),
        },
        _ => Err(wrong_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Beacon<'_>, BeaconError> {
        Beacon::parse(s.as_bytes())
    }

    #[test]
    fn accepts_the_original_payload_with_string_numbers() {
        let b = parse(
            r#"{"page":"/foo/bar","domain":"www.example.com","referrer":"","utcoffset":"0","platform":"Linux x86_64"}"#,
        )
        .unwrap();
        assert_eq!(b.page, "/foo/bar");
        assert_eq!(b.domain, "www.example.com");
        assert_eq!(b.referrer.as_deref(), Some(""));
        assert_eq!(b.utc_offset, Some(0));
        assert_eq!(b.platform.as_deref(), Some("Linux x86_64"));
        assert_eq!(b.load_ms, None);
    }

    #[test]
    fn accepts_json_numbers_and_numeric_strings_alike() {
        let a = parse(r#"{"page":"/","domain":"a.b","utcoffset":-60,"load_ms":532.4,"session_pages":3}"#)
            .unwrap();
        let b =
            parse(r#"{"page":"/","domain":"a.b","utcoffset":"-60","load_ms":"532.4","session_pages":"3"}"#)
                .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.utc_offset, Some(-60));
        assert_eq!(a.load_ms, Some(532));
        assert_eq!(a.session_pages, Some(3));
    }

    #[test]
    fn ignores_unknown_keys_and_nulls() {
        let b = parse(r#"{"page":"/","domain":"a.b","x":[1,2],"referrer":null,"load_ms":null}"#).unwrap();
        assert_eq!(b.referrer, None);
        assert_eq!(b.load_ms, None);
    }

    #[test]
    fn rejects_what_is_not_a_json_object() {
        for body in ["", "nope", "[1]", "\"s\"", "12", "{\"page\":", "\u{0}"] {
            let e = parse(body).unwrap_err();
            assert_eq!(e.kind(), BeaconErrorKind::Json, "{body:?}: {e}");
        }
        let e = Beacon::parse(b"{\"page\":\"\xff\",\"domain\":\"a\"}").unwrap_err();
        assert_eq!(e.kind(), BeaconErrorKind::Json);
        let e = Beacon::parse(b"{\"page\":\"/\",\"domain\":\"a\",\"unknown\":\"\xff\"}").unwrap_err();
        assert_eq!(e, BeaconError::NotJson("invalid UTF-8 at byte 36".into()));
    }

    #[test]
    fn rejects_missing_and_wrongly_typed_fields() {
        assert_eq!(
            parse(r#"{"page":"/"}"#).unwrap_err(),
            BeaconError::Missing("domain")
        );
        assert_eq!(
            parse(r#"{"domain":"a"}"#).unwrap_err(),
            BeaconError::Missing("page")
        );
        for body in [
            r#"{"page":1,"domain":"a"}"#,
            r#"{"page":"/","domain":["a"]}"#,
            r#"{"page":"/","domain":"a","referrer":{}}"#,
            r#"{"page":"/","domain":"a","platform":7}"#,
            r#"{"page":"/","domain":"a","utcoffset":"sixty"}"#,
            r#"{"page":"/","domain":"a","utcoffset":"NaN"}"#,
            r#"{"page":"/","domain":"a","utcoffset":"1e3"}"#,
            r#"{"page":"/","domain":"a","load_ms":true}"#,
            r#"{"page":"/","domain":"a","session_pages":[3]}"#,
            r#"{"page":"/","domain":"a","mobile":"maybe"}"#,
            r#"{"page":"/","domain":"a","mobile":2}"#,
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(e.kind(), BeaconErrorKind::Type, "{body}: {e}");
        }
    }

    #[test]
    fn range_checks_numbers() {
        for body in [
            r#"{"page":"/","domain":"a","utcoffset":841}"#,
            r#"{"page":"/","domain":"a","utcoffset":"-841"}"#,
            r#"{"page":"/","domain":"a","load_ms":-1}"#,
            r#"{"page":"/","domain":"a","load_ms":600001}"#,
            r#"{"page":"/","domain":"a","load_ms":1e300}"#,
            r#"{"page":"/","domain":"a","session_pages":0}"#,
            r#"{"page":"/","domain":"a","session_pages":"1000001"}"#,
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(e.kind(), BeaconErrorKind::Range, "{body}: {e}");
        }
        let ok =
            parse(r#"{"page":"/","domain":"a","utcoffset":840,"load_ms":600000,"session_pages":1}"#).unwrap();
        assert_eq!(
            (ok.utc_offset, ok.load_ms, ok.session_pages),
            (Some(840), Some(600000), Some(1))
        );
    }

    #[test]
    fn reads_mobile_hints() {
        for (v, want) in [
            ("true", true),
            ("false", false),
            ("1", true),
            ("\"0\"", false),
            ("\"true\"", true),
        ] {
            let body = format!(r#"{{"page":"/","domain":"a","mobile":{v}}}"#);
            assert_eq!(parse(&body).unwrap().mobile, Some(want), "{v}");
        }
    }

    #[test]
    fn deep_nesting_is_skipped_or_refused_never_overflowed() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let unknown_key = format!(r#"{{"a":{deep},"page":"/","domain":"a"}}"#);
        assert_eq!(parse(&unknown_key).unwrap().page, "/");
        let known_key = format!(r#"{{"page":{deep},"domain":"a"}}"#);
        assert_eq!(parse(&known_key).unwrap_err().kind(), BeaconErrorKind::Type);
    }

    #[test]
    fn error_messages_name_the_field() {
        let e = parse(r#"{"page":"/","domain":"a","utcoffset":999}"#).unwrap_err();
        assert_eq!(e.to_string(), "field \"utcoffset\" must be between -840 and 840");
    }

    #[test]
    fn borrows_plain_strings_and_unescapes_others() {
        let b = parse(r#"{"page":"/a\nb","domain":"ex\u0061mple.com"}"#).unwrap();
        assert_eq!(b.domain, "example.com");
        assert_eq!(b.page, "/a\nb");
        let body = br#"{"page":"/plain","domain":"a"}"#;
        assert!(matches!(Beacon::parse(body).unwrap().page, Cow::Borrowed(_)));
    }

    #[test]
    fn accepts_the_compact_keys_of_the_browser_script() {
        let long = parse(r#"{"domain":"a.b","page":"/x","referrer":"https://o.org/","utcoffset":-60,"platform":"Win32","mobile":false,"load_ms":5,"session_pages":2}"#).unwrap();
        let short =
            parse(r#"{"d":"a.b","g":"/x","r":"https://o.org/","z":-60,"p":"Win32","m":false,"l":5,"s":2}"#)
                .unwrap();
        assert_eq!(long, short);
    }

    #[test]
    fn reads_the_kind_of_beacon() {
        assert_eq!(parse(r#"{"d":"a","g":"/"}"#).unwrap().kind, BeaconKind::PageView);
        assert_eq!(
            parse(r#"{"d":"a","g":"/","t":"pageview"}"#).unwrap().kind,
            BeaconKind::PageView
        );
        assert_eq!(
            parse(r#"{"d":"a","g":"/","type":"notfound"}"#).unwrap().kind,
            BeaconKind::NotFound
        );
        assert_eq!(
            parse(r#"{"d":"a","g":"/","t":"event","n":"video-play"}"#)
                .unwrap()
                .kind,
            BeaconKind::Event {
                name: "video-play".into()
            }
        );
        assert_eq!(
            parse(r#"{"d":"a","g":"/","t":"event"}"#).unwrap_err(),
            BeaconError::Missing("name")
        );
        for bad in [
            r#""n":"""#,
            r#""n":"a b""#,
            r#""n":"x,y=z""#,
            &format!(r#""n":"{}""#, "e".repeat(65)),
        ] {
            let body = format!(r#"{{"d":"a","g":"/","t":"event",{bad}}}"#);
            assert_eq!(
                parse(&body).unwrap_err().kind(),
                BeaconErrorKind::Invalid,
                "{body}"
            );
        }
        assert_eq!(
            parse(r#"{"d":"a","g":"/","t":"click"}"#).unwrap_err().kind(),
            BeaconErrorKind::Invalid
        );
        assert_eq!(
            parse(r#"{"d":"a","g":"/","t":3}"#).unwrap_err().kind(),
            BeaconErrorKind::Type
        );
    }

    #[test]
    fn reads_the_script_s_own_events() {
        assert_eq!(
            parse(r#"{"d":"a","g":"/","t":"outbound","h":"Other.org"}"#)
                .unwrap()
                .kind,
            BeaconKind::Outbound {
                target: "Other.org".into()
            }
        );
        assert_eq!(
            parse(r#"{"domain":"a","page":"/","type":"download","file":"/f/report.pdf"}"#)
                .unwrap()
                .kind,
            BeaconKind::Download {
                file: "/f/report.pdf".into()
            }
        );
        for (value, want) in [("1234.6", 1235), ("0", 0), ("86400000", 86_400_000)] {
            let body = format!(r#"{{"d":"a","g":"/","t":"engagement","e":{value}}}"#);
            assert_eq!(
                parse(&body).unwrap().kind,
                BeaconKind::Engagement { engaged_ms: want },
                "{body}"
            );
        }
        let quoted = parse(r#"{"d":"a","g":"/","t":"engagement","engaged_ms":"12"}"#).unwrap();
        assert_eq!(quoted.kind, BeaconKind::Engagement { engaged_ms: 12 });
    }

    #[test]
    fn refuses_script_events_without_their_value_or_with_hostile_ones() {
        for (body, want) in [
            (
                r#"{"d":"a","g":"/","t":"outbound"}"#,
                BeaconError::Missing("target"),
            ),
            (
                r#"{"d":"a","g":"/","t":"outbound","h":null}"#,
                BeaconError::Missing("target"),
            ),
            (
                r#"{"d":"a","g":"/","t":"download"}"#,
                BeaconError::Missing("file"),
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement"}"#,
                BeaconError::Missing("engaged_ms"),
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":""}"#,
                BeaconError::Missing("engaged_ms"),
            ),
        ] {
            assert_eq!(parse(body).unwrap_err(), want, "{body}");
        }
        for (body, kind) in [
            (r#"{"d":"a","g":"/","t":"outbound","h":7}"#, BeaconErrorKind::Type),
            (
                r#"{"d":"a","g":"/","t":"download","f":["/x.pdf"]}"#,
                BeaconErrorKind::Type,
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":-1}"#,
                BeaconErrorKind::Range,
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":86400001}"#,
                BeaconErrorKind::Range,
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":1e300}"#,
                BeaconErrorKind::Range,
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":"-5"}"#,
                BeaconErrorKind::Range,
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":"NaN"}"#,
                BeaconErrorKind::Type,
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":"Infinity"}"#,
                BeaconErrorKind::Type,
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":"1e9"}"#,
                BeaconErrorKind::Type,
            ),
            (
                r#"{"d":"a","g":"/","t":"engagement","e":true}"#,
                BeaconErrorKind::Type,
            ),
        ] {
            assert_eq!(parse(body).unwrap_err().kind(), kind, "{body}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = parse(r#"{"page":"/","domain":"a","domain":"b"}"#).unwrap_err();
        assert_eq!(e.kind(), BeaconErrorKind::Json, "{e}");
    }
}
