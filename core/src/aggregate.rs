//! Aggregation (`analytics_aggregate`): the hits of one interval with the same measurement and tag
//! set become one line.
//!
//! A worker feeds the table the lines it would have queued; the table keeps, per series key (the
//! measurement and tags exactly as written, which the line writer makes canonical), the number of
//! hits and, for every integer field, its sum, count, minimum and maximum. At the end of the
//! interval [`AggregationTable::drain`] writes one line per series:
//!
//! `pageview,domain=example.com,page=/ hits=412i,load_ms_count=398i,load_ms_max=5120i,load_ms_min=88i,load_ms_sum=281342i <ns>`
//!
//! so that `sum(hits)` stays the number of hits and `sum(load_ms_sum) / sum(load_ms_count)` the
//! mean load time. String fields (the full `referrer`) are per-hit detail and are not kept; the
//! `referrer_domain` tag is. Memory is bounded: entries are charged their key and a fixed overhead
//! against a byte limit, and a new series that would pass it is refused with [`Added::Full`], upon
//! which the caller drains the table early (a line more, never a hit less) and adds again.

use std::collections::HashMap;

use crate::line_protocol::{write_integer, write_unsigned};

/// What one entry costs beside its key: the map's slot, the summary, the field-name boxes.
const ENTRY_OVERHEAD: usize = 96;
/// What each integer field costs in an entry beside its name.
const FIELD_OVERHEAD: usize = 48;

/// The summary of one integer field over the hits of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntSummary {
    pub sum: i64,
    pub count: u64,
    pub min: i64,
    pub max: i64,
}

impl IntSummary {
    fn of(value: i64) -> IntSummary {
        IntSummary {
            sum: value,
            count: 1,
            min: value,
            max: value,
        }
    }

    fn add(&mut self, value: i64) {
        self.sum = self.sum.saturating_add(value);
        self.count = self.count.saturating_add(1);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

#[derive(Debug, Default)]
struct Summary {
    hits: u64,
    /// What this entry is charged against the limit.
    cost: usize,
    /// Sorted by name, so that the line lists its fields in a stable order.
    fields: Vec<(Box<[u8]>, IntSummary)>,
}

/// What [`AggregationTable::add`] did with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Counted in its series.
    Aggregated,
    /// Not taken: a new series (or field) would pass the limit. Drain the table and add again; a
    /// line refused by an empty table is larger than the limit: queue it as it is.
    Full,
    /// Not a line this table can summarise (no `hits` integer field, a float field): queue it as
    /// it is.
    NotAggregable,
}

/// The fields of one line, as the table reads them.
struct ParsedLine<'a> {
    series: &'a [u8],
    hits: u64,
    integers: Vec<(&'a [u8], i64)>,
}

pub struct AggregationTable {
    entries: HashMap<Box<[u8]>, Summary>,
    /// What the entries are charged, against `limit`.
    bytes: usize,
    limit: usize,
    /// Hits counted since the last drain.
    hits: u64,
}

impl AggregationTable {
    pub fn new(limit: usize) -> AggregationTable {
        AggregationTable {
            entries: HashMap::new(),
            bytes: 0,
            limit,
            hits: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Series in the table: the lines the next drain writes.
    pub fn series(&self) -> usize {
        self.entries.len()
    }

    /// Hits counted since the last drain.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Counts one line (as written by `line_protocol`, with or without its `\n`).
    pub fn add(&mut self, line: &[u8]) -> Added {
        let Some(parsed) = parse_line(line) else {
            return Added::NotAggregable;
        };
        let (cost, summary) = match self.entries.get_mut(parsed.series) {
            Some(summary) => (new_fields_cost(summary, &parsed), Some(summary)),
            None => {
                let fields: usize = parsed
                    .integers
                    .iter()
                    .map(|(name, _)| name.len() + FIELD_OVERHEAD)
                    .sum();
                (parsed.series.len() + ENTRY_OVERHEAD + fields, None)
            }
        };
        if cost > 0 && self.bytes.saturating_add(cost) > self.limit {
            return Added::Full;
        }
        self.bytes += cost;
        let summary = match summary {
            Some(summary) => summary,
            None => self.entries.entry(parsed.series.into()).or_default(),
        };
        summary.cost += cost;
        summary.hits = summary.hits.saturating_add(parsed.hits);
        for (name, value) in parsed.integers {
            match summary.fields.binary_search_by(|(n, _)| (**n).cmp(name)) {
                Ok(at) => summary.fields[at].1.add(value),
                Err(at) => summary.fields.insert(at, (name.into(), IntSummary::of(value))),
            }
        }
        self.hits = self.hits.saturating_add(parsed.hits);
        Added::Aggregated
    }

    /// Writes one line per series, all with `timestamp_ns` (their series keys differ, so no two
    /// overwrite each other), hands each to `emit`, and empties the table.
    pub fn drain(&mut self, timestamp_ns: u64, mut emit: impl FnMut(&[u8])) {
        self.drain_while(timestamp_ns, |line| {
            emit(line);
            true
        });
    }

    /// Like [`drain`](Self::drain), but `emit` may refuse a line (the pending buffer is full):
    /// that series and those not offered yet stay in the table, to be drained later. Returns
    /// the lines taken.
    pub fn drain_while(&mut self, timestamp_ns: u64, mut emit: impl FnMut(&[u8]) -> bool) -> usize {
        let mut line = Vec::with_capacity(512);
        let (mut refused, mut taken) = (false, 0);
        let (mut bytes, mut hits) = (self.bytes, self.hits);
        self.entries.retain(|series, summary| {
            if refused {
                return true;
            }
            line.clear();
            write_summary_line(&mut line, series, summary, timestamp_ns);
            if emit(&line) {
                taken += 1;
                bytes -= summary.cost;
                hits -= summary.hits;
                false
            } else {
                refused = true;
                true
            }
        });
        (self.bytes, self.hits) = (bytes, hits);
        taken
    }
}

fn new_fields_cost(summary: &Summary, parsed: &ParsedLine) -> usize {
    parsed
        .integers
        .iter()
        .filter(|(name, _)| summary.fields.binary_search_by(|(n, _)| (**n).cmp(name)).is_err())
        .map(|(name, _)| name.len() + FIELD_OVERHEAD)
        .sum()
}

fn write_summary_line(out: &mut Vec<u8>, series: &[u8], summary: &Summary, timestamp_ns: u64) {
    out.extend_from_slice(series);
    out.extend_from_slice(b" hits=");
    write_unsigned(out, summary.hits);
    out.push(b'i');
    for (name, s) in &summary.fields {
        let count = i64::try_from(s.count).unwrap_or(i64::MAX);
        for (suffix, value) in [
            (&b"_count"[..], count),
            (b"_max", s.max),
            (b"_min", s.min),
            (b"_sum", s.sum),
        ] {
            out.push(b',');
            out.extend_from_slice(name);
            out.extend_from_slice(suffix);
            out.push(b'=');
            write_integer(out, value);
            out.push(b'i');
        }
    }
    out.push(b' ');
    write_unsigned(out, timestamp_ns);
    out.push(b'\n');
}

/// Reads a line of the line writer's making: series key, fields, timestamp. String fields are
/// skipped; anything else unexpected makes the line not aggregable.
fn parse_line(line: &[u8]) -> Option<ParsedLine<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let series_end = unescaped(line, 0, |b| b == b' ')?;
    let series = &line[..series_end];
    if series.is_empty() {
        return None;
    }
    let mut at = series_end + 1;
    let mut hits = None;
    let mut integers = Vec::new();
    loop {
        let eq = unescaped(line, at, |b| b == b'=' || b == b' ' || b == b',')?;
        if line[eq] != b'=' {
            return None;
        }
        let name = &line[at..eq];
        at = eq + 1;
        if line.get(at) == Some(&b'"') {
            at = string_end(line, at + 1)? + 1;
        } else {
            let end = at + line[at..].iter().position(|&b| b == b',' || b == b' ')?;
            let value = line[at..end].strip_suffix(b"i")?;
            let value: i64 = std::str::from_utf8(value).ok()?.parse().ok()?;
            if name == b"hits" {
                hits = Some(u64::try_from(value).ok()?);
            } else {
                integers.push((name, value));
            }
            at = end;
        }
        match line.get(at) {
            Some(b',') => at += 1,
            Some(b' ') => break,
            _ => return None,
        }
    }
    let timestamp = &line[at + 1..];
    if timestamp.is_empty() || !timestamp.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(ParsedLine {
        series,
        hits: hits?,
        integers,
    })
}

/// The first position from `from` whose byte `stop` accepts, skipping backslash escapes.
fn unescaped(line: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = from;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b if stop(b) => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The closing quote of a string field value starting at `from`.
fn string_end(line: &[u8], from: usize) -> Option<usize> {
    unescaped(line, from, |b| b == b'"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(table: &mut AggregationTable, ts: u64) -> Vec<String> {
        let mut lines = Vec::new();
        table.drain(ts, |l| lines.push(String::from_utf8(l.to_vec()).unwrap()));
        lines.sort();
        lines
    }

    #[test]
    fn identical_hits_become_one_line_with_their_count_and_field_summaries() {
        let mut table = AggregationTable::new(1 << 20);
        for (load, ts) in [(100, 1), (300, 2), (200, 3)] {
            let line = format!(
                "pageview,domain=example.com,page=/a hits=1i,load_ms={load}i,session_pages=2i,referrer=\"https://x.org/a b,c=\\\"d\" {ts}\n"
            );
            assert_eq!(table.add(line.as_bytes()), Added::Aggregated);
        }
        assert_eq!(
            table.add(b"event,domain=example.com,name=play,page=/a hits=1i 4\n"),
            Added::Aggregated
        );
        assert_eq!(table.hits(), 4);
        assert_eq!(
            drained(&mut table, 99),
            [
                "event,domain=example.com,name=play,page=/a hits=1i 99\n",
                "pageview,domain=example.com,page=/a hits=3i,load_ms_count=3i,load_ms_max=300i,\
                 load_ms_min=100i,load_ms_sum=600i,session_pages_count=3i,session_pages_max=2i,\
                 session_pages_min=2i,session_pages_sum=6i 99\n",
            ]
        );
        assert!(table.is_empty());
        assert_eq!(table.hits(), 0);
    }

    #[test]
    fn escaped_spaces_and_commas_stay_in_the_series_key() {
        let mut table = AggregationTable::new(1 << 20);
        let line = b"page\\ view,domain=example.com,page=/a\\ b\\,c\\=d hits=1i 5\n";
        assert_eq!(table.add(line), Added::Aggregated);
        assert_eq!(table.add(line), Added::Aggregated);
        assert_eq!(
            drained(&mut table, 7),
            ["page\\ view,domain=example.com,page=/a\\ b\\,c\\=d hits=2i 7\n"]
        );
    }

    #[test]
    fn a_hit_without_a_field_others_have_is_counted_but_not_in_that_fields_count() {
        let mut table = AggregationTable::new(1 << 20);
        table.add(b"p,d=x hits=1i 1\n");
        table.add(b"p,d=x hits=1i,load_ms=10i 2\n");
        assert_eq!(
            drained(&mut table, 3),
            ["p,d=x hits=2i,load_ms_count=1i,load_ms_max=10i,load_ms_min=10i,load_ms_sum=10i 3\n"]
        );
    }

    #[test]
    fn a_full_table_refuses_new_series_but_still_counts_known_ones() {
        let mut table = AggregationTable::new(200);
        assert_eq!(table.add(b"p,d=a hits=1i 1\n"), Added::Aggregated);
        assert_eq!(table.add(b"p,d=b hits=1i 1\n"), Added::Full);
        assert_eq!(table.add(b"p,d=a hits=1i 1\n"), Added::Aggregated);
        assert_eq!(drained(&mut table, 2), ["p,d=a hits=2i 2\n"]);
        assert_eq!(table.add(b"p,d=b hits=1i 1\n"), Added::Aggregated);
        let mut tiny = AggregationTable::new(10);
        assert_eq!(tiny.add(b"p,d=a hits=1i 1\n"), Added::Full);
        assert!(tiny.is_empty());
    }

    #[test]
    fn a_refused_line_and_those_after_it_stay_for_the_next_drain() {
        let mut table = AggregationTable::new(1 << 20);
        for d in ["a", "b", "c"] {
            table.add(format!("p,d={d} hits=1i 1\n").as_bytes());
            table.add(format!("p,d={d} hits=1i 1\n").as_bytes());
        }
        let mut first = Vec::new();
        let taken = table.drain_while(5, |l| {
            first.push(String::from_utf8(l.to_vec()).unwrap());
            first.len() < 2
        });
        assert_eq!(taken, 1);
        assert_eq!(table.series(), 2);
        assert_eq!(table.hits(), 4);
        let rest = drained(&mut table, 6);
        assert_eq!(rest.len(), 2);
        assert!(
            !rest.contains(&first[0].replace(" 5", " 6")),
            "{first:?} {rest:?}"
        );
        assert!(table.is_empty());
        // The limit is charged back: the table takes as much as before.
        assert_eq!(table.add(b"p,d=a hits=1i 1\n"), Added::Aggregated);
    }

    #[test]
    fn lines_it_cannot_summarise_are_left_alone() {
        let mut table = AggregationTable::new(1 << 20);
        for line in [
            &b"p,d=a load_ms=1i 1\n"[..],
            b"p,d=a hits=1 1\n",
            b"p,d=a hits=1.5 1\n",
            b"p,d=a hits=-1i 1\n",
            b"p,d=a hits=1i\n",
            b"p,d=a hits=1i x\n",
            b"p,d=a\n",
            b" hits=1i 1\n",
            b"p,d=a hits=1i,s=\"open 1\n",
            b"",
        ] {
            assert_eq!(
                table.add(line),
                Added::NotAggregable,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(table.is_empty());
    }
}
