//! Cost of the cardinality budget per beacon. `cargo bench -p analytics_core --bench budget`
//! prints nanoseconds per call (a plain timing loop, as in `pipeline.rs`: for comparing changes
//! on one machine, not an assertion).

use std::hint::black_box;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use analytics_core::budget::{apply_budget, new_key, Budget, BudgetConfig, BudgetLayout, BudgetedTag};
use analytics_core::line_protocol::write_page_view;
use analytics_core::{normalise, Beacon, DomainList, Measurement, Outcome, Policy};

const NOW: u64 = 1_800_000_000;
const BODY: &[u8] = br#"{"domain":"example.com","page":"/blog/post-1?utm_source=news","referrer":"https://news.example.org/item?id=1","utcoffset":-60,"platform":"Linux x86_64","load_ms":532,"session_pages":2}"#;

fn report(name: &str, start: Instant, rounds: usize) {
    let ns = start.elapsed().as_nanos() as f64 / rounds as f64;
    println!("{name:<40} {ns:8.1} ns/call");
}

fn main() {
    let policy = Policy::for_domains(DomainList::parse(["example.com"]).unwrap());
    let config = BudgetConfig {
        page: 1 << 20,
        ..Default::default()
    };
    let layout = BudgetLayout::new(&config, 1, &policy.campaign_params).unwrap();
    let words: Vec<AtomicU64> = (0..layout.words()).map(|_| AtomicU64::new(0)).collect();
    layout.initialise(&words, new_key()).unwrap();
    let budget = Budget::new(&layout, &words).unwrap();
    let admit = |page: &str| budget.admit(Some(0), BudgetedTag::Page, page, NOW);

    let real: Vec<String> = (0..5_000).map(|i| format!("/docs/page-{i}")).collect();
    for page in real.iter().chain(&real) {
        admit(page);
    }
    let rounds = 2_000_000;
    let start = Instant::now();
    for i in 0..rounds {
        black_box(admit(black_box(&real[i % real.len()])));
    }
    report("admit: already admitted", start, rounds);

    let fresh: Vec<String> = (0..500_000).map(|i| format!("/fresh/{i:08}")).collect();
    let start = Instant::now();
    for page in &fresh {
        black_box(admit(black_box(page)));
    }
    report("admit: new value, first sighting", start, fresh.len());
    let start = Instant::now();
    for page in &fresh {
        black_box(admit(black_box(page)));
    }
    report("admit: new value, second (admitted)", start, fresh.len());

    let measurement = Measurement::parse("pageview").unwrap();
    let mut out = Vec::with_capacity(1 << 20);
    let rounds = 1_000_000u64;
    for with_budget in [false, true] {
        let start = Instant::now();
        for i in 0..rounds {
            let beacon = Beacon::parse(black_box(BODY)).unwrap();
            let mut outcome = normalise(&beacon, &policy).unwrap();
            if with_budget {
                black_box(apply_budget(&mut outcome, &budget, Some(0), NOW));
            }
            let Outcome::PageView(record) = outcome else {
                unreachable!()
            };
            if out.len() > 1 << 19 {
                out.clear();
            }
            write_page_view(&mut out, &measurement, &record, i);
        }
        let name = if with_budget {
            "parse+normalise+budget+encode"
        } else {
            "parse+normalise+encode"
        };
        report(name, start, rounds as usize);
    }
}
