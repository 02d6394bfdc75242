//! The budgets applied to a whole normalised outcome, just before it becomes a line.

use std::borrow::Cow;

use super::fingerprint::FingerprintBuilder;
use super::table::{Admission, Budget};
use super::tag::BudgetedTag;
use super::OVERFLOW_VALUE;
use crate::normalise::referrer::Referrer;
use crate::normalise::script_event::EventDetail;
use crate::normalise::Outcome;
use crate::record::Record;

/// Which kinds of tag were replaced by the overflow value on one line: for the shell to count
/// per tag and to log by tag name (never by value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overflowed(u16);

impl Overflowed {
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `tag` overflowed; for `Campaign`, whether any campaign parameter did.
    pub fn contains(self, tag: BudgetedTag) -> bool {
        self.0 & (1 << tag.kind_index()) != 0
    }

    /// The kind indices ([`BudgetedTag::kind_index`]) that overflowed, for an array of counters;
    /// [`BudgetedTag::kind_name`] names them.
    pub fn kinds(self) -> impl Iterator<Item = usize> {
        (0..BudgetedTag::KINDS).filter(move |&kind| self.0 & (1 << kind) != 0)
    }

    fn insert(&mut self, tag: BudgetedTag) {
        self.0 |= 1 << tag.kind_index();
    }
}

/// What the series fingerprint starts with, so that equal tag sets of different measurements
/// stay different series.
#[derive(Clone, Copy)]
enum SeriesKind {
    PageView = 1,
    NotFound = 2,
    Event = 3,
}

/// Replaces every budgeted tag value of `outcome` that its budget does not admit by
/// [`OVERFLOW_VALUE`], then checks the line's whole tag set against the series budget and, if
/// that is spent, replaces all of its budgeted tags. The hit itself is always kept.
///
/// `domain_index` is the domain's position in the allow-list, `None` for unlisted beacons (given
/// `None`, an allowed beacon has every budgeted tag overflow). A referrer whose domain overflows
/// loses its URL too: a field is no tag, but an unbudgeted URL would carry exactly what the
/// budget keeps out.
pub fn apply_budget(
    outcome: &mut Outcome<'_>,
    budget: &Budget<'_>,
    domain_index: Option<usize>,
    now_s: u64,
) -> Overflowed {
    let mut overflowed = Overflowed::default();
    let mut admit = |tag: BudgetedTag, value: &str| {
        let admission = budget.admit(domain_index, tag, value, now_s);
        if admission == Admission::Overflow {
            overflowed.insert(tag);
        }
        admission
    };
    match outcome {
        Outcome::PageView(record) => {
            apply_to_record(record, BudgetedTag::Page, budget, &mut admit);
        }
        Outcome::NotFound(record) => {
            apply_to_record(record, BudgetedTag::NotFoundPage, budget, &mut admit);
        }
        Outcome::Event {
            page, name, detail, ..
        } => {
            if admit(BudgetedTag::EventPage, page) == Admission::Overflow {
                *page = Cow::Borrowed(OVERFLOW_VALUE);
            }
            if admit(BudgetedTag::EventName, name) == Admission::Overflow {
                *name = OVERFLOW_VALUE;
            }
            apply_to_event_detail(detail, &mut admit);
        }
        Outcome::Unlisted { domain } => {
            // Its only tag is the budgeted domain: the unlisted budget bounds its series.
            if admit(BudgetedTag::Unlisted, domain) == Admission::Overflow {
                *domain = OVERFLOW_VALUE.to_owned();
            }
            return overflowed;
        }
    }
    if admit_series(outcome, budget, domain_index, now_s) == Admission::Overflow {
        overflowed.insert(BudgetedTag::Series);
        overflow_every_budgeted_tag(outcome);
    }
    overflowed
}

fn apply_to_record(
    record: &mut Record<'_>,
    page_tag: BudgetedTag,
    budget: &Budget<'_>,
    admit: &mut impl FnMut(BudgetedTag, &str) -> Admission,
) {
    if admit(page_tag, &record.page) == Admission::Overflow {
        record.page = Cow::Borrowed(OVERFLOW_VALUE);
    }
    if let Referrer::External { domain, .. } = &record.referrer {
        if admit(BudgetedTag::Referrer, domain) == Admission::Overflow {
            overflow_referrer(&mut record.referrer);
        }
    }
    for (name, value) in &mut record.campaign {
        // A parameter the layout does not know has no budget, so its value is not stored.
        let tag = BudgetedTag::Campaign(budget.layout().campaign_index(name).unwrap_or(usize::MAX));
        if admit(tag, value) == Admission::Overflow {
            *value = OVERFLOW_VALUE.to_owned();
        }
    }
    for (name, value) in &mut record.site_tags {
        let tag = BudgetedTag::SiteTag(budget.layout().site_tag_index(name).unwrap_or(usize::MAX));
        if admit(tag, value) == Admission::Overflow {
            *value = OVERFLOW_VALUE.to_owned();
        }
    }
}

/// The script's own event tags share the budgets of their kind: an outbound link's host is another
/// site's host, as `referrer_domain` is; a downloaded file's path is a path of the site, as an
/// event's page is; its extension is a short word from a small set, as an event's name is.
fn apply_to_event_detail(
    detail: &mut EventDetail<'_>,
    admit: &mut impl FnMut(BudgetedTag, &str) -> Admission,
) {
    match detail {
        EventDetail::Outbound { target_domain } => {
            if admit(BudgetedTag::Referrer, target_domain) == Admission::Overflow {
                *target_domain = OVERFLOW_VALUE.to_owned();
            }
        }
        EventDetail::Download { extension, file } => {
            if admit(BudgetedTag::EventPage, file) == Admission::Overflow {
                *file = Cow::Borrowed(OVERFLOW_VALUE);
            }
            if admit(BudgetedTag::EventName, extension) == Admission::Overflow {
                *extension = OVERFLOW_VALUE.to_owned();
            }
        }
        EventDetail::None | EventDetail::Engagement { .. } => {}
    }
}

/// Admits the line's tag set (after the per-tag budgets) as one series. Its fingerprint holds the
/// measurement, the domain and every tag that the line will carry.
fn admit_series(
    outcome: &Outcome<'_>,
    budget: &Budget<'_>,
    domain_index: Option<usize>,
    now_s: u64,
) -> Admission {
    let Some((region, mut builder)) = budget.fingerprint_for(domain_index, BudgetedTag::Series) else {
        return Admission::Overflow;
    };
    builder.number(domain_index.map_or(u64::MAX, |d| d as u64));
    match outcome {
        Outcome::PageView(record) | Outcome::NotFound(record) => {
            let measurement = match outcome {
                Outcome::NotFound(_) => SeriesKind::NotFound,
                _ => SeriesKind::PageView,
            };
            builder.number(measurement as u64).text(&record.page);
            match &record.referrer {
                Referrer::External { domain, .. } => builder.number(1).text(domain),
                Referrer::None | Referrer::SameSite => builder.number(0),
            };
            builder.number(record.campaign.len() as u64);
            for (name, value) in &record.campaign {
                builder.text(name).text(value);
            }
            builder.number(record.site_tags.len() as u64);
            for (name, value) in &record.site_tags {
                builder.text(name).text(value);
            }
            feed_closed_set_tags(&mut builder, record);
        }
        Outcome::Event {
            page, name, detail, ..
        } => {
            builder.number(SeriesKind::Event as u64).text(page).text(name);
            match detail {
                EventDetail::Outbound { target_domain } => builder.number(1).text(target_domain),
                EventDetail::Download { extension, file } => builder.number(2).text(extension).text(file),
                EventDetail::None | EventDetail::Engagement { .. } => builder.number(0),
            };
        }
        Outcome::Unlisted { .. } => return Admission::Admitted,
    }
    budget.admit_fingerprint(&region, builder.finish(), now_s)
}

/// The closed-set tags by the very words the line writes for them (each type's `as_str` names
/// its values distinctly), so two records share this part of the fingerprint exactly when they
/// would write the same tags. No formatting, no allocation: this runs for every beacon.
fn feed_closed_set_tags(builder: &mut FingerprintBuilder, record: &Record<'_>) {
    builder
        .optional_text(record.browser.map(|b| b.as_str()))
        .optional_text(record.device.map(|d| d.as_str()))
        .optional_text(record.platform.map(|p| p.as_str()))
        .optional_signed(record.utc_offset.map(i64::from));
}

/// Past the series budget a line keeps its domain and `(other)` as its page, and nothing else
/// that forms a series: the closed-set tags (device, platform, tz) multiply too, so an overflowed
/// line of each measurement and domain falls onto one single series. Its fields (hits, load time,
/// session depth) stay, so totals remain right.
fn overflow_every_budgeted_tag(outcome: &mut Outcome<'_>) {
    match outcome {
        Outcome::PageView(record) | Outcome::NotFound(record) => {
            record.page = Cow::Borrowed(OVERFLOW_VALUE);
            record.referrer = Referrer::None;
            record.campaign.clear();
            record.site_tags.clear();
            record.browser = None;
            record.device = None;
            record.platform = None;
            record.utc_offset = None;
        }
        Outcome::Event {
            page, name, detail, ..
        } => {
            *page = Cow::Borrowed(OVERFLOW_VALUE);
            *name = OVERFLOW_VALUE;
            match detail {
                EventDetail::Outbound { target_domain } => *target_domain = OVERFLOW_VALUE.to_owned(),
                EventDetail::Download { extension, file } => {
                    *extension = OVERFLOW_VALUE.to_owned();
                    *file = Cow::Borrowed(OVERFLOW_VALUE);
                }
                EventDetail::None | EventDetail::Engagement { .. } => {}
            }
        }
        Outcome::Unlisted { domain } => *domain = OVERFLOW_VALUE.to_owned(),
    }
}

fn overflow_referrer(referrer: &mut Referrer) {
    if let Referrer::External { domain, url } = referrer {
        *domain = OVERFLOW_VALUE.to_owned();
        *url = OVERFLOW_VALUE.to_owned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::config::BudgetConfig;
    use crate::budget::table::tests::{small, table};
    use crate::line_protocol::write_page_view;
    use crate::normalise::client::Browser;
    use crate::normalise::platform::{Device, Platform};
    use crate::{normalise, Beacon, DomainList, Measurement, Policy};
    use proptest::prelude::*;

    const NOW: u64 = 1_800_000_000;

    fn policy() -> Policy {
        Policy::for_domains(DomainList::parse(["example.com", "www.example.com"]).unwrap())
    }

    /// The budgeted fields of an outcome after the budget.
    #[derive(Debug, PartialEq, Eq)]
    struct Kept {
        domain: String,
        page: String,
        referrer: Option<(String, String)>,
        campaign: Vec<(String, String)>,
        name: Option<String>,
    }

    /// Normalises `body` as the shell does and applies the budget.
    fn kept(body: &str, budget: &Budget<'_>, domain_index: Option<usize>) -> (Kept, Overflowed) {
        let beacon = Beacon::parse(body.as_bytes()).unwrap();
        let mut outcome = normalise(&beacon, &policy()).unwrap();
        let overflowed = apply_budget(&mut outcome, budget, domain_index, NOW);
        let kept = match outcome {
            Outcome::PageView(r) | Outcome::NotFound(r) => Kept {
                domain: r.domain.into_owned(),
                page: r.page.into_owned(),
                referrer: match r.referrer {
                    Referrer::External { domain, url } => Some((domain, url)),
                    _ => None,
                },
                campaign: r.campaign,
                name: None,
            },
            Outcome::Event {
                domain, page, name, ..
            } => Kept {
                domain: domain.into_owned(),
                page: page.into_owned(),
                referrer: None,
                campaign: Vec::new(),
                name: Some(name.to_owned()),
            },
            Outcome::Unlisted { domain } => Kept {
                domain,
                page: String::new(),
                referrer: None,
                campaign: Vec::new(),
                name: None,
            },
        };
        (kept, overflowed)
    }

    /// The line protocol of a page-view body after the budget.
    fn line_of(body: &str, budget: &Budget<'_>) -> (String, Overflowed) {
        let beacon = Beacon::parse(body.as_bytes()).unwrap();
        let mut outcome = normalise(&beacon, &policy()).unwrap();
        let overflowed = apply_budget(&mut outcome, budget, Some(0), NOW);
        let Outcome::PageView(record) = outcome else {
            panic!()
        };
        let mut line = Vec::new();
        write_page_view(&mut line, &Measurement::parse("pageview").unwrap(), &record, 1);
        (String::from_utf8(line).unwrap(), overflowed)
    }

    const FULL: &str = r#"{"d":"example.com","g":"/blog/x?utm_source=news&utm_campaign=spring","r":"https://news.example.org/item","p":"Linux x86_64","utcoffset":-60}"#;

    #[test]
    fn a_new_page_view_is_counted_under_other_until_seen_again() {
        let (layout, words) = table(small(), 2, &["utm_source", "utm_medium", "utm_campaign"]);
        let budget = Budget::new(&layout, &words).unwrap();
        let (first, overflowed) = line_of(FULL, &budget);
        assert!(first.contains(",page=(other)"), "{first}");
        assert!(first.contains(",referrer_domain=(other)"), "{first}");
        assert!(first.contains(",utm_source=(other)") && first.contains(",utm_campaign=(other)"));
        assert!(first.contains(r#"referrer="(other)""#), "{first}");
        assert!(!first.contains("news") && !first.contains("blog") && !first.contains("spring"));
        // The hit and the closed-set tags are kept.
        assert!(first.contains(",tz=-60") && first.contains("hits=1i"), "{first}");
        for tag in [BudgetedTag::Page, BudgetedTag::Referrer, BudgetedTag::Campaign(0)] {
            assert!(overflowed.contains(tag));
        }
        assert!(!overflowed.contains(BudgetedTag::Series));
        let names: Vec<&str> = overflowed.kinds().map(BudgetedTag::kind_name).collect();
        assert_eq!(names, ["page", "referrer_domain", "campaign"]);

        let (second, overflowed) = line_of(FULL, &budget);
        assert!(overflowed.is_empty(), "{second}");
        assert!(second.contains(",page=/blog/x,"), "{second}");
        assert!(second.contains(",referrer_domain=news.example.org"));
        assert!(second.contains(",utm_campaign=spring") && second.contains(",utm_source=news"));
        assert!(second.contains(r#"referrer="https://news.example.org/item""#));
    }

    #[test]
    fn over_the_series_budget_a_line_keeps_only_its_domain_and_other() {
        let config = BudgetConfig {
            open_share: 0,
            admit_after: 1,
            series: 2,
            ..small()
        };
        let (layout, words) = table(config, 1, &["utm_source", "utm_medium", "utm_campaign"]);
        let budget = Budget::new(&layout, &words).unwrap();
        let (line, overflowed) = line_of(FULL, &budget);
        assert!(overflowed.is_empty(), "{line}");
        let other_page = FULL.replace("/blog/x", "/blog/y");
        let (line, overflowed) = line_of(&other_page, &budget);
        assert!(overflowed.is_empty(), "{line}");
        // A third combination: the per-tag budgets admit /blog/z, the series budget does not.
        let third = FULL.replace("/blog/x", "/blog/z");
        let (line, overflowed) = line_of(&third, &budget);
        assert_eq!(
            overflowed.kinds().collect::<Vec<_>>(),
            [BudgetedTag::Series.kind_index()]
        );
        // Every overflowed page view of the domain falls onto this one series; the fields stay.
        assert!(
            line.starts_with("pageview,domain=example.com,page=(other) hits=1i"),
            "{line}"
        );
        // Known series keep their tags.
        let (line, overflowed) = line_of(FULL, &budget);
        assert!(overflowed.is_empty() && line.contains(",page=/blog/x,"), "{line}");
        // The same page with another time zone is another series.
        let (line, overflowed) = line_of(&FULL.replace("-60", "-120"), &budget);
        assert!(overflowed.contains(BudgetedTag::Series), "{line}");
    }

    #[test]
    fn events_and_unlisted_domains_have_their_budgets() {
        let (layout, words) = table(small(), 1, &[]);
        let budget = Budget::new(&layout, &words).unwrap();
        let event = r#"{"t":"event","n":"video-play","d":"example.com","g":"/v"}"#;
        let (first, overflowed) = kept(event, &budget, Some(0));
        assert_eq!(
            (first.page.as_str(), first.name.as_deref()),
            (OVERFLOW_VALUE, Some(OVERFLOW_VALUE))
        );
        assert_eq!(first.domain, "example.com");
        assert!(overflowed.contains(BudgetedTag::EventPage) && overflowed.contains(BudgetedTag::EventName));
        let (second, overflowed) = kept(event, &budget, Some(0));
        assert!(overflowed.is_empty());
        assert_eq!(
            (second.page.as_str(), second.name.as_deref()),
            ("/v", Some("video-play"))
        );

        let unlisted = r#"{"d":"evil.org","g":"/"}"#;
        let (first, overflowed) = kept(unlisted, &budget, None);
        assert_eq!(first.domain, OVERFLOW_VALUE);
        assert_eq!(
            overflowed.kinds().collect::<Vec<_>>(),
            [BudgetedTag::Unlisted.kind_index()]
        );
        assert_eq!(kept(unlisted, &budget, None).0.domain, "evil.org");
    }

    #[test]
    fn not_found_pages_have_their_own_page_budget() {
        let (layout, words) = table(
            BudgetConfig {
                open_share: 0,
                admit_after: 1,
                ..small()
            },
            1,
            &[],
        );
        let budget = Budget::new(&layout, &words).unwrap();
        for i in 0..50 {
            let body = format!(r#"{{"t":"notfound","d":"example.com","g":"/probe/{i}"}}"#);
            let expected = if i < 10 {
                format!("/probe/{i}")
            } else {
                OVERFLOW_VALUE.to_owned()
            };
            assert_eq!(kept(&body, &budget, Some(0)).0.page, expected);
        }
        assert_eq!(budget.admitted_count(Some(0), BudgetedTag::NotFoundPage, NOW), 10);
        assert_eq!(budget.admitted_count(Some(0), BudgetedTag::Page, NOW), 0);
    }

    #[test]
    fn without_a_domain_index_or_a_known_parameter_nothing_budgeted_is_kept() {
        let (layout, words) = table(
            BudgetConfig {
                open_share: 0,
                admit_after: 1,
                ..small()
            },
            1,
            &["utm_source"],
        );
        let budget = Budget::new(&layout, &words).unwrap();
        let (without_domain, _) = kept(FULL, &budget, None);
        assert_eq!(without_domain.page, OVERFLOW_VALUE);
        let other = Some((OVERFLOW_VALUE.to_owned(), OVERFLOW_VALUE.to_owned()));
        assert_eq!(without_domain.referrer, other);
        let (record, overflowed) = kept(FULL, &budget, Some(0));
        assert_eq!(record.page, "/blog/x");
        // utm_campaign is not in this layout.
        assert_eq!(
            record.campaign,
            [
                ("utm_campaign".to_owned(), OVERFLOW_VALUE.to_owned()),
                ("utm_source".to_owned(), "news".to_owned())
            ]
        );
        assert!(overflowed.contains(BudgetedTag::Campaign(0)));
    }

    /// The closed-set tags as the series fingerprint fed them before: through their `Debug`
    /// form, each ended by a byte UTF-8 never holds. The oracle for `feed_closed_set_tags`.
    fn feed_debug_forms(builder: &mut FingerprintBuilder, record: &Record<'_>) {
        use std::hash::Hasher;
        let forms = [
            format!("{:?}", record.browser),
            format!("{:?}", record.device),
            format!("{:?}", record.platform),
            format!("{:?}", record.utc_offset),
        ];
        for form in forms {
            builder.raw_hasher().write(form.as_bytes());
            builder.raw_hasher().write_u8(0xff);
        }
    }

    fn closed_set_record(
        (browser, device, platform, utc_offset): (
            Option<Browser>,
            Option<Device>,
            Option<Platform>,
            Option<i32>,
        ),
    ) -> Record<'static> {
        Record {
            domain: Cow::Borrowed("example.com"),
            page: Cow::Borrowed("/"),
            campaign: Vec::new(),
            referrer: Referrer::None,
            browser,
            platform,
            device,
            site_tags: Vec::new(),
            utc_offset,
            load_ms: None,
            session_pages: None,
        }
    }

    fn closed_set_tags(
    ) -> impl Strategy<Value = (Option<Browser>, Option<Device>, Option<Platform>, Option<i32>)> {
        (
            proptest::option::of(proptest::sample::select(Browser::ALL.to_vec())),
            proptest::option::of(proptest::sample::select(vec![
                Device::Mobile,
                Device::Tablet,
                Device::Desktop,
            ])),
            proptest::option::of(proptest::sample::select(Platform::ALL.to_vec())),
            proptest::option::of(prop_oneof![
                -2..2i32,
                (-48..48i32).prop_map(|q| q * 15),
                Just(i32::MIN),
                Just(i32::MAX)
            ]),
        )
    }

    proptest::proptest! {
        /// Two records share the closed-set part of the series fingerprint exactly when they did
        /// with the `Debug` forms: the budget tells the same series apart as before, so it admits
        /// and overflows the same lines.
        #[test]
        fn closed_set_tags_split_series_as_their_debug_forms_did(
            a in closed_set_tags(),
            other in closed_set_tags(),
            // Which fields `b` takes from `other` (the rest from `a`): pairs that differ in
            // one field only are the ones a careless fingerprint confuses.
            mask in 0u8..16,
            key in proptest::prelude::any::<[u64; 2]>(),
        ) {
            let b = (
                if mask & 1 != 0 { other.0 } else { a.0 },
                if mask & 2 != 0 { other.1 } else { a.1 },
                if mask & 4 != 0 { other.2 } else { a.2 },
                if mask & 8 != 0 { other.3 } else { a.3 },
            );
            let (a, b) = (closed_set_record(a), closed_set_record(b));
            let fingerprint = |record: &Record<'_>, feed: fn(&mut FingerprintBuilder, &Record<'_>)| {
                let mut builder = FingerprintBuilder::new(key, 3);
                feed(&mut builder, record);
                builder.finish()
            };
            let old_same = fingerprint(&a, feed_debug_forms) == fingerprint(&b, feed_debug_forms);
            let new_same = fingerprint(&a, feed_closed_set_tags) == fingerprint(&b, feed_closed_set_tags);
            proptest::prop_assert_eq!(old_same, new_same);
            proptest::prop_assert_eq!(new_same, a == b);
        }
    }

    #[test]
    fn closed_set_tag_words_are_distinct_within_each_type() {
        let distinct = |words: Vec<&str>| {
            let mut sorted = words.clone();
            sorted.sort_unstable();
            sorted.dedup();
            sorted.len() == words.len()
        };
        assert!(distinct(Browser::ALL.iter().map(|b| b.as_str()).collect()));
        assert!(distinct(Platform::ALL.iter().map(|p| p.as_str()).collect()));
        assert!(distinct(
            [Device::Mobile, Device::Tablet, Device::Desktop]
                .iter()
                .map(|d| d.as_str())
                .collect()
        ));
    }
}
