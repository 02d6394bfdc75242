//! HTTP dates (RFC 9110 §5.6.7) as a write API sends them in `Retry-After` and `Date`: the
//! IMF-fixdate form `Sun, 06 Nov 1994 08:49:37 GMT`, the only one a server may generate. The two
//! obsolete forms (RFC 850 and asctime) are refused, like anything else that is not exactly this
//! shape: the caller then ignores the header.

/// Seconds since the Unix epoch of an IMF-fixdate, or `None` if `value` is not one (or is before
/// 1970). Looks at exactly 29 bytes; no arithmetic can overflow (the year has four digits).
pub fn parse_imf_fixdate(value: &[u8]) -> Option<u64> {
    let [d0, d1, d2, b',', b' ', day @ .., b' ', b'G', b'M', b'T'] = value else {
        return None;
    };
    if !DAY_NAMES.contains(&[*d0, *d1, *d2]) {
        return None;
    }
    // `day` is now `DD Mon YYYY HH:MM:SS`: 20 bytes.
    let [a, b, b' ', m0, m1, m2, b' ', y0, y1, y2, y3, b' ', h0, h1, b':', n0, n1, b':', s0, s1] = *day
    else {
        return None;
    };
    let month = MONTH_NAMES.iter().position(|name| *name == [m0, m1, m2])? as u64 + 1;
    let day = two_digits(a, b)?;
    let year = two_digits(y0, y1)? * 100 + two_digits(y2, y3)?;
    let (hour, minute, second) = (two_digits(h0, h1)?, two_digits(n0, n1)?, two_digits(s0, s1)?);
    // A leap second (60) is allowed by the grammar.
    if year < 1970 || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

const DAY_NAMES: [[u8; 3]; 7] = [*b"Mon", *b"Tue", *b"Wed", *b"Thu", *b"Fri", *b"Sat", *b"Sun"];
const MONTH_NAMES: [[u8; 3]; 12] = [
    *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct", *b"Nov",
    *b"Dec",
];

fn two_digits(tens: u8, ones: u8) -> Option<u64> {
    let digit = |b: u8| b.is_ascii_digit().then(|| u64::from(b - b'0'));
    Some(digit(tens)? * 10 + digit(ones)?)
}

fn is_leap(year: u64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the date (year ≥ 1970, month 1–12, day valid for the month).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let whole_years: u64 = (1970..year).map(|y| if is_leap(y) { 366 } else { 365 }).sum();
    let whole_months: u64 = (1..month).map(|m| days_in_month(year, m)).sum();
    whole_years + whole_months + day - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_imf_fixdates() {
        assert_eq!(parse_imf_fixdate(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        // RFC 9110's example.
        assert_eq!(
            parse_imf_fixdate(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_imf_fixdate(b"Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        assert_eq!(
            parse_imf_fixdate(b"Fri, 31 Dec 1999 23:59:59 GMT"),
            Some(946_684_799)
        );
        assert_eq!(
            parse_imf_fixdate(b"Sun, 29 Nov 2026 20:32:49 GMT"),
            Some(1_795_984_369)
        );
        assert_eq!(
            parse_imf_fixdate(b"Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(253_402_300_799)
        );
    }

    #[test]
    fn agrees_with_a_day_by_day_count() {
        // Every first of the month from 1970 to 2100, against days counted one by one.
        let mut days = 0u64;
        for year in 1970..2100u64 {
            for (index, name) in MONTH_NAMES.iter().enumerate() {
                let month = index as u64 + 1;
                let text = format!(
                    "Mon, 01 {} {year} 00:00:00 GMT",
                    std::str::from_utf8(name).unwrap()
                );
                assert_eq!(parse_imf_fixdate(text.as_bytes()), Some(days * 86_400), "{text}");
                days += days_in_month(year, month);
            }
        }
    }

    #[test]
    fn refuses_everything_else() {
        for value in [
            "",
            "120",
            // The obsolete forms.
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 23:60:00 GMT",
            "Sun, 06 Nov 1969 23:59:59 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:3x GMT",
        ] {
            assert_eq!(parse_imf_fixdate(value.as_bytes()), None, "{value:?}");
        }
    }
}
