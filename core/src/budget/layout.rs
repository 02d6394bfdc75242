//! Where everything lives in the shared table of `AtomicU64` words, computed once at
//! configuration time.
//!
//! ```text
//! [signature, key0, key1]  header: the layout's signature marks an initialised table
//! [doorkeeper slots]       one lossy memory of values seen once, shared by all regions
//! [region]...              per region: one header word (epoch, admitted count) + capacity slots
//! ```
//! Regions: `unlisted_domain` and `series` first (global), then for each allow-listed domain
//! `page`, `notfound_page`, `event_page`, `event_name`, `referrer_domain`, and one per campaign
//! parameter.

use std::hash::Hasher;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use siphasher::sip::SipHasher13;

use super::config::BudgetConfig;
use super::fingerprint::BudgetKey;
use super::tag::BudgetedTag;

/// The largest table: shared memory is reserved whole at start, whatever the traffic.
pub const MAX_TABLE_BYTES: usize = 256 << 20;

/// Bumped whenever fingerprints or the meaning of slots change, so that a reload into a table
/// written by another version starts it afresh instead of misreading it.
const FORMAT_VERSION: u64 = 1;

const HEADER_WORDS: usize = 3;
const WORD_BYTES: usize = 8;

/// One region: a budget and its table of admitted fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Region {
    /// Where the region starts: part of every fingerprint, so regions never share one.
    pub id: usize,
    pub budget: u32,
    pub uses_doorkeeper: bool,
    /// The header word, then `capacity` slots (a power of two, at least twice the budget, so
    /// that admitted entries never fill more than half of it and probes stay short).
    pub words: Range<usize>,
}

/// The shape of one region within its block (the globals, or one domain's).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RegionShape {
    budget: u32,
    uses_doorkeeper: bool,
    /// From the start of the block.
    offset: usize,
    /// Header word plus slots.
    words: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetLayout {
    config: BudgetConfig,
    domains: usize,
    campaign_params: Vec<String>,
    site_tags: Vec<String>,
    doorkeeper: Range<usize>,
    /// `unlisted_domain`, `series`, starting at `global_start`.
    global: Vec<RegionShape>,
    global_start: usize,
    /// `page`, `notfound_page`, `event_page`, `event_name`, `referrer_domain`, campaign
    /// parameters; one block of `per_domain_words` per domain from `domains_start`.
    per_domain: Vec<RegionShape>,
    per_domain_words: usize,
    domains_start: usize,
    words: usize,
    signature: u64,
}

impl BudgetLayout {
    /// `domains` is the number of allow-listed domains (a beacon's domain index is its position
    /// in that list); `campaign_params` the campaign parameter names, in the order their index
    /// is given to [`BudgetedTag::Campaign`].
    pub fn new(
        config: &BudgetConfig,
        domains: usize,
        campaign_params: &[String],
    ) -> Result<BudgetLayout, String> {
        BudgetLayout::with_site_tags(config, domains, campaign_params, &[])
    }

    /// [`BudgetLayout::new`] with a budget for each of `site_tags` (`analytics_tag` names), in
    /// the order their index is given to [`BudgetedTag::SiteTag`].
    pub fn with_site_tags(
        config: &BudgetConfig,
        domains: usize,
        campaign_params: &[String],
        site_tags: &[String],
    ) -> Result<BudgetLayout, String> {
        config.validate()?;
        let too_big = || {
            format!(
                "the budget tables would need more than {} MiB of shared memory: lower the budgets \
                 or the number of domains",
                MAX_TABLE_BYTES >> 20
            )
        };
        let max_words = MAX_TABLE_BYTES / WORD_BYTES;
        let doorkeeper_slots = if config.admit_after >= 2 {
            (config.doorkeeper_slots as usize).next_power_of_two()
        } else {
            0
        };
        let doorkeeper = HEADER_WORDS..HEADER_WORDS + doorkeeper_slots;
        let global_tags = [BudgetedTag::Unlisted, BudgetedTag::Series];
        let per_domain_tags: Vec<BudgetedTag> = [
            BudgetedTag::Page,
            BudgetedTag::NotFoundPage,
            BudgetedTag::EventPage,
            BudgetedTag::EventName,
            BudgetedTag::Referrer,
        ]
        .into_iter()
        .chain((0..campaign_params.len()).map(BudgetedTag::Campaign))
        .chain((0..site_tags.len()).map(BudgetedTag::SiteTag))
        .collect();
        let (global, global_words) = block(config, &global_tags);
        let (per_domain, per_domain_words) = block(config, &per_domain_tags);
        let global_start = doorkeeper.end;
        let domains_start = global_start + global_words;
        let words = domains
            .checked_mul(per_domain_words)
            .and_then(|w| w.checked_add(domains_start))
            .filter(|&w| w <= max_words)
            .ok_or_else(too_big)?;
        let signature = signature(config, domains, campaign_params, site_tags);
        Ok(BudgetLayout {
            config: config.clone(),
            domains,
            campaign_params: campaign_params.to_vec(),
            site_tags: site_tags.to_vec(),
            doorkeeper,
            global,
            global_start,
            per_domain,
            per_domain_words,
            domains_start,
            words,
            signature,
        })
    }

    /// Number of `AtomicU64` words the shared table needs.
    pub fn words(&self) -> usize {
        self.words
    }

    pub fn bytes(&self) -> usize {
        self.words * WORD_BYTES
    }

    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    pub fn domains(&self) -> usize {
        self.domains
    }

    /// The index of a campaign parameter for [`BudgetedTag::Campaign`].
    pub fn campaign_index(&self, name: &str) -> Option<usize> {
        self.campaign_params.iter().position(|p| p == name)
    }

    /// The index of a site tag for [`BudgetedTag::SiteTag`].
    pub fn site_tag_index(&self, name: &str) -> Option<usize> {
        self.site_tags.iter().position(|t| t == name)
    }

    /// Whether `words` holds a table initialised for exactly this layout (kept across a reload
    /// that did not change the budgets, the domains or the campaign parameters).
    pub fn is_initialised(&self, words: &[AtomicU64]) -> bool {
        words.len() == self.words
            && words
                .first()
                .is_some_and(|w| w.load(Ordering::Acquire) == self.signature)
    }

    /// Empties the table and stores the key: for a new shared memory zone, or one left by a
    /// different layout. Workers must not be using the table meanwhile (nginx initialises zones
    /// before it starts them).
    pub fn initialise(&self, words: &[AtomicU64], key: BudgetKey) -> Result<(), String> {
        if words.len() != self.words {
            return Err(format!(
                "the budget table has {} words, the layout needs {}",
                words.len(),
                self.words
            ));
        }
        for word in words {
            word.store(0, Ordering::Relaxed);
        }
        if let [signature, key0, key1, ..] = words {
            key0.store(key[0], Ordering::Relaxed);
            key1.store(key[1], Ordering::Relaxed);
            // Last, and with Release: whoever sees the signature sees the key and the zeroes.
            signature.store(self.signature, Ordering::Release);
        }
        Ok(())
    }

    #[cfg(test)]
    fn signature(&self) -> u64 {
        self.signature
    }

    pub(crate) fn doorkeeper(&self) -> Range<usize> {
        self.doorkeeper.clone()
    }

    /// The region of `tag` for the domain at `domain_index` (ignored for global tags); `None`
    /// for a domain or campaign parameter outside the layout.
    pub(crate) fn region(&self, domain_index: Option<usize>, tag: BudgetedTag) -> Option<Region> {
        let (block_start, shape) = match tag {
            BudgetedTag::Unlisted => (self.global_start, self.global.first()?),
            BudgetedTag::Series => (self.global_start, self.global.get(1)?),
            _ => {
                let domain = domain_index.filter(|&d| d < self.domains)?;
                let within = match tag {
                    BudgetedTag::Page => 0,
                    BudgetedTag::NotFoundPage => 1,
                    BudgetedTag::EventPage => 2,
                    BudgetedTag::EventName => 3,
                    BudgetedTag::Referrer => 4,
                    BudgetedTag::Campaign(parameter) => {
                        (parameter < self.campaign_params.len()).then_some(5 + parameter)?
                    }
                    BudgetedTag::SiteTag(tag) => {
                        (tag < self.site_tags.len()).then_some(5 + self.campaign_params.len() + tag)?
                    }
                    BudgetedTag::Unlisted | BudgetedTag::Series => return None,
                };
                // Within the table (checked by `new`), so no overflow.
                let start = self.domains_start + domain * self.per_domain_words;
                (start, self.per_domain.get(within)?)
            }
        };
        let start = block_start + shape.offset;
        Some(Region {
            id: start,
            budget: shape.budget,
            uses_doorkeeper: shape.uses_doorkeeper,
            words: start..start + shape.words,
        })
    }
}

/// The shapes of consecutive regions for `tags`, and their total size in words.
fn block(config: &BudgetConfig, tags: &[BudgetedTag]) -> (Vec<RegionShape>, usize) {
    let mut offset = 0;
    let shapes = tags
        .iter()
        .map(|&tag| {
            let budget = config.budget_of(tag);
            // Budgets are at most 2^24 (validated), so this cannot overflow.
            let capacity = (2 * budget as usize).next_power_of_two();
            let shape = RegionShape {
                budget,
                uses_doorkeeper: tag.uses_doorkeeper() && config.admit_after >= 2,
                offset,
                words: 1 + capacity,
            };
            offset += shape.words;
            shape
        })
        .collect();
    (shapes, offset)
}

/// Everything that decides where things are and what slots mean, hashed with a fixed key: equal
/// layouts have equal signatures in every process and release. Never zero (zero means "not
/// initialised").
fn signature(config: &BudgetConfig, domains: usize, campaign_params: &[String], site_tags: &[String]) -> u64 {
    let mut hasher = SipHasher13::new_with_keys(0x6275_6467_6574, FORMAT_VERSION);
    for number in [
        FORMAT_VERSION,
        config.period_s,
        config.admit_after.into(),
        config.page.into(),
        config.notfound_page.into(),
        config.event_page.into(),
        config.event_name.into(),
        config.referrer.into(),
        config.campaign.into(),
        config.custom.into(),
        config.unlisted.into(),
        config.series.into(),
        config.doorkeeper_slots.into(),
        domains as u64,
        campaign_params.len() as u64,
        site_tags.len() as u64,
    ] {
        hasher.write_u64(number);
    }
    for name in campaign_params.iter().chain(site_tags) {
        hasher.write_u64(name.len() as u64);
        hasher.write(name.as_bytes());
    }
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utm() -> Vec<String> {
        ["utm_source", "utm_medium", "utm_campaign"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn regions_are_sized_from_the_budgets_and_tile_the_table() {
        let config = BudgetConfig::default();
        let layout = BudgetLayout::new(&config, 2, &utm()).unwrap();
        let mut end = HEADER_WORDS + (1 << 20);
        assert_eq!(layout.doorkeeper(), HEADER_WORDS..end);
        let in_order = [BudgetedTag::Unlisted, BudgetedTag::Series].map(|t| layout.region(None, t));
        let per_domain = |d| {
            [
                BudgetedTag::Page,
                BudgetedTag::NotFoundPage,
                BudgetedTag::EventPage,
                BudgetedTag::EventName,
                BudgetedTag::Referrer,
                BudgetedTag::Campaign(0),
                BudgetedTag::Campaign(1),
                BudgetedTag::Campaign(2),
            ]
            .map(|t| layout.region(Some(d), t))
        };
        let regions: Vec<Region> = in_order
            .into_iter()
            .chain(per_domain(0))
            .chain(per_domain(1))
            .map(Option::unwrap)
            .collect();
        for region in &regions {
            assert_eq!(region.words.start, end);
            let capacity = region.words.len() - 1;
            assert!(capacity.is_power_of_two() && capacity >= 2 * region.budget as usize);
            assert!(capacity < 4 * region.budget as usize);
            end = region.words.end;
        }
        assert_eq!(layout.words(), end);
        // page 32,768 + notfound 2,048 + event page 2,048 + event name 512 + referrer 2,048
        // + 3 × campaign 1,024, each plus a header word
        let per_domain = 32_768 + 2_048 + 2_048 + 512 + 2_048 + 3 * 1_024 + 8;
        // unlisted 2,048 + series 524,288, plus headers
        let global = 2_048 + 524_288 + 2;
        assert_eq!(layout.words(), HEADER_WORDS + (1 << 20) + global + 2 * per_domain);
        assert_eq!(layout.bytes(), layout.words() * 8);
    }

    #[test]
    fn every_tag_of_every_domain_has_its_own_region() {
        let layout = BudgetLayout::new(&BudgetConfig::default(), 3, &utm()).unwrap();
        let mut ids = Vec::new();
        for domain in 0..3 {
            for tag in [
                BudgetedTag::Page,
                BudgetedTag::NotFoundPage,
                BudgetedTag::EventPage,
                BudgetedTag::EventName,
                BudgetedTag::Referrer,
                BudgetedTag::Campaign(0),
                BudgetedTag::Campaign(1),
                BudgetedTag::Campaign(2),
            ] {
                let region = layout.region(Some(domain), tag).unwrap();
                assert_eq!(region.budget, BudgetConfig::default().budget_of(tag));
                ids.push(region.id);
            }
        }
        for tag in [BudgetedTag::Unlisted, BudgetedTag::Series] {
            assert_eq!(layout.region(None, tag), layout.region(Some(2), tag));
            ids.push(layout.region(None, tag).unwrap().id);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 3 * 8 + 2);
        assert_eq!(layout.region(Some(3), BudgetedTag::Page), None);
        assert_eq!(layout.region(None, BudgetedTag::Page), None);
        assert_eq!(layout.region(Some(0), BudgetedTag::Campaign(3)), None);
        assert_eq!(layout.campaign_index("utm_medium"), Some(1));
        assert_eq!(layout.campaign_index("ref"), None);
    }

    #[test]
    fn layouts_over_the_memory_cap_are_refused() {
        let config = BudgetConfig::default();
        // About 340 KiB per domain at the defaults, 12 MiB shared.
        assert!(BudgetLayout::new(&config, 600, &utm()).is_ok());
        let err = BudgetLayout::new(&config, 800, &utm()).unwrap_err();
        assert!(err.contains("256 MiB"), "{err}");
        assert!(BudgetLayout::new(&config, usize::MAX, &utm()).is_err());
        let huge = BudgetConfig {
            page: 1 << 24,
            ..Default::default()
        };
        assert!(BudgetLayout::new(&huge, 2, &[]).is_err());
        let invalid = BudgetConfig {
            page: 0,
            ..Default::default()
        };
        assert!(BudgetLayout::new(&invalid, 1, &[]).is_err());
    }

    #[test]
    fn without_doorkeeper_no_memory_is_reserved_for_it() {
        let config = BudgetConfig {
            admit_after: 1,
            ..Default::default()
        };
        let layout = BudgetLayout::new(&config, 1, &[]).unwrap();
        assert!(layout.doorkeeper().is_empty());
        assert!(!layout.region(Some(0), BudgetedTag::Page).unwrap().uses_doorkeeper);
    }

    #[test]
    fn signatures_change_with_anything_that_moves_a_region() {
        let config = BudgetConfig::default();
        let base = BudgetLayout::new(&config, 2, &utm()).unwrap().signature();
        assert_eq!(base, BudgetLayout::new(&config, 2, &utm()).unwrap().signature());
        assert_ne!(base, BudgetLayout::new(&config, 3, &utm()).unwrap().signature());
        let mut params = utm();
        params.swap(0, 1);
        assert_ne!(base, BudgetLayout::new(&config, 2, &params).unwrap().signature());
        let other = BudgetConfig {
            referrer: 999,
            ..Default::default()
        };
        assert_ne!(base, BudgetLayout::new(&other, 2, &utm()).unwrap().signature());
    }

    #[test]
    fn initialising_marks_the_table_and_a_wrong_size_is_refused() {
        let layout = BudgetLayout::new(
            &BudgetConfig {
                page: 4,
                series: 4,
                doorkeeper_slots: 16,
                ..Default::default()
            },
            1,
            &[],
        )
        .unwrap();
        let words: Vec<AtomicU64> = (0..layout.words()).map(|_| AtomicU64::new(7)).collect();
        assert!(!layout.is_initialised(&words));
        layout.initialise(&words, [11, 12]).unwrap();
        assert!(layout.is_initialised(&words));
        assert_eq!(words[1].load(Ordering::Relaxed), 11);
        assert!(words[HEADER_WORDS..]
            .iter()
            .all(|w| w.load(Ordering::Relaxed) == 0));
        assert!(layout.initialise(&words[1..], [1, 2]).is_err());
        assert!(!layout.is_initialised(&words[1..]));
    }
}
