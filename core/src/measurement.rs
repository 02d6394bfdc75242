//! Measurement names chosen in the configuration.

use std::fmt;

/// A measurement name that needs no escaping: `[A-Za-z_][A-Za-z0-9_.-]*`, at most 64 bytes.
/// Checked when nginx reads its configuration, so a bad name fails `nginx -t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement(String);

impl Measurement {
    pub fn parse(name: &str) -> Result<Measurement, String> {
        let mut bytes = name.bytes();
        // Not `_` first: InfluxDB 2.x and later reserve names that start with it.
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
        let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if first_ok && rest_ok && name.len() <= 64 {
            Ok(Measurement(name.to_owned()))
        } else {
            Err(format!(
                "invalid measurement name \"{name}\": use 1 to 64 characters of letters, digits, \
                 '_', '.' and '-', starting with a letter"
            ))
        }
    }

    /// One of the module's own default names, checked by a test rather than at run time.
    pub(crate) fn default_name(name: &'static str) -> Measurement {
        Measurement(name.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_names_are_valid() {
        let defaults = crate::outcome_line::Measurements::default();
        for m in [&defaults.page_view, &defaults.not_found, &defaults.event] {
            assert_eq!(Measurement::parse(m.as_str()).as_ref(), Ok(m));
        }
        let unlisted = defaults.unlisted.unwrap();
        assert_eq!(Measurement::parse(unlisted.as_str()), Ok(unlisted));
    }

    #[test]
    fn accepts_plain_names_only() {
        assert!(Measurement::parse("pageview").is_ok());
        assert!(Measurement::parse("web_2.views-2").is_ok());
        for bad in [
            "",
            "_web",
            "1abc",
            "page view",
            "a,b",
            "a=b",
            "a\"",
            "#x",
            &"a".repeat(65),
        ] {
            assert!(Measurement::parse(bad).is_err(), "{bad:?}");
        }
    }
}
