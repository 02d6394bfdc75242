//! What a site's configuration decides about its records.

use crate::domain_list::DomainList;
use crate::normalise::campaign::DEFAULT_CAMPAIGN_PARAMS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The sites whose beacons are recorded (`analytics_domains`).
    pub domains: DomainList,
    /// Query parameters kept as tags: the `utm_*` defaults plus `analytics_query_params`.
    pub campaign_params: Vec<String>,
    /// `analytics_trailing_slash strip` (the default): `/blog/` is recorded as `/blog`.
    pub strip_trailing_slash: bool,
    /// `analytics_event_names`: when set, the only event names recorded.
    pub event_names: Option<Vec<String>>,
    /// `analytics_session_pages on` (the default): records keep the beacon's count of pages seen
    /// in the tab. Off, no record has one, whatever the beacon says.
    pub session_pages: bool,
}

impl Policy {
    pub fn new(domains: DomainList, extra_params: &[String], strip_trailing_slash: bool) -> Policy {
        let mut campaign_params: Vec<String> =
            DEFAULT_CAMPAIGN_PARAMS.iter().map(|p| p.to_string()).collect();
        for p in extra_params {
            if !campaign_params.contains(p) {
                campaign_params.push(p.clone());
            }
        }
        Policy {
            domains,
            campaign_params,
            strip_trailing_slash,
            event_names: None,
            session_pages: true,
        }
    }

    /// A policy with the defaults, for the given sites.
    pub fn for_domains(domains: DomainList) -> Policy {
        Policy::new(domains, &[], true)
    }
}
