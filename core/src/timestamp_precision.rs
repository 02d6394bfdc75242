//! The module writes nanosecond timestamps. A write API told otherwise (`precision=ms` in the
//! sink's URL) would read them as milliseconds, a million times too far in the future, and refuse
//! or misplace every line: such a URL is refused when the configuration is read.

/// Values of `precision=` that mean nanoseconds: InfluxDB 1.x (`n`, `ns`), 2.x (`ns`), 3
/// (`nanosecond`), VictoriaMetrics (`ns`).
const NANOSECONDS: [&str; 3] = ["ns", "n", "nanosecond"];

/// Refuses a write URL whose query asks for another precision than nanoseconds.
pub fn check_precision(path_and_query: &str) -> Result<(), String> {
    let Some((_, query)) = path_and_query.split_once('?') else {
        return Ok(());
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "precision" && !NANOSECONDS.contains(&value) {
            return Err(format!(
                "\"precision={value}\": timestamps are written in nanoseconds; use precision=ns or leave it out"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nanoseconds_are_accepted() {
        for ok in [
            "/write?db=a",
            "/write?db=a&precision=ns",
            "/write?precision=n",
            "/api/v3/write_lp?db=a&precision=nanosecond",
            "/write",
        ] {
            assert!(check_precision(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/write?db=a&precision=ms",
            "/write?precision=s",
            "/write?precision=u",
            "/write?precision",
            "/api/v2/write?precision=us&bucket=b",
        ] {
            assert!(check_precision(bad).is_err(), "{bad}");
        }
    }
}
