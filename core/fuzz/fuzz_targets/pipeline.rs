//! Any body, through the whole pure pipeline (parse, normalise, cardinality budget, the same
//! outcome → line step as the handlers): it must never panic, and whatever it writes must be
//! exactly one line, with no carriage return, no other line break and no invisible character.
#![no_main]

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use analytics_core::budget::{apply_budget, new_key, Budget, BudgetConfig, BudgetLayout};
use analytics_core::normalise::invisible::is_invisible;
use analytics_core::outcome_line::{write_outcome, Measurements};
use analytics_core::{normalise, Beacon, DomainList, Outcome, Policy};
use libfuzzer_sys::fuzz_target;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::new(DomainList::parse(["example.com", "www.example.com"]).unwrap(), &["ref".to_owned()], true)
    })
}

/// A small budget, so that fuzzing reaches its overflow paths too.
fn budget() -> Budget<'static> {
    static TABLE: OnceLock<(BudgetLayout, Vec<AtomicU64>)> = OnceLock::new();
    let (layout, words) = TABLE.get_or_init(|| {
        let config = BudgetConfig {
            page: 8,
            referrer: 4,
            campaign: 4,
            series: 16,
            doorkeeper_slots: 64,
            ..BudgetConfig::default()
        };
        let layout = BudgetLayout::new(&config, 2, &policy().campaign_params).unwrap();
        let words: Vec<AtomicU64> = (0..layout.words()).map(|_| AtomicU64::new(0)).collect();
        layout.initialise(&words, new_key()).unwrap();
        (layout, words)
    });
    Budget::new(layout, words).unwrap()
}

fuzz_target!(|body: &[u8]| {
    let Ok(beacon) = Beacon::parse(body) else { return };
    let Ok(mut outcome) = normalise(&beacon, policy()) else { return };
    let domain_index = match &outcome {
        Outcome::PageView(r) | Outcome::NotFound(r) => policy().domains.hosts().iter().position(|h| *h == r.domain),
        Outcome::Event { domain, .. } => policy().domains.hosts().iter().position(|h| h == domain),
        Outcome::Unlisted { .. } => None,
    };
    apply_budget(&mut outcome, &budget(), domain_index, 1_800_000_000);
    let mut out = Vec::new();
    write_outcome(&mut out, &outcome, &Measurements::default(), 1);
    let line = std::str::from_utf8(&out).expect("UTF-8");
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "{line:?}");
    assert!(!line.contains('\r'), "{line:?}");
    assert!(!line[..line.len() - 1].chars().any(is_invisible), "{line:?}");
});
