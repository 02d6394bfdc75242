//! The cardinality budget in the scenarios it exists for, through the same steps as the shell
//! (body → beacon → normalised outcome → budget → line); the lines are read back with an
//! independent line-protocol parser, and what InfluxDB would count (distinct values per tag) is
//! counted from them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;

use analytics_core::budget::{apply_budget, Budget, BudgetConfig, BudgetLayout, BudgetedTag, OVERFLOW_VALUE};
use analytics_core::line_protocol::write_page_view;
use analytics_core::{normalise, Beacon, DomainList, Measurement, Outcome, Policy};

const NOW: u64 = 1_800_000_000;
/// A fixed key keeps the runs identical; the doorkeeper's losses depend on where values land.
const KEY: [u64; 2] = [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210];

struct Collector {
    policy: Policy,
    layout: BudgetLayout,
    words: Vec<AtomicU64>,
    /// Distinct values of each tag over all lines written: what InfluxDB's
    /// `max-values-per-tag` counts.
    values: HashMap<String, HashSet<String>>,
    series: HashSet<String>,
}

impl Collector {
    fn new(config: BudgetConfig) -> Collector {
        let policy = Policy::for_domains(DomainList::parse(["example.com"]).unwrap());
        let layout = BudgetLayout::new(&config, 1, &policy.campaign_params).unwrap();
        let words: Vec<AtomicU64> = (0..layout.words()).map(|_| AtomicU64::new(0)).collect();
        layout.initialise(&words, KEY).unwrap();
        Collector {
            policy,
            layout,
            words,
            values: HashMap::new(),
            series: HashSet::new(),
        }
    }

    fn budget(&self) -> Budget<'_> {
        Budget::new(&self.layout, &self.words).unwrap()
    }

    /// Records one page-view beacon; returns the tags of its line.
    fn record(&mut self, body: &str) -> HashMap<String, String> {
        let beacon = Beacon::parse(body.as_bytes()).unwrap();
        let mut outcome = normalise(&beacon, &self.policy).unwrap();
        let budget = Budget::new(&self.layout, &self.words).unwrap();
        apply_budget(&mut outcome, &budget, Some(0), NOW);
        let Outcome::PageView(record) = outcome else {
            panic!("{body}")
        };
        let mut line = Vec::new();
        write_page_view(&mut line, &Measurement::parse("pageview").unwrap(), &record, 1);
        let line = String::from_utf8(line).unwrap();
        let parsed = influxdb_line_protocol::parse_lines(&line)
            .next()
            .unwrap()
            .unwrap();
        let tags: HashMap<String, String> = parsed
            .series
            .tag_set
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
            .collect();
        for (key, value) in &tags {
            self.values.entry(key.clone()).or_default().insert(value.clone());
        }
        let mut series_key: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        series_key.sort_unstable();
        self.series.insert(series_key.join(","));
        tags
    }

    fn distinct(&self, tag: &str) -> usize {
        self.values.get(tag).map_or(0, HashSet::len)
    }
}

/// A deterministic stream of pseudo-random numbers (SplitMix64).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[derive(Clone, Copy)]
enum Visit {
    Real(usize),
    Junk(u64),
}

fn page_view(page: &str) -> String {
    format!(r#"{{"d":"example.com","g":"{page}","p":"Linux x86_64","utcoffset":-60}}"#)
}

/// 110,000 one-shot random pages mixed with 5,000 real pages seen five times each.
fn flood_and_real_traffic(random: &mut Random) -> Vec<Visit> {
    let mut visits: Vec<Visit> = (0..110_000).map(|_| Visit::Junk(random.next())).collect();
    visits.extend((0..5_000).flat_map(|page| [Visit::Real(page); 5]));
    random.shuffle(&mut visits);
    visits
}

fn real_page(i: usize) -> String {
    format!("/docs/page-{i}")
}

/// Ten random letters: distinct values that no identifier rule folds (a hex or numeric value
/// would be scrubbed to one placeholder before the budget ever saw it).
fn word(mut n: u64) -> String {
    (0..10)
        .map(|_| {
            let letter = b'a' + (n % 26) as u8;
            n /= 26;
            letter as char
        })
        .collect()
}

fn junk_page(n: u64) -> String {
    format!("/{}", word(n))
}

/// The doorkeeper alone: no share of the budget is open to first sightings.
fn doorkeeper_only() -> BudgetConfig {
    BudgetConfig {
        open_share: 0,
        ..BudgetConfig::default()
    }
}

#[test]
fn a_quiet_site_is_counted_exactly_and_a_flood_takes_at_most_the_open_share() {
    let mut collector = Collector::new(BudgetConfig::default());
    // 3,000 pages read once each: far below the budget, so every one is named at once.
    for i in 0..3_000 {
        assert_eq!(collector.record(&page_view(&real_page(i)))["page"], real_page(i));
    }
    // One-shot junk takes what is left of the open half (5,000 of 10,000) and no more.
    let mut random = Random(7);
    for _ in 0..110_000 {
        collector.record(&page_view(&junk_page(random.next())));
    }
    let budget = BudgetConfig::default().page;
    assert_eq!(
        collector.budget().admitted_count(Some(0), BudgetedTag::Page, NOW),
        budget / 2
    );
    // New real pages still get in once seen again; old ones keep their tags.
    for i in 3_000..8_000 {
        collector.record(&page_view(&real_page(i)));
        assert_eq!(collector.record(&page_view(&real_page(i)))["page"], real_page(i));
    }
    assert_eq!(collector.record(&page_view(&real_page(0)))["page"], real_page(0));
    assert_eq!(collector.distinct("page"), budget as usize / 2 + 5_000 + 1);
}

#[test]
fn a_flood_of_random_pages_stays_under_other_while_every_real_page_gets_its_tag() {
    let mut collector = Collector::new(doorkeeper_only());
    let mut random = Random(1);
    let mut real_pages_tagged = HashSet::new();
    for visit in flood_and_real_traffic(&mut random) {
        match visit {
            Visit::Junk(n) => {
                let tags = collector.record(&page_view(&junk_page(n)));
                assert_eq!(tags["page"], OVERFLOW_VALUE);
            }
            Visit::Real(i) => {
                let tags = collector.record(&page_view(&real_page(i)));
                if tags["page"] != OVERFLOW_VALUE {
                    assert_eq!(tags["page"], real_page(i));
                    real_pages_tagged.insert(i);
                }
            }
        }
    }
    assert_eq!(real_pages_tagged.len(), 5_000);
    // What InfluxDB would count: the real pages and the overflow value, far below its limits.
    assert_eq!(collector.distinct("page"), 5_001);
    assert!(collector.series.len() <= 5_001, "{}", collector.series.len());
    let budget = collector.budget();
    assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW), 5_000);
}

#[test]
fn with_a_tiny_budget_the_flood_still_gets_nothing_and_the_budget_is_exact() {
    let config = BudgetConfig {
        open_share: 0,
        page: 2_000,
        ..Default::default()
    };
    let mut collector = Collector::new(config);
    let mut random = Random(2);
    for visit in flood_and_real_traffic(&mut random) {
        let page = match visit {
            Visit::Junk(n) => junk_page(n),
            Visit::Real(i) => real_page(i),
        };
        let tags = collector.record(&page_view(&page));
        if let Visit::Junk(_) = visit {
            assert_eq!(tags["page"], OVERFLOW_VALUE);
        }
    }
    let pages = &collector.values["page"];
    assert_eq!(pages.len(), 2_001);
    assert!(pages
        .iter()
        .all(|p| p == OVERFLOW_VALUE || p.starts_with("/docs/page-")));
    let budget = collector.budget();
    assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW), 2_000);
}

#[test]
fn a_flood_that_repeats_each_value_fills_the_budget_and_no_more() {
    // The doorkeeper's limit: junk sent twice gets in until the budget is spent. Pages admitted
    // before keep their tags; the rest of the period new pages are counted under (other).
    let config = BudgetConfig {
        open_share: 0,
        page: 1_000,
        ..Default::default()
    };
    let mut collector = Collector::new(config);
    for i in 0..100 {
        collector.record(&page_view(&real_page(i)));
        collector.record(&page_view(&real_page(i)));
    }
    let mut random = Random(3);
    for _ in 0..20_000 {
        let page = junk_page(random.next());
        collector.record(&page_view(&page));
        collector.record(&page_view(&page));
    }
    assert_eq!(collector.distinct("page"), 1_001);
    for i in 0..100 {
        assert_eq!(collector.record(&page_view(&real_page(i)))["page"], real_page(i));
    }
    for i in 100..110 {
        collector.record(&page_view(&real_page(i)));
        assert_eq!(
            collector.record(&page_view(&real_page(i)))["page"],
            OVERFLOW_VALUE
        );
    }
    assert_eq!(
        collector.budget().admitted_count(Some(0), BudgetedTag::Page, NOW),
        1_000
    );
}

#[test]
fn random_referrers_and_campaign_values_never_reach_a_tag_or_the_referrer_field() {
    let mut collector = Collector::new(doorkeeper_only());
    let mut random = Random(4);
    for _ in 0..20_000 {
        let (host, campaign) = (random.next(), random.next());
        let body = format!(
            r#"{{"d":"example.com","g":"/?utm_campaign={campaign}","r":"https://{host}.example.org/{host}"}}"#,
            campaign = word(campaign),
            host = word(host)
        );
        let tags = collector.record(&body);
        assert_eq!(tags["referrer_domain"], OVERFLOW_VALUE);
        assert_eq!(tags["utm_campaign"], OVERFLOW_VALUE);
    }
    assert_eq!(collector.distinct("referrer_domain"), 1);
    assert_eq!(collector.distinct("utm_campaign"), 1);
    // The referrer URL field of those lines is the overflow value too (checked on one line).
    let beacon = Beacon::parse(br#"{"d":"example.com","g":"/","r":"https://fresh.example.net/x"}"#).unwrap();
    let mut outcome = normalise(&beacon, &collector.policy).unwrap();
    apply_budget(&mut outcome, &collector.budget(), Some(0), NOW);
    let Outcome::PageView(record) = outcome else {
        panic!()
    };
    let mut line = Vec::new();
    write_page_view(&mut line, &Measurement::parse("pageview").unwrap(), &record, 1);
    let line = String::from_utf8(line).unwrap();
    assert!(
        line.contains(r#"referrer="(other)""#) && !line.contains("fresh"),
        "{line}"
    );
}

#[test]
fn past_the_series_budget_lines_collapse_onto_a_few_overflow_series() {
    // No doorkeeper and roomy per-tag budgets, so that every line brings a new combination.
    let config = BudgetConfig {
        open_share: 0,
        admit_after: 1,
        series: 50,
        ..Default::default()
    };
    let mut collector = Collector::new(config);
    let mut random = Random(5);
    for _ in 0..5_000 {
        let n = random.next();
        let mut query = String::new();
        for (bit, param) in ["utm_source", "utm_medium", "utm_campaign"].iter().enumerate() {
            if n & (1 << bit) != 0 {
                query.push_str(&format!("&{param}=c{}", n % 97));
            }
        }
        let referrer = if n & 8 != 0 {
            format!(r#","r":"https://r{}.example.org/""#, n % 89)
        } else {
            String::new()
        };
        let body = format!(
            r#"{{"d":"example.com","g":"/p/{}?x=1{query}","p":"Linux x86_64","utcoffset":-60{referrer}}}"#,
            n % 1_000
        );
        collector.record(&body);
    }
    // The series budget, plus one platform × one tz × one device × referrer absent or (other)
    // × each of the three campaign parameters absent or (other).
    assert!(collector.series.len() <= 50 + 2 * 8, "{}", collector.series.len());
    assert!(collector.series.len() > 50);
    assert_eq!(
        collector.budget().admitted_count(None, BudgetedTag::Series, NOW),
        50
    );
}
