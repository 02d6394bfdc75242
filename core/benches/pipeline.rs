//! Cost of the pure pipeline for one typical beacon: request headers → families, body → beacon →
//! record → budget → line, as the beacon handler runs it. `cargo bench -p analytics_core` prints
//! nanoseconds per beacon for each stage added in turn: the fastest of several passes, which a
//! busy machine disturbs least (a plain timing loop: the figure is for comparing changes on one
//! machine, not an assertion).

use std::hint::black_box;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use analytics_core::bots::detect_bot;
use analytics_core::budget::{apply_budget, new_key, Budget, BudgetConfig, BudgetLayout};
use analytics_core::normalise::client::{client_families, ClientHeaders};
use analytics_core::outcome_line::{write_outcome, Measurements};
use analytics_core::{normalise_for_client, Beacon, DomainList, Outcome, Policy};

const BODY: &[u8] = br#"{"domain":"example.com","page":"/blog/post-1","referrer":"https://news.example.org/item?id=1","utcoffset":-60,"platform":"Linux x86_64","load_ms":532,"session_pages":2}"#;
/// A page full of identifiers: every segment and value takes the scrubber's slow path.
const HOSTILE_BODY: &[u8] = br#"{"domain":"example.com","page":"/user/bob%40example.com/orders/123456789012;jsessionid=0A1B2C3D?utm_source=newsletter&utm_term=%2B49-151-2345678","referrer":"https://mail.other.org/u/0/bob@example.com/inbox/FMfcgzGwHLfxkjhSjtDqLKBhZrFGpQhX","utcoffset":-60,"platform":"Linux x86_64","load_ms":532,"session_pages":2}"#;
const AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const NOW: u64 = 1_800_000_000;

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Stage {
    Parse,
    Normalise,
    Encode,
    Families,
    Budget,
}

fn main() {
    let policy = Policy::for_domains(DomainList::parse(["example.com"]).unwrap());
    let start = Instant::now();
    for _ in 0..1_000_000 {
        black_box(detect_bot(black_box(Some(AGENT))));
    }
    println!(
        "{:<32} {:8.0} ns/beacon",
        "detect_bot",
        start.elapsed().as_nanos() as f64 / 1e6
    );
    let config = BudgetConfig {
        page: 1 << 20,
        ..Default::default()
    };
    let layout = BudgetLayout::new(&config, 1, &policy.campaign_params).unwrap();
    let words: Vec<AtomicU64> = (0..layout.words()).map(|_| AtomicU64::new(0)).collect();
    layout.initialise(&words, new_key()).unwrap();
    let budget = Budget::new(&layout, &words).unwrap();
    let measurements = Measurements::default();
    let headers = ClientHeaders {
        user_agent: Some(AGENT),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(1 << 20);
    // `PIPELINE_ROUNDS=2000 PIPELINE_PASSES=1` for a run under callgrind (instructions per
    // function, which a busy machine does not disturb).
    let setting = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = setting("PIPELINE_ROUNDS", 200_000);
    let passes = setting("PIPELINE_PASSES", 9);
    for (name, body, last) in [
        ("parse", BODY, Stage::Parse),
        ("parse+normalise", BODY, Stage::Normalise),
        ("parse+normalise+encode", BODY, Stage::Encode),
        ("+families", BODY, Stage::Families),
        ("+families+budget (a beacon)", BODY, Stage::Budget),
        ("hostile, all stages", HOSTILE_BODY, Stage::Budget),
    ] {
        let mut fastest = f64::INFINITY;
        for _ in 0..passes {
            let start = Instant::now();
            for i in 0..rounds {
                let families = if last >= Stage::Families {
                    client_families(black_box(&headers))
                } else {
                    Default::default()
                };
                let beacon = Beacon::parse(black_box(body)).unwrap();
                if last >= Stage::Normalise {
                    let mut outcome = normalise_for_client(&beacon, &policy, &families).unwrap();
                    assert!(matches!(outcome, Outcome::PageView(_)));
                    if last >= Stage::Budget {
                        black_box(apply_budget(&mut outcome, &budget, Some(0), NOW));
                    }
                    if last >= Stage::Encode {
                        if out.len() > 1 << 19 {
                            out.clear();
                        }
                        black_box(write_outcome(&mut out, &outcome, &measurements, i));
                    }
                    black_box(&outcome);
                }
                black_box(&beacon);
            }
            fastest = fastest.min(start.elapsed().as_nanos() as f64 / rounds as f64);
        }
        println!("{name:<32} {fastest:8.0} ns/beacon");
    }
}
