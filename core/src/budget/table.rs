//! The shared table seen through its layout: what the shell calls for each budgeted value.

use std::sync::atomic::{AtomicU64, Ordering};

use super::admitted_set::{AdmittedSet, Insertion, Lookup};
use super::doorkeeper::Doorkeeper;
use super::fingerprint::{BudgetKey, Fingerprint, FingerprintBuilder};
use super::layout::{BudgetLayout, Region};
use super::tag::BudgetedTag;

/// Whether a value may be stored as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Store [`super::OVERFLOW_VALUE`] instead.
    Overflow,
}

/// The budgets of all workers: a layout over a table of words, usually in nginx shared memory.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    layout: &'a BudgetLayout,
    words: &'a [AtomicU64],
    key: BudgetKey,
}

impl<'a> Budget<'a> {
    /// Refuses a table of another size, or one not initialised for this layout
    /// ([`BudgetLayout::initialise`]).
    pub fn new(layout: &'a BudgetLayout, words: &'a [AtomicU64]) -> Result<Budget<'a>, String> {
        if words.len() != layout.words() {
            return Err(format!(
                "the budget table has {} words, the layout needs {}",
                words.len(),
                layout.words()
            ));
        }
        if !layout.is_initialised(words) {
            return Err("the budget table is not initialised for this layout".to_owned());
        }
        let key = match words {
            [_, key0, key1, ..] => [key0.load(Ordering::Relaxed), key1.load(Ordering::Relaxed)],
            _ => return Err("the budget table has no header".to_owned()),
        };
        Ok(Budget { layout, words, key })
    }

    pub fn layout(&self) -> &'a BudgetLayout {
        self.layout
    }

    /// Whether `value` of `tag` may be stored for the domain at `domain_index` (its position in
    /// the allow-list; ignored for global tags) at `now_s` (seconds since the epoch). A domain or
    /// campaign parameter outside the layout gets Overflow: an unbudgeted value is never stored.
    pub fn admit(&self, domain_index: Option<usize>, tag: BudgetedTag, value: &str, now_s: u64) -> Admission {
        let Some(region) = self.layout.region(domain_index, tag) else {
            return Admission::Overflow;
        };
        let fingerprint = FingerprintBuilder::new(self.key, region.id).text(value).finish();
        self.admit_fingerprint(&region, fingerprint, now_s)
    }

    /// A fingerprint builder for a value of `tag`, for values made of several parts (series).
    pub(crate) fn fingerprint_for(
        &self,
        domain_index: Option<usize>,
        tag: BudgetedTag,
    ) -> Option<(Region, FingerprintBuilder)> {
        let region = self.layout.region(domain_index, tag)?;
        let builder = FingerprintBuilder::new(self.key, region.id);
        Some((region, builder))
    }

    pub(crate) fn admit_fingerprint(
        &self,
        region: &Region,
        fingerprint: Fingerprint,
        now_s: u64,
    ) -> Admission {
        let Some(set) = self.admitted_set(region) else {
            return Admission::Overflow;
        };
        let epoch = self.epoch(now_s);
        if set.lookup(fingerprint, epoch) == Lookup::Found {
            return Admission::Admitted;
        }
        // A full budget is checked before the doorkeeper so that values which could not be
        // admitted anyway do not push real ones out of its memory.
        if set.is_full(epoch) {
            return Admission::Overflow;
        }
        if region.uses_doorkeeper
            && !self.in_open_share(&set, region, epoch)
            && !self.doorkeeper().seen_before(fingerprint)
        {
            return Admission::Overflow;
        }
        match set.insert(fingerprint, epoch) {
            Insertion::Admitted => Admission::Admitted,
            Insertion::Full => Admission::Overflow,
        }
    }

    /// Whether the region is still within the share of its budget that new values take on first
    /// sight (`BudgetConfig::open_share`).
    fn in_open_share(&self, set: &AdmittedSet<'a>, region: &Region, epoch: u64) -> bool {
        let open = u64::from(region.budget) * u64::from(self.layout.config().open_share) / 100;
        u64::from(set.admitted(epoch)) < open
    }

    /// Values admitted so far in the current period (for status pages and tests).
    pub fn admitted_count(&self, domain_index: Option<usize>, tag: BudgetedTag, now_s: u64) -> u32 {
        self.layout
            .region(domain_index, tag)
            .and_then(|region| self.admitted_set(&region))
            .map_or(0, |set| set.admitted(self.epoch(now_s)))
    }

    fn epoch(&self, now_s: u64) -> u64 {
        // The period is validated to be at least a minute: never zero.
        now_s / self.layout.config().period_s.max(1)
    }

    fn admitted_set(&self, region: &Region) -> Option<AdmittedSet<'a>> {
        AdmittedSet::new(self.words.get(region.words.clone())?, region.budget)
    }

    fn doorkeeper(&self) -> Doorkeeper<'a> {
        Doorkeeper::new(self.words.get(self.layout.doorkeeper()).unwrap_or(&[]))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::budget::config::BudgetConfig;
    use crate::budget::fingerprint::new_key;

    /// A layout and an initialised table for it.
    pub(crate) fn table(
        config: BudgetConfig,
        domains: usize,
        params: &[&str],
    ) -> (BudgetLayout, Vec<AtomicU64>) {
        let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        let layout = BudgetLayout::new(&config, domains, &params).unwrap();
        let words: Vec<AtomicU64> = (0..layout.words()).map(|_| AtomicU64::new(0)).collect();
        layout.initialise(&words, new_key()).unwrap();
        (layout, words)
    }

    pub(crate) fn small() -> BudgetConfig {
        BudgetConfig {
            open_share: 0,
            page: 100,
            notfound_page: 10,
            event_page: 10,
            event_name: 10,
            referrer: 10,
            campaign: 5,
            unlisted: 10,
            series: 1_000,
            doorkeeper_slots: 1 << 16,
            ..Default::default()
        }
    }

    const DAY: u64 = 86_400;
    const NOW: u64 = 20_000 * DAY;

    #[test]
    fn a_value_seen_twice_is_admitted_and_stays_admitted() {
        let (layout, words) = table(small(), 1, &[]);
        let budget = Budget::new(&layout, &words).unwrap();
        let admit = |v| budget.admit(Some(0), BudgetedTag::Page, v, NOW);
        assert_eq!(admit("/a"), Admission::Overflow);
        assert_eq!(admit("/a"), Admission::Admitted);
        assert_eq!(admit("/a"), Admission::Admitted);
        assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW), 1);
    }

    #[test]
    fn one_shot_values_are_never_admitted() {
        let (layout, words) = table(small(), 1, &[]);
        let budget = Budget::new(&layout, &words).unwrap();
        for i in 0..100_000 {
            let junk = format!("/junk/{i}");
            assert_eq!(
                budget.admit(Some(0), BudgetedTag::Page, &junk, NOW),
                Admission::Overflow
            );
        }
        assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW), 0);
    }

    #[test]
    fn the_budget_is_exact_and_everything_past_it_overflows() {
        let (layout, words) = table(small(), 1, &[]);
        let budget = Budget::new(&layout, &words).unwrap();
        let mut admitted = 0;
        for i in 0..1_000 {
            let page = format!("/p/{i}");
            budget.admit(Some(0), BudgetedTag::Page, &page, NOW);
            if budget.admit(Some(0), BudgetedTag::Page, &page, NOW) == Admission::Admitted {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 100);
        assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW), 100);
        // The first 100 are the ones that got in, and still are.
        for i in 0..1_000 {
            let expected = if i < 100 {
                Admission::Admitted
            } else {
                Admission::Overflow
            };
            assert_eq!(
                budget.admit(Some(0), BudgetedTag::Page, &format!("/p/{i}"), NOW),
                expected
            );
        }
    }

    #[test]
    fn a_new_period_admits_again_without_clearing() {
        let (layout, words) = table(small(), 1, &[]);
        let budget = Budget::new(&layout, &words).unwrap();
        let fill = |now: u64, from: usize| {
            (from..from + 200)
                .filter(|i| {
                    let page = format!("/p/{i}");
                    budget.admit(Some(0), BudgetedTag::Page, &page, now);
                    budget.admit(Some(0), BudgetedTag::Page, &page, now) == Admission::Admitted
                })
                .count()
        };
        assert_eq!(fill(NOW, 0), 100);
        assert_eq!(fill(NOW + DAY - 1, 1_000), 0);
        // The next day: a hundred others get in. (Yesterday they met a full budget, which kept
        // them away from the doorkeeper too.)
        assert_eq!(fill(NOW + DAY, 1_000), 100);
        assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW + DAY), 100);
        // Yesterday's pages are not admitted today unless they come back within the budget.
        assert_eq!(
            budget.admit(Some(0), BudgetedTag::Page, "/p/0", NOW + DAY),
            Admission::Overflow
        );
    }

    #[test]
    fn without_doorkeeper_the_first_sighting_is_admitted() {
        let config = BudgetConfig {
            open_share: 0,
            admit_after: 1,
            ..small()
        };
        let (layout, words) = table(config, 1, &[]);
        let budget = Budget::new(&layout, &words).unwrap();
        assert_eq!(
            budget.admit(Some(0), BudgetedTag::Page, "/a", NOW),
            Admission::Admitted
        );
    }

    #[test]
    fn regions_are_separate() {
        let (layout, words) = table(small(), 2, &["utm_source"]);
        let budget = Budget::new(&layout, &words).unwrap();
        for _ in 0..2 {
            budget.admit(Some(0), BudgetedTag::Page, "/a", NOW);
        }
        assert_eq!(
            budget.admit(Some(0), BudgetedTag::Page, "/a", NOW),
            Admission::Admitted
        );
        assert_eq!(
            budget.admit(Some(1), BudgetedTag::Page, "/a", NOW),
            Admission::Overflow
        );
        assert_eq!(
            budget.admit(Some(0), BudgetedTag::NotFoundPage, "/a", NOW),
            Admission::Overflow
        );
        assert_eq!(
            budget.admit(Some(0), BudgetedTag::Campaign(0), "/a", NOW),
            Admission::Overflow
        );
        // Outside the layout: never admitted.
        assert_eq!(
            budget.admit(Some(2), BudgetedTag::Page, "/a", NOW),
            Admission::Overflow
        );
        assert_eq!(
            budget.admit(None, BudgetedTag::Page, "/a", NOW),
            Admission::Overflow
        );
        assert_eq!(
            budget.admit(Some(0), BudgetedTag::Campaign(1), "x", NOW),
            Admission::Overflow
        );
        assert_eq!(
            budget.admit(Some(0), BudgetedTag::Campaign(1), "x", NOW),
            Admission::Overflow
        );
    }

    #[test]
    fn series_need_no_second_sighting() {
        let (layout, words) = table(small(), 1, &[]);
        let budget = Budget::new(&layout, &words).unwrap();
        assert_eq!(
            budget.admit(None, BudgetedTag::Series, "s", NOW),
            Admission::Admitted
        );
        assert_eq!(
            budget.admit(None, BudgetedTag::Unlisted, "evil.org", NOW),
            Admission::Overflow
        );
    }

    #[test]
    fn a_short_or_uninitialised_table_is_refused() {
        let (layout, words) = table(small(), 1, &[]);
        assert!(Budget::new(&layout, &words[..words.len() - 1]).is_err());
        assert!(Budget::new(&layout, &[]).is_err());
        let blank: Vec<AtomicU64> = (0..layout.words()).map(|_| AtomicU64::new(0)).collect();
        assert!(Budget::new(&layout, &blank).is_err());
        let (other_layout, _) = table(small(), 2, &[]);
        assert!(Budget::new(&other_layout, &words).is_err());
    }

    #[test]
    fn tables_with_different_keys_fingerprint_differently() {
        let (layout, words) = table(small(), 1, &[]);
        let (_, other_words) = table(small(), 1, &[]);
        let a = Budget::new(&layout, &words).unwrap();
        let b = Budget::new(&layout, &other_words).unwrap();
        assert_ne!(a.key, b.key);
        let (region, mut builder_a) = a.fingerprint_for(Some(0), BudgetedTag::Page).unwrap();
        let (_, mut builder_b) = b.fingerprint_for(Some(0), BudgetedTag::Page).unwrap();
        assert_ne!(builder_a.text("/a").finish(), builder_b.text("/a").finish());
        assert_eq!(region, layout.region(Some(0), BudgetedTag::Page).unwrap());
    }
}
