//! The tags whose values a client chooses, and which therefore get a budget.
//!
//! Browser, platform, device and tz are not here: they are closed sets (a dozen browser families,
//! a handful of platform classes, three devices, the real time-zone offsets), so they cannot add
//! more than a fixed number of values.

/// A tag whose distinct values are bounded per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetedTag {
    /// `page` of page views; per domain.
    Page,
    /// `page` of not-found pages; per domain.
    NotFoundPage,
    /// `page` of custom events; per domain.
    EventPage,
    /// `name` of custom events; per domain.
    EventName,
    /// `referrer_domain` of page views and not-found pages; per domain.
    Referrer,
    /// The values of one campaign parameter (`utm_source`, ...), by its index in the layout's
    /// parameter list; per domain.
    Campaign(usize),
    /// `domain` of beacons for sites not on the allow-list; one budget for all of them.
    Unlisted,
    /// The values of one site tag (`analytics_tag`), by its index in the layout's site tag
    /// list; per domain.
    SiteTag(usize),
    /// The whole tag set of a line (measurement, domain and every tag): bounds the combinations
    /// of admitted values; one budget for all domains and measurements.
    Series,
}

impl BudgetedTag {
    /// How many kinds there are: the size of an array of per-kind counters.
    pub const KINDS: usize = 9;

    /// The kind's position in `0..KINDS`, the same for every campaign parameter.
    pub fn kind_index(self) -> usize {
        match self {
            BudgetedTag::Page => 0,
            BudgetedTag::NotFoundPage => 1,
            BudgetedTag::EventPage => 2,
            BudgetedTag::EventName => 3,
            BudgetedTag::Referrer => 4,
            BudgetedTag::Campaign(_) => 5,
            BudgetedTag::Unlisted => 6,
            BudgetedTag::Series => 7,
            BudgetedTag::SiteTag(_) => 8,
        }
    }

    /// The name used in logs and status counters, by kind index.
    pub fn kind_name(kind_index: usize) -> &'static str {
        const NAMES: [&str; BudgetedTag::KINDS] = [
            "page",
            "notfound_page",
            "event_page",
            "event_name",
            "referrer_domain",
            "campaign",
            "unlisted_domain",
            "series",
            "custom",
        ];
        NAMES.get(kind_index).copied().unwrap_or("unknown")
    }

    pub fn name(self) -> &'static str {
        BudgetedTag::kind_name(self.kind_index())
    }

    /// Whether each allow-listed domain has its own budget for this tag (otherwise there is one
    /// budget for all).
    pub fn is_per_domain(self) -> bool {
        !matches!(self, BudgetedTag::Unlisted | BudgetedTag::Series)
    }

    /// Whether a new value must be seen twice before it is admitted. Not for series: their parts
    /// have each passed the doorkeeper already, and making every new combination of real values
    /// wait would cost real pages their first hit much more often.
    pub fn uses_doorkeeper(self) -> bool {
        !matches!(self, BudgetedTag::Series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_distinct_indices_and_names() {
        let all = [
            BudgetedTag::Page,
            BudgetedTag::NotFoundPage,
            BudgetedTag::EventPage,
            BudgetedTag::EventName,
            BudgetedTag::Referrer,
            BudgetedTag::Campaign(3),
            BudgetedTag::Unlisted,
            BudgetedTag::Series,
            BudgetedTag::SiteTag(1),
        ];
        let mut indices: Vec<usize> = all.iter().map(|t| t.kind_index()).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..BudgetedTag::KINDS).collect::<Vec<_>>());
        let mut names: Vec<&str> = all.iter().map(|t| t.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BudgetedTag::KINDS);
        assert_eq!(BudgetedTag::Campaign(0).name(), BudgetedTag::Campaign(9).name());
    }
}
