//! The optional parts of the browser script a site asks for (`analytics_agent features=`): each
//! combination is a script of its own, built ahead of time, so a site pays only for what it uses.

/// One optional part of the browser script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentFeature {
    /// Clicks on links to other sites, as the other site's host.
    Outbound,
    /// Clicks on links to files, by extension.
    Downloads,
    /// The time a page was visible.
    Engagement,
}

impl AgentFeature {
    /// In the order of their bits in [`AgentFeatures::index`].
    pub const ALL: [AgentFeature; 3] = [
        AgentFeature::Outbound,
        AgentFeature::Downloads,
        AgentFeature::Engagement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AgentFeature::Outbound => "outbound",
            AgentFeature::Downloads => "downloads",
            AgentFeature::Engagement => "engagement",
        }
    }
}

/// A set of [`AgentFeature`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentFeatures(u8);

/// How many scripts there are: one per set of features.
pub const AGENT_VARIANTS: usize = 1 << AgentFeature::ALL.len();

impl AgentFeatures {
    /// Reads `outbound,downloads,engagement` (any of them, in any order, each once).
    pub fn parse(list: &str) -> Result<AgentFeatures, String> {
        let mut features = AgentFeatures::default();
        for name in list.split(',') {
            let Some(bit) = AgentFeature::ALL.iter().position(|f| f.name() == name) else {
                return Err(format!(
                    "unknown feature \"{name}\" in \"features={list}\": use outbound, downloads and engagement, \
                     separated by commas"
                ));
            };
            if features.0 & (1 << bit) != 0 {
                return Err(format!(
                    "feature \"{name}\" is named twice in \"features={list}\""
                ));
            }
            features.0 |= 1 << bit;
        }
        Ok(features)
    }

    pub fn contains(self, feature: AgentFeature) -> bool {
        let bit = AgentFeature::ALL.iter().position(|f| *f == feature).unwrap_or(0);
        self.0 & (1 << bit) != 0
    }

    /// The script's place among the [`AGENT_VARIANTS`]: the bit of each feature in
    /// [`AgentFeature::ALL`] order (`agent/build.js` numbers its files the same way).
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_any_combination_in_any_order() {
        assert_eq!(AgentFeatures::parse("outbound").unwrap().index(), 1);
        assert_eq!(AgentFeatures::parse("downloads").unwrap().index(), 2);
        assert_eq!(AgentFeatures::parse("engagement").unwrap().index(), 4);
        let all = AgentFeatures::parse("engagement,outbound,downloads").unwrap();
        assert_eq!(all.index(), AGENT_VARIANTS - 1);
        assert!(AgentFeature::ALL.iter().all(|f| all.contains(*f)));
        let two = AgentFeatures::parse("downloads,engagement").unwrap();
        assert!(!two.contains(AgentFeature::Outbound) && two.contains(AgentFeature::Downloads));
    }

    #[test]
    fn refuses_unknown_empty_and_repeated_names() {
        for (list, says) in [
            ("", "unknown feature \"\""),
            ("outbound,", "unknown feature \"\""),
            ("Outbound", "unknown feature \"Outbound\""),
            ("download", "unknown feature \"download\""),
            ("outbound downloads", "unknown feature \"outbound downloads\""),
            ("outbound,outbound", "named twice"),
        ] {
            let e = AgentFeatures::parse(list).unwrap_err();
            assert!(e.contains(says), "{list:?}: {e}");
        }
    }
}
