//! The aggregation table against an independent oracle: beacons go through the real pipeline
//! (normalise, `write_outcome`) into the table, which is drained early whenever it is full and
//! once at the end; the lines it writes are read back by an independent line-protocol parser.
//! Whatever the beacons, their order and the table's limit, per series the hits written add up to
//! the hits fed in, and the load-time summaries to those of the hits' own `load_ms`.

use std::collections::BTreeMap;

use analytics_core::aggregate::{Added, AggregationTable};
use analytics_core::outcome_line::{write_outcome, Measurements};
use analytics_core::{normalise, Beacon, DomainList, Policy};
use influxdb_line_protocol::FieldValue;
use proptest::prelude::*;

type SeriesKey = (String, Vec<(String, String)>);

#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    hits: i64,
    load_count: i64,
    load_sum: i64,
    load_min: Option<i64>,
    load_max: Option<i64>,
}

fn policy() -> Policy {
    Policy::new(
        DomainList::parse(["example.com", "www.example.com"]).unwrap(),
        &[],
        true,
    )
}

fn beacon_json(page: &str, referrer: &str, load: Option<u32>, kind: usize) -> String {
    let load = load.map_or(String::new(), |l| format!(r#","load_ms":"{l}""#));
    let kind = ["", r#","type":"notfound""#, r#","type":"event","name":"play""#][kind];
    format!(
        r#"{{"domain":"example.com","page":{page:?},"referrer":{referrer:?},"platform":"Linux x86_64","utcoffset":"0"{load}{kind}}}"#
    )
}

fn series_of(line: &influxdb_line_protocol::ParsedLine) -> SeriesKey {
    let tags = line
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (line.series.measurement.to_string(), tags)
}

fn integer(line: &influxdb_line_protocol::ParsedLine, name: &str) -> Option<i64> {
    line.field_set
        .iter()
        .find(|(k, _)| k.as_str() == name)
        .map(|(_, v)| match v {
            FieldValue::I64(n) => *n,
            other => panic!("{name} is {other:?}"),
        })
}

proptest! {
    #[test]
    fn hits_and_load_times_add_up_per_series_for_any_order_and_limit(
        hits in proptest::collection::vec(
            (
                prop::sample::select(vec!["/", "/a", "/a b", "/x,y=z", "/caf\u{e9}", "/\"q\"", "/a\\b"]),
                prop::sample::select(vec!["", "https://news.example.org/a b", "https://x.org/\"q\""]),
                proptest::option::of(0u32..600_000),
                0usize..3,
            ),
            1..300,
        ),
        limit in 100usize..4096,
    ) {
        let mut table = AggregationTable::new(limit);
        let mut written = Vec::new();
        let mut expected: BTreeMap<SeriesKey, Expected> = BTreeMap::new();
        let mut ts = 1u64;
        for (page, referrer, load, kind) in &hits {
            let json = beacon_json(page, referrer, *load, *kind);
            let beacon = Beacon::parse(json.as_bytes()).unwrap();
            let outcome = normalise(&beacon, &policy()).unwrap();
            let mut line = Vec::new();
            write_outcome(&mut line, &outcome, &Measurements::default(), ts);
            let text = String::from_utf8(line.clone()).unwrap();
            let parsed = influxdb_line_protocol::parse_lines(&text).next().unwrap().unwrap();
            let e = expected.entry(series_of(&parsed)).or_default();
            e.hits += 1;
            if let Some(l) = integer(&parsed, "load_ms") {
                e.load_count += 1;
                e.load_sum += l;
                e.load_min = Some(e.load_min.map_or(l, |m| m.min(l)));
                e.load_max = Some(e.load_max.map_or(l, |m| m.max(l)));
            }
            let mut added = table.add(&line);
            if added == Added::Full && !table.is_empty() {
                ts += 1;
                table.drain(ts, |l| written.push(l.to_vec()));
                added = table.add(&line);
            }
            match added {
                Added::Aggregated => {}
                // Larger than the whole table: queued as it is.
                Added::Full => written.push(line),
                Added::NotAggregable => prop_assert!(false, "not aggregable: {}", text),
            }
        }
        ts += 1;
        table.drain(ts, |l| written.push(l.to_vec()));

        let mut got: BTreeMap<SeriesKey, Expected> = BTreeMap::new();
        for line in &written {
            let text = String::from_utf8(line.clone()).unwrap();
            prop_assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
            let parsed = influxdb_line_protocol::parse_lines(&text).next().unwrap();
            let parsed = parsed.map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            let g = got.entry(series_of(&parsed)).or_default();
            g.hits += integer(&parsed, "hits").unwrap();
            // A line written as it is carries its own load_ms.
            if let Some(l) = integer(&parsed, "load_ms") {
                g.load_count += 1;
                g.load_sum += l;
                g.load_min = Some(g.load_min.map_or(l, |m| m.min(l)));
                g.load_max = Some(g.load_max.map_or(l, |m| m.max(l)));
            }
            if let Some(count) = integer(&parsed, "load_ms_count") {
                g.load_count += count;
                g.load_sum += integer(&parsed, "load_ms_sum").unwrap();
                let (min, max) = (integer(&parsed, "load_ms_min").unwrap(), integer(&parsed, "load_ms_max").unwrap());
                g.load_min = Some(g.load_min.map_or(min, |m| m.min(min)));
                g.load_max = Some(g.load_max.map_or(max, |m| m.max(max)));
            }
        }
        prop_assert_eq!(got, expected);
        prop_assert!(table.is_empty());
    }
}
