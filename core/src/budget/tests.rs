//! The whole budget against a simple model, and under workers racing on one table.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;

use proptest::prelude::*;

use super::table::tests::table;
use super::{Admission, Budget, BudgetConfig, BudgetedTag};

const PERIOD_S: u64 = 60;

fn model_config(admit_after: u8) -> BudgetConfig {
    BudgetConfig {
        open_share: 0,
        period_s: PERIOD_S,
        admit_after,
        page: 4,
        referrer: 2,
        unlisted: 1,
        series: 3,
        // Small, so that values push each other out of it and the model must follow.
        doorkeeper_slots: 16,
        ..Default::default()
    }
}

/// Regions the property exercises: per-domain tags of two domains, and the global ones.
const REGIONS: [(Option<usize>, BudgetedTag); 5] = [
    (Some(0), BudgetedTag::Page),
    (Some(1), BudgetedTag::Page),
    (Some(0), BudgetedTag::Referrer),
    (None, BudgetedTag::Unlisted),
    (None, BudgetedTag::Series),
];

/// The specification, with plain sets: per region and epoch the admitted values; a value is
/// admitted when it is there, or when the budget has room and (for tags with a doorkeeper) the
/// doorkeeper slot it maps to still holds it from an earlier sighting. A full budget leaves the
/// doorkeeper alone. The slot a value maps to is the one thing taken from the implementation.
struct Model {
    config: BudgetConfig,
    admitted: HashMap<(usize, u64), HashSet<String>>,
    doorkeeper: HashMap<usize, (usize, String)>,
}

impl Model {
    fn admit(&mut self, region: usize, value: &str, doorkeeper_slot: usize, now_s: u64) -> Admission {
        let (_, tag) = REGIONS[region];
        let admitted = self.admitted.entry((region, now_s / PERIOD_S)).or_default();
        if admitted.contains(value) {
            return Admission::Admitted;
        }
        if admitted.len() >= self.config.budget_of(tag) as usize {
            return Admission::Overflow;
        }
        if tag.uses_doorkeeper() && self.config.admit_after == 2 {
            let entry = (region, value.to_owned());
            if self.doorkeeper.get(&doorkeeper_slot) != Some(&entry) {
                self.doorkeeper.insert(doorkeeper_slot, entry);
                return Admission::Overflow;
            }
        }
        admitted.insert(value.to_owned());
        Admission::Admitted
    }
}

fn doorkeeper_slot(budget: &Budget<'_>, region: usize, value: &str) -> usize {
    let (domain, tag) = REGIONS[region];
    let (_, mut builder) = budget.fingerprint_for(domain, tag).unwrap();
    let slots = budget.layout().doorkeeper().len().max(1);
    (builder.text(value).finish().position >> 32) as usize % slots
}

proptest! {
    #[test]
    fn admissions_match_the_model(
        admit_after in 1u8..=2,
        steps in prop::collection::vec((0..REGIONS.len(), 0u8..10, 0u64..90), 1..400),
    ) {
        let config = model_config(admit_after);
        let (layout, words) = table(config.clone(), 2, &[]);
        let budget = Budget::new(&layout, &words).unwrap();
        let mut model = Model { config, admitted: HashMap::new(), doorkeeper: HashMap::new() };
        // Time never goes back; ten periods or so over a run.
        let mut now_s = 1_000 * PERIOD_S;
        for (region, value, advance) in steps {
            now_s += advance / 10;
            let value = format!("v{value}");
            let slot = doorkeeper_slot(&budget, region, &value);
            let (domain, tag) = REGIONS[region];
            let expected = model.admit(region, &value, slot, now_s);
            prop_assert_eq!(
                budget.admit(domain, tag, &value, now_s),
                expected,
                "{:?} {} at {}",
                tag,
                value,
                now_s
            );
        }
    }
}

#[test]
fn racing_workers_never_pass_the_budget_and_find_what_they_admitted() {
    const BUDGET: u32 = 1_000;
    const NOW: u64 = 1_800_000_000;
    let config = BudgetConfig {
        open_share: 0,
        page: BUDGET,
        ..Default::default()
    };
    let (layout, words) = table(config, 1, &[]);
    let words: &[AtomicU64] = &words;
    let layout = &layout;
    let admitted_by_workers: Vec<HashSet<usize>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                scope.spawn(move || {
                    let budget = Budget::new(layout, words).unwrap();
                    let mut admitted = HashSet::new();
                    // Overlapping values in different orders, each seen several times.
                    for round in 0..3 {
                        for i in 0..3_000usize {
                            let value = (i * (2 * worker + 1) + round * 7) % 3_000;
                            let page = format!("/p/{value}");
                            if budget.admit(Some(0), BudgetedTag::Page, &page, NOW) == Admission::Admitted {
                                admitted.insert(value);
                            }
                        }
                    }
                    admitted
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let all: HashSet<usize> = admitted_by_workers.into_iter().flatten().collect();
    let budget = Budget::new(layout, words).unwrap();
    assert_eq!(all.len(), BUDGET as usize);
    assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW), BUDGET);
    for value in 0..3_000 {
        let expected = if all.contains(&value) {
            Admission::Admitted
        } else {
            Admission::Overflow
        };
        let page = format!("/p/{value}");
        assert_eq!(budget.admit(Some(0), BudgetedTag::Page, &page, NOW), expected);
    }
}

#[test]
fn racing_workers_on_the_same_new_values_admit_each_once() {
    // Without doorkeeper every worker tries to insert the same values at the same moment: lost
    // swaps to the same fingerprint must give their reservation back.
    const NOW: u64 = 1_800_000_000;
    let config = BudgetConfig {
        open_share: 0,
        admit_after: 1,
        page: 5_000,
        ..Default::default()
    };
    let (layout, words) = table(config, 1, &[]);
    let (layout, words) = (&layout, &words[..]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(move || {
                let budget = Budget::new(layout, words).unwrap();
                for i in 0..4_000 {
                    let page = format!("/p/{i}");
                    assert_eq!(
                        budget.admit(Some(0), BudgetedTag::Page, &page, NOW),
                        Admission::Admitted
                    );
                }
            });
        }
    });
    let budget = Budget::new(layout, words).unwrap();
    assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW), 4_000);
}
