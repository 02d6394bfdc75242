//! How many distinct values each budgeted tag may have per period, and what that guarantees.

use super::tag::BudgetedTag;

/// InfluxDB 1.x defaults (`max-series-per-database`, `max-values-per-tag`): past them a database
/// refuses whole batches.
pub const INFLUXDB_MAX_SERIES: u64 = 1_000_000;
pub const INFLUXDB_MAX_VALUES_PER_TAG: u64 = 100_000;

/// The largest budget of one tag: keeps every table and counter far from integer limits.
pub const MAX_BUDGET: u32 = 1 << 24;
pub const MAX_DOORKEEPER_SLOTS: u32 = 1 << 26;
pub const MIN_PERIOD_S: u64 = 60;
pub const MAX_PERIOD_S: u64 = 366 * 86_400;

/// The budgets. The defaults are chosen so that a normal site (thousands of real pages, hundreds
/// of referrers, a few dozen campaigns) never meets them, while one allow-listed domain under any
/// flood stays far below InfluxDB's default limits in a period (see [`BudgetConfig::bounds`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetConfig {
    /// Length of a budget period in seconds; periods are aligned to UTC (`now / period_s`).
    /// Default one day: dashboards are read by day, and a day is short enough that a page
    /// published today is not locked out for long once a flood filled the budget.
    pub period_s: u64,
    /// Sightings within the doorkeeper's memory before a new value gets its own tag: 2 (default)
    /// keeps one-shot random values out; 1 turns the doorkeeper off (first come, first served).
    pub admit_after: u8,
    /// Share of each budget, in percent, that new values take on first sight (default 50): a
    /// site that never comes near its budget is counted exactly, a page read once included. Past
    /// that share a new value must pass the doorkeeper, so a flood of one-shot values can take
    /// no more than this share, and the rest stays for real values seen again (`admit_after=2`).
    pub open_share: u8,
    /// Page-view pages per domain: 10,000. Large sites have a few thousand pages that are read
    /// on a given day; up to nine domains at this budget stay under InfluxDB's 100,000 values
    /// per tag.
    pub page: u32,
    /// Not-found pages per domain: 1,000. Enough to see which broken links matter; probing
    /// scanners produce unbounded junk here.
    pub notfound_page: u32,
    /// Pages of custom events per domain: 1,000. Events happen on a few pages (players, forms),
    /// and a page of an event is also a page view, so this need not match `page`.
    pub event_page: u32,
    /// Custom event names per domain: 200. Names are chosen by the site's own code.
    pub event_name: u32,
    /// Referrer domains per domain: 1,000. A site sees hundreds of referring sites a day at most.
    pub referrer: u32,
    /// Values of each campaign parameter per domain: 500. Campaigns are counted in dozens.
    pub campaign: u32,
    /// Values of each site tag (`analytics_tag`) per domain: 300. A country code has about 250.
    pub custom: u32,
    /// Domains of beacons for sites not on the allow-list, for all of them together: 1,000.
    /// Enough to investigate who sends them.
    pub unlisted: u32,
    /// Distinct tag sets (series) for all domains and measurements together: 200,000. Bounds
    /// the products of admitted values (10,000 pages × 1,000 referrers would be 10 million);
    /// real traffic forms tens of thousands of page × platform × tz × referrer combinations a day.
    pub series: u32,
    /// Size of the doorkeeper's memory of values seen once: 1,048,576 entries (8 MiB). Under a
    /// flood of N junk values per second an entry lives about `slots / N` seconds (105 s at
    /// 10,000/s), and a real page must be seen twice within that time to be admitted.
    pub doorkeeper_slots: u32,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            period_s: 86_400,
            admit_after: 2,
            open_share: 50,
            page: 10_000,
            notfound_page: 1_000,
            event_page: 1_000,
            event_name: 200,
            referrer: 1_000,
            campaign: 500,
            custom: 300,
            unlisted: 1_000,
            series: 200_000,
            doorkeeper_slots: 1 << 20,
        }
    }
}

/// What a configuration guarantees per period, whatever the clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The most distinct values of one tag key in one measurement (the budget of every domain,
    /// plus the overflow value).
    pub values_per_tag: u64,
    /// The most distinct series over all measurements.
    pub series: u64,
}

impl BudgetConfig {
    /// The budget of one tag, per domain or global as [`BudgetedTag::is_per_domain`] says.
    pub fn budget_of(&self, tag: BudgetedTag) -> u32 {
        match tag {
            BudgetedTag::Page => self.page,
            BudgetedTag::NotFoundPage => self.notfound_page,
            BudgetedTag::EventPage => self.event_page,
            BudgetedTag::EventName => self.event_name,
            BudgetedTag::Referrer => self.referrer,
            BudgetedTag::Campaign(_) => self.campaign,
            BudgetedTag::SiteTag(_) => self.custom,
            BudgetedTag::Unlisted => self.unlisted,
            BudgetedTag::Series => self.series,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_PERIOD_S..=MAX_PERIOD_S).contains(&self.period_s) {
            return Err(format!(
                "budget period must be between {MIN_PERIOD_S} s and {MAX_PERIOD_S} s"
            ));
        }
        if self.open_share > 100 {
            return Err("open_share must be a percentage from 0 to 100".to_owned());
        }
        if !(1..=2).contains(&self.admit_after) {
            return Err("admit_after must be 1 or 2".to_owned());
        }
        let budgets = [
            ("page", self.page),
            ("notfound_page", self.notfound_page),
            ("event_page", self.event_page),
            ("event_name", self.event_name),
            ("referrer_domain", self.referrer),
            ("campaign", self.campaign),
            ("custom", self.custom),
            ("unlisted_domain", self.unlisted),
            ("series", self.series),
        ];
        for (name, budget) in budgets {
            if !(1..=MAX_BUDGET).contains(&budget) {
                return Err(format!("budget of {name} must be between 1 and {MAX_BUDGET}"));
            }
        }
        if self.admit_after == 2 && !(1..=MAX_DOORKEEPER_SLOTS).contains(&self.doorkeeper_slots) {
            return Err(format!(
                "doorkeeper size must be between 1 and {MAX_DOORKEEPER_SLOTS} entries"
            ));
        }
        Ok(())
    }

    /// The arithmetic of the guarantee, for `domains` allow-listed domains and `campaign_params`
    /// campaign parameters:
    /// - values of one tag key per measurement ≤ domains × budget + 1 (the overflow value);
    /// - series ≤ the series budget (every line that passed it), plus for each domain the series
    ///   of lines that overflowed it (all their budgeted tags are `(other)` or absent, so page
    ///   views and not-found pages each form at most device × platform × tz × referrer (absent or
    ///   `(other)`) × 2^campaign_params series, events one), plus the unlisted domains (budget +
    ///   1; they are not counted against the series budget).
    ///
    /// These hold per period. Series stay in InfluxDB for its retention, so a flood that passes
    /// the doorkeeper (each junk value sent twice) can add this many new series in every period:
    /// the cumulative bound is the number of periods retained times this.
    pub fn bounds(&self, domains: usize, campaign_params: usize) -> Bounds {
        let domains = domains as u64;
        let widest_per_domain = [
            self.page,
            self.notfound_page,
            self.event_page,
            self.event_name,
            self.referrer,
            self.campaign,
            self.custom,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let values_per_tag = domains
            .saturating_mul(widest_per_domain.into())
            .max(self.unlisted.into())
            .saturating_add(1);
        // Lines past the series budget keep only their domain and `(other)`: one series per
        // domain for page views, one for not-found pages, one for events.
        let overflowed_per_domain = 3u64;
        let _ = campaign_params;
        let series = u64::from(self.series)
            .saturating_add(domains.saturating_mul(overflowed_per_domain))
            .saturating_add(u64::from(self.unlisted) + 1);
        Bounds {
            values_per_tag,
            series,
        }
    }

    /// [`BudgetConfig::bounds`] in words, with a warning when they exceed InfluxDB's defaults;
    /// for the configuration check to log.
    pub fn describe_bounds(&self, domains: usize, campaign_params: usize) -> String {
        let bounds = self.bounds(domains, campaign_params);
        let mut text = format!(
            "per {} s: at most {} values of any tag and {} series",
            self.period_s, bounds.values_per_tag, bounds.series
        );
        if bounds.values_per_tag > INFLUXDB_MAX_VALUES_PER_TAG || bounds.series > INFLUXDB_MAX_SERIES {
            text.push_str(&format!(
                " (over InfluxDB's default limits of {INFLUXDB_MAX_VALUES_PER_TAG} values per tag and \
                 {INFLUXDB_MAX_SERIES} series: lower the budgets or raise those limits)"
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_one_domain_stays_far_below_influxdb_limits() {
        let config = BudgetConfig::default();
        assert_eq!(config.validate(), Ok(()));
        let bounds = config.bounds(1, 3);
        assert_eq!(bounds.values_per_tag, 10_001);
        // 200,000 + one overflow series per measurement (3) + 1,001 unlisted
        assert_eq!(bounds.series, 200_000 + 3 + 1_001);
        assert!(bounds.series < INFLUXDB_MAX_SERIES / 3);
        assert!(!config.describe_bounds(1, 3).contains("over InfluxDB"));
    }

    #[test]
    fn too_many_domains_are_reported_against_influxdb_limits() {
        let config = BudgetConfig::default();
        assert!(config.bounds(9, 3).values_per_tag <= INFLUXDB_MAX_VALUES_PER_TAG);
        assert!(config.describe_bounds(10, 3).contains("over InfluxDB"));
        assert_eq!(config.bounds(usize::MAX, 200).series, u64::MAX);
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let bad = [
            BudgetConfig {
                period_s: 59,
                ..Default::default()
            },
            BudgetConfig {
                admit_after: 0,
                ..Default::default()
            },
            BudgetConfig {
                admit_after: 3,
                ..Default::default()
            },
            BudgetConfig {
                page: 0,
                ..Default::default()
            },
            BudgetConfig {
                series: MAX_BUDGET + 1,
                ..Default::default()
            },
            BudgetConfig {
                doorkeeper_slots: 0,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
        let no_doorkeeper = BudgetConfig {
            admit_after: 1,
            doorkeeper_slots: 0,
            ..Default::default()
        };
        assert_eq!(no_doorkeeper.validate(), Ok(()));
    }
}
