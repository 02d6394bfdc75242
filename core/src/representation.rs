//! Choosing and revalidating one of a resource's representations (the browser script, plain or
//! gzipped): whether a request's `Accept-Encoding` takes gzip, and whether its `If-None-Match`
//! names the `ETag` of the representation it would get (RFC 9110, 12.5.3 and 13.1.2).

/// Whether a request with this `Accept-Encoding` takes a gzip body: `gzip` (or its alias `x-gzip`),
/// or `*` when gzip is not listed, with a quality above zero. No header, or a quality that does not
/// parse, means no.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(header) = accept_encoding else {
        return false;
    };
    let mut wildcard = None;
    for entry in header.split(',') {
        let mut parts = entry.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let quality = parts
            .filter_map(|p| p.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, value)| parse_quality(value.trim()));
        let acceptable = quality.is_some_and(|q| q > 0.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return acceptable;
        }
        if coding == "*" {
            wildcard = Some(acceptable);
        }
    }
    wildcard.unwrap_or(false)
}

/// A quality value: `0` or `1`, or `0.` with up to three digits, or `1.` with up to three zeros.
fn parse_quality(value: &str) -> Option<f32> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let valid = matches!(whole, "0" | "1")
        && fraction.len() <= 3
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && (whole == "0" || fraction.bytes().all(|b| b == b'0'));
    valid.then(|| value.parse().ok()).flatten()
}

/// Whether `If-None-Match` names `etag` (a quoted strong tag): `*`, or the same tag with or without
/// the weak prefix (`If-None-Match` compares weakly).
pub fn none_match_names(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').any(|tag| {
        let tag = tag.trim();
        tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_when_listed_or_covered_by_the_wildcard_with_a_positive_quality() {
        for yes in [
            "gzip",
            "GZIP",
            "x-gzip",
            "gzip, deflate, br, zstd",
            "br;q=1.0, gzip;q=0.8, *;q=0.1",
            "gzip;q=0.001",
            "gzip; q=1",
            "identity, *",
            "deflate, *;q=0.5",
        ] {
            assert!(accepts_gzip(Some(yes)), "{yes}");
        }
        for no in [
            "",
            "identity",
            "br, deflate",
            "gzip;q=0",
            "gzip;q=0.000",
            "gzip; Q=0.0",
            "*;q=0",
            "gzip;q=0, *",
            "*, gzip;q=0",
            "gzip;q=2",
            "gzip;q=0.1234",
            "gzip;q=abc",
            "gzipped",
        ] {
            assert!(!accepts_gzip(Some(no)), "{no}");
        }
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn if_none_match_names_only_the_given_tag() {
        let etag = "\"00000000000000ab\"";
        for yes in [
            "\"00000000000000ab\"",
            "W/\"00000000000000ab\"",
            "\"x\", \"00000000000000ab\"",
            "*",
        ] {
            assert!(none_match_names(yes, etag), "{yes}");
        }
        for no in [
            "\"00000000000000ac\"",
            "00000000000000ab",
            "\"00000000000000ab-gzip\"",
            "",
        ] {
            assert!(!none_match_names(no, etag), "{no}");
        }
    }
}
