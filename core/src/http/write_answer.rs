//! How many lines of a batch a write API refused, read from its error answer (`400` or `422`).
//! A refusal is not always whole: the write APIs store the lines they can and say how many they
//! dropped, and counting the whole batch as refused would count stored lines as lost.
//!
//! | write API | answer to a batch with some bad lines |
//! |---|---|
//! | InfluxDB 1.x | `400 {"error":"partial write: <reason> dropped=N"}`; the other lines are stored |
//! | InfluxDB 2.x | `422 {"code":"unprocessable entity","message":"... partial write: <reason> dropped=N"}` |
//! | InfluxDB 3 (`/api/v3/write_lp`, `accept_partial=true`) | `400 {"error":"partial write of line protocol occurred","data":[{"line_number":..},..]}`: one entry per refused line |
//! | VictoriaMetrics | `204`: it skips lines it cannot parse and says nothing (nothing to read here) |
//!
//! Any other refusal (no "partial write", no count, a count larger than the batch, a body cut by
//! the answer reader's cap) refuses the whole batch: a count is trusted only when the answer
//! states it. The body is at most the answer reader's `max_body` bytes, so parsing it is bounded.

/// Of a batch of `lines` lines answered with an error `body`, how many the write API refused:
/// from 0 to `lines`.
pub fn refused_lines(body: &[u8], lines: usize) -> usize {
    partial_refusal(body).filter(|&n| n <= lines).unwrap_or(lines)
}

/// The count a partial-write answer states, if it is one.
fn partial_refusal(body: &[u8]) -> Option<usize> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = ["error", "message"]
        .iter()
        .find_map(|key| answer.get(key)?.as_str())?;
    if !message.contains("partial write") {
        return None;
    }
    if let Some(dropped) = dropped_count(message) {
        return Some(dropped);
    }
    // InfluxDB 3: the refused lines, listed.
    let refused = answer.get("data")?.as_array()?;
    refused
        .iter()
        .all(serde_json::Value::is_object)
        .then_some(refused.len())
}

/// N of the last `dropped=N` in `message` (InfluxDB puts it at the end of the reason).
fn dropped_count(message: &str) -> Option<usize> {
    let (_, after) = message.rsplit_once("dropped=")?;
    let digits = after
        .find(|c: char| !c.is_ascii_digit())
        .map_or(after, |end| &after[..end]);
    if digits.is_empty() {
        return None;
    }
    // A count too large for usize is surely larger than the batch: refused whole.
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_influxdb_1_partial_writes() {
        // As InfluxDB 1.6 answers a batch where one line's field type conflicts.
        let body = br#"{"error":"partial write: field type conflict: input field \"hits\" on measurement \"event\" is type integer, already exists as type float dropped=1"}"#;
        assert_eq!(refused_lines(body, 4), 1);
        let limits = br#"{"error":"partial write: max-values-per-tag limit exceeded (3/3): measurement=\"pageview\" tag=\"page\" value=\"/x\" dropped=2"}"#;
        assert_eq!(refused_lines(limits, 10), 2);
        let retention = br#"{"error":"partial write: points beyond retention policy dropped=10"}"#;
        assert_eq!(refused_lines(retention, 10), 10);
        assert_eq!(refused_lines(br#"{"error":"partial write: x dropped=0"}"#, 5), 0);
    }

    #[test]
    fn reads_influxdb_2_partial_writes() {
        let body = br#"{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \"hits\" on measurement \"event\" is type float, already exists as type integer dropped=3"}"#;
        assert_eq!(refused_lines(body, 7), 3);
    }

    #[test]
    fn reads_influxdb_3_partial_writes() {
        let body = br#"{"error":"partial write of line protocol occurred","data":[{"original_line":"x","line_number":2,"error_message":"No fields were provided"},{"original_line":"y","line_number":5,"error_message":"invalid column type"}]}"#;
        assert_eq!(refused_lines(body, 6), 2);
        let not_entries = br#"{"error":"partial write of line protocol occurred","data":[1,2]}"#;
        assert_eq!(refused_lines(not_entries, 6), 6);
    }

    #[test]
    fn anything_else_refuses_the_whole_batch() {
        for body in [
            &br#"{"error":"unable to parse 'x': missing fields"}"#[..],
            br#"{"code":"invalid","message":"unable to parse 'x': missing fields"}"#,
            br#"{"error":"dropped=1"}"#,
            br#"{"error":"partial write: no count"}"#,
            br#"{"error":"partial write: dropped="}"#,
            br#"{"error":"partial write: dropped=99999999999999999999999999"}"#,
            br#"{"error":"partial write: dropped=-1"}"#,
            br#"{"error":"partial write of line protocol occurred","data":"x"}"#,
            br#"{"error":7}"#,
            b"partial write: dropped=1",
            br#"{"error":"partial write: dropped=1""#,
            b"",
            b"\xff\xfe",
        ] {
            assert_eq!(refused_lines(body, 4), 4, "{}", String::from_utf8_lossy(body));
        }
        // A count larger than the batch cannot be about it.
        assert_eq!(refused_lines(br#"{"error":"partial write: x dropped=5"}"#, 4), 4);
        assert_eq!(refused_lines(br#"{"error":"partial write: x dropped=1"}"#, 0), 0);
    }

    #[test]
    fn the_last_count_is_the_one() {
        // A reason may quote a line holding "dropped=": InfluxDB appends the count last.
        let body = br#"{"error":"partial write: unable to parse 'm,t=dropped=9 f=1': bad dropped=2"}"#;
        assert_eq!(refused_lines(body, 4), 2);
    }
}
