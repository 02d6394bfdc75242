//! Privacy normalisation: from a well-typed [`Beacon`] to the [`Record`] that may be stored.
//!
//! The rules (see `docs/privacy.md`): the page is a path only, plus the campaign parameters the
//! site allows, with identifiers replaced by placeholders ([`scrub`]); the domain is a bare
//! lower-case host name (never an IP address) that must be on the allow-list; a referrer is kept
//! only when it is another site named by a host name, and then only as scheme + host + the first
//! segments of its path; the platform is one of a closed list of families with a mobile/desktop
//! class; the time zone offset is rounded to the quarter hour. Invisible characters never pass.
//! Nothing about the visitor (address, user agent, cookies, identifiers) is ever an input here.

pub mod campaign;
pub mod client;
pub mod domain;
pub mod invisible;
pub mod page;
pub mod platform;
pub mod referrer;
pub mod script_event;
pub mod scrub;
pub mod site_tag;
pub mod timezone;

use std::borrow::Cow;

use crate::beacon::{Beacon, BeaconError, BeaconKind};
use crate::policy::Policy;
use crate::record::Record;
use client::Families;
use script_event::EventDetail;

/// What a valid beacon becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// A page view of an allowed site.
    PageView(Record<'a>),
    /// A "not found" page of an allowed site: the same record, kept apart from page views so that
    /// mistyped and probing URLs do not inflate the page tags of real pages.
    NotFound(Record<'a>),
    /// A custom event on a page of an allowed site, or one of the script's own (outbound link,
    /// download, engagement) with its detail.
    Event {
        domain: Cow<'a, str>,
        page: Cow<'a, str>,
        name: &'a str,
        detail: EventDetail<'a>,
    },
    /// A beacon for a site not on the allow-list: only its (normalised, scrubbed) domain is kept,
    /// so abuse can be investigated without polluting the real data.
    Unlisted { domain: String },
}

/// [`normalise_for_client`] for a beacon whose request headers say nothing of the visitor's
/// software (the beacon's own `platform` and `mobile` then decide).
pub fn normalise<'a>(beacon: &'a Beacon<'_>, policy: &Policy) -> Result<Outcome<'a>, BeaconError> {
    normalise_for_client(beacon, policy, &Families::default())
}

/// The outcome of a beacon whose request headers gave `families`
/// ([`client::client_families`]): they win over the beacon's own `platform` and `mobile`,
/// which are used only where the headers said nothing.
pub fn normalise_for_client<'a>(
    beacon: &'a Beacon<'_>,
    policy: &Policy,
    families: &Families,
) -> Result<Outcome<'a>, BeaconError> {
    let allowed = &policy.domains;
    let core = domain::host_core(&beacon.domain).ok_or(BeaconError::Invalid {
        field: "domain",
        reason: "is not a host name",
    })?;
    let domain = domain::lower_case(core);
    // An address is never recorded as a site, neither allowed (the configuration refuses one)
    // nor unlisted: it would name a machine or a network, not a site.
    if domain::is_ip_literal(&domain) {
        return Err(BeaconError::Invalid {
            field: "domain",
            reason: "is an IP address, not a host name",
        });
    }
    if !allowed.contains(&domain) {
        return Ok(Outcome::Unlisted {
            domain: domain::host_without_identifiers(core, &domain),
        });
    }
    let (path, query) = page::split_page(&beacon.page);
    let page = match path {
        Cow::Borrowed(path) => page::normalise_path(path, policy.strip_trailing_slash),
        Cow::Owned(path) => Cow::Owned(page::normalise_path(&path, policy.strip_trailing_slash).into_owned()),
    };
    if let BeaconKind::Event { name } = &beacon.kind {
        if policy
            .event_names
            .as_ref()
            .is_some_and(|allowed| !allowed.iter().any(|a| a == name))
        {
            return Err(BeaconError::Invalid {
                field: "name",
                reason: "is not an event name this site records",
            });
        }
        return Ok(Outcome::Event {
            domain,
            page,
            name,
            detail: EventDetail::None,
        });
    }
    let script_event = match &beacon.kind {
        BeaconKind::Outbound { target } => Some(("outbound", script_event::outbound_detail(target)?)),
        BeaconKind::Download { file } => Some(("download", script_event::download_detail(file)?)),
        BeaconKind::Engagement { engaged_ms } => Some((
            "engagement",
            EventDetail::Engagement {
                engaged_ms: *engaged_ms,
            },
        )),
        _ => None,
    };
    if let Some((name, detail)) = script_event {
        return Ok(Outcome::Event {
            domain,
            page,
            name,
            detail,
        });
    }
    // The device class needs the raw string, which the platform family then replaces.
    let device = families
        .device
        .or_else(|| platform::classify_device(beacon.mobile, beacon.platform.as_deref()));
    let platform = families
        .platform
        .or_else(|| platform::normalise_platform(beacon.platform.as_deref()));
    let referrer = referrer::normalise_referrer(beacon.referrer.as_deref(), &domain, allowed);
    let campaign = query
        .map(|q| campaign::campaign_tags(&q, &policy.campaign_params))
        .unwrap_or_default();
    let record = Record {
        page,
        campaign,
        domain,
        referrer,
        browser: families.browser,
        platform,
        device,
        site_tags: Vec::new(),
        utc_offset: beacon.utc_offset.map(timezone::quantise_offset),
        load_ms: beacon.load_ms,
        session_pages: beacon.session_pages.filter(|_| policy.session_pages),
    };
    Ok(match beacon.kind {
        BeaconKind::NotFound => Outcome::NotFound(record),
        _ => Outcome::PageView(record),
    })
}

#[cfg(test)]
mod tests {
    use super::referrer::Referrer;
    use super::*;
    use crate::domain_list::DomainList;
    use crate::normalise::platform::{Device, Platform};

    fn allowed() -> Policy {
        Policy::for_domains(DomainList::parse(["example.com"]).unwrap())
    }

    #[test]
    fn campaign_parameters_are_kept_and_everything_else_in_the_query_is_not() {
        let beacon =
            Beacon::parse(br#"{"d":"example.com","g":"/a/?utm_source=news&token=s3cret&ref=x"}"#).unwrap();
        let Outcome::PageView(r) = normalise(&beacon, &allowed()).unwrap() else {
            panic!()
        };
        assert_eq!(r.page, "/a");
        assert_eq!(r.campaign, [("utm_source".to_owned(), "news".to_owned())]);
        let policy = Policy::new(
            DomainList::parse(["example.com"]).unwrap(),
            &["ref".to_owned()],
            false,
        );
        let Outcome::PageView(r) = normalise(&beacon, &policy).unwrap() else {
            panic!()
        };
        assert_eq!(r.page, "/a/");
        assert_eq!(
            r.campaign,
            [
                ("ref".to_owned(), "x".to_owned()),
                ("utm_source".to_owned(), "news".to_owned())
            ]
        );
    }

    #[test]
    fn an_allowed_beacon_becomes_a_page_view() {
        let beacon = Beacon::parse(
            br#"{"domain":"Example.com:443","page":"/a?b#c","referrer":"https://x.org/p?q","platform":"Linux x86_64","utcoffset":"-60","load_ms":"12","session_pages":2}"#,
        )
        .unwrap();
        let Outcome::PageView(r) = normalise(&beacon, &allowed()).unwrap() else {
            panic!()
        };
        assert_eq!(r.domain, "example.com");
        assert_eq!(r.page, "/a");
        assert_eq!(
            r.referrer,
            Referrer::External {
                domain: "x.org".into(),
                url: "https://x.org/p".into()
            }
        );
        assert_eq!(r.device, Some(Device::Desktop));
        assert_eq!(r.platform, Some(Platform::Linux));
        assert_eq!(
            (r.utc_offset, r.load_ms, r.session_pages),
            (Some(-60), Some(12), Some(2))
        );
    }

    #[test]
    fn session_pages_switched_off_leave_every_record_without_a_count() {
        let beacon = Beacon::parse(br#"{"d":"example.com","g":"/a","s":3}"#).unwrap();
        let notfound = Beacon::parse(br#"{"d":"example.com","g":"/b","s":4,"t":"notfound"}"#).unwrap();
        let mut policy = allowed();
        policy.session_pages = false;
        let (Outcome::PageView(view), Outcome::NotFound(missing)) = (
            normalise(&beacon, &policy).unwrap(),
            normalise(&notfound, &policy).unwrap(),
        ) else {
            panic!()
        };
        assert_eq!((view.session_pages, missing.session_pages), (None, None));
        let Outcome::PageView(view) = normalise(&beacon, &allowed()).unwrap() else {
            panic!()
        };
        assert_eq!(view.session_pages, Some(3));
    }

    fn page_view(body: &str) -> Record<'_> {
        let beacon = Box::leak(Box::new(Beacon::parse(body.as_bytes()).unwrap()));
        match normalise(beacon, &allowed()).unwrap() {
            Outcome::PageView(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_platform_is_a_family_and_the_device_comes_from_the_raw_string() {
        let r = page_view(r#"{"d":"example.com","g":"/","p":"Linux armv8l"}"#);
        assert_eq!(
            (r.platform, r.device),
            (Some(Platform::Android), Some(Device::Mobile))
        );
        let r = page_view(r#"{"d":"example.com","g":"/","p":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"}"#);
        assert_eq!(
            (r.platform, r.device),
            (Some(Platform::Other), Some(Device::Mobile))
        );
        let r = page_view(r#"{"d":"example.com","g":"/"}"#);
        assert_eq!((r.platform, r.device), (None, None));
    }

    #[test]
    fn the_time_zone_offset_is_rounded_to_the_quarter_hour() {
        assert_eq!(
            page_view(r#"{"d":"example.com","g":"/","z":-67}"#).utc_offset,
            Some(-60)
        );
        assert_eq!(
            page_view(r#"{"d":"example.com","g":"/","z":"-330"}"#).utc_offset,
            Some(-330)
        );
        assert_eq!(
            page_view(r#"{"d":"example.com","g":"/","z":838}"#).utc_offset,
            Some(840)
        );
    }

    #[test]
    fn an_ip_address_is_never_a_domain() {
        for d in [
            "127.0.0.1",
            "192.168.1.1:8080",
            "3232235777",
            "0x7f.1",
            "0300.0250.0.1",
            "10.1.",
        ] {
            let beacon = Beacon {
                domain: d.into(),
                page: "/".into(),
                ..Default::default()
            };
            assert_eq!(
                normalise(&beacon, &allowed()),
                Err(BeaconError::Invalid {
                    field: "domain",
                    reason: "is an IP address, not a host name"
                }),
                "{d}"
            );
        }
    }

    #[test]
    fn identifiers_in_unlisted_domains_are_replaced() {
        for (d, kept) in [
            ("4915123456789.evil.org", ":id.evil.org"),
            (
                "Bob-123e4567-e89b-12d3-a456-426614174000.evil.org",
                ":uuid.evil.org",
            ),
            ("evil.org", "evil.org"),
        ] {
            let beacon = Beacon {
                domain: d.into(),
                page: "/".into(),
                ..Default::default()
            };
            assert_eq!(
                normalise(&beacon, &allowed()).unwrap(),
                Outcome::Unlisted { domain: kept.into() },
                "{d}"
            );
        }
    }

    #[test]
    fn identifiers_are_scrubbed_from_every_page_kind() {
        let r = page_view(r#"{"d":"example.com","g":"/user/bob%40example.com?utm_source=bob@example.com"}"#);
        assert_eq!(r.page, "/user/:email");
        assert_eq!(r.campaign, [("utm_source".to_owned(), ":email".to_owned())]);
        let beacon =
            Beacon::parse(br#"{"t":"notfound","d":"example.com","g":"/order/123456789012"}"#).unwrap();
        let Outcome::NotFound(r) = normalise(&beacon, &allowed()).unwrap() else {
            panic!()
        };
        assert_eq!(r.page, "/order/:id");
        let beacon =
            Beacon::parse(br#"{"t":"event","n":"play","d":"example.com","g":"/v/+4915123456789"}"#).unwrap();
        let Outcome::Event { page, .. } = normalise(&beacon, &allowed()).unwrap() else {
            panic!()
        };
        assert_eq!(page, "/v/:phone");
    }

    #[test]
    fn events_keep_domain_page_and_name_only() {
        let beacon = Beacon::parse(
            br#"{"t":"event","n":"video-play","d":"example.com","g":"/v?id=7","r":"https://x.org/","p":"Win32"}"#,
        )
        .unwrap();
        assert_eq!(
            normalise(&beacon, &allowed()).unwrap(),
            Outcome::Event {
                domain: "example.com".into(),
                page: "/v".into(),
                name: "video-play",
                detail: EventDetail::None,
            }
        );
    }

    #[test]
    fn the_script_s_own_events_keep_their_detail_and_bypass_the_event_allow_list() {
        let mut policy = allowed();
        policy.event_names = Some(vec!["video-play".to_owned()]);
        for (body, name, detail) in [
            (
                r#"{"t":"outbound","h":"Docs.Other.org","d":"example.com","g":"/a?x=1"}"#,
                "outbound",
                EventDetail::Outbound {
                    target_domain: "docs.other.org".into(),
                },
            ),
            (
                r#"{"t":"download","f":"/f/123456789/Report.PDF","d":"example.com","g":"/a"}"#,
                "download",
                EventDetail::Download {
                    extension: "pdf".into(),
                    file: "/f/:id/Report.PDF".into(),
                },
            ),
            (
                r#"{"t":"engagement","e":"1500.4","d":"example.com","g":"/a"}"#,
                "engagement",
                EventDetail::Engagement { engaged_ms: 1500 },
            ),
        ] {
            let beacon = Beacon::parse(body.as_bytes()).unwrap();
            assert_eq!(
                normalise(&beacon, &policy).unwrap(),
                Outcome::Event {
                    domain: "example.com".into(),
                    page: "/a".into(),
                    name,
                    detail,
                },
                "{body}"
            );
        }
    }

    #[test]
    fn an_event_allow_list_refuses_other_names() {
        let mut policy = allowed();
        policy.event_names = Some(vec!["video-play".to_owned()]);
        let ok = Beacon::parse(br#"{"t":"event","n":"video-play","d":"example.com","g":"/"}"#).unwrap();
        assert!(matches!(normalise(&ok, &policy), Ok(Outcome::Event { .. })));
        let other = Beacon::parse(br#"{"t":"event","n":"spam-1234","d":"example.com","g":"/"}"#).unwrap();
        assert!(matches!(
            normalise(&other, &policy),
            Err(BeaconError::Invalid { field: "name", .. })
        ));
    }

    #[test]
    fn not_found_pages_become_not_found_records() {
        let beacon = Beacon::parse(br#"{"t":"notfound","d":"example.com","g":"/missing?x"}"#).unwrap();
        let Outcome::NotFound(r) = normalise(&beacon, &allowed()).unwrap() else {
            panic!()
        };
        assert_eq!(r.page, "/missing");
    }

    #[test]
    fn spoofed_domains_are_unlisted() {
        for d in ["example.com.evil.org", "evilexample.com", "sub.example.com"] {
            let beacon = Beacon {
                domain: d.into(),
                page: "/".into(),
                ..Default::default()
            };
            assert_eq!(
                normalise(&beacon, &allowed()).unwrap(),
                Outcome::Unlisted { domain: d.into() }
            );
        }
    }

    #[test]
    fn a_domain_that_is_no_host_is_refused() {
        let beacon = Beacon {
            domain: "a b\n".into(),
            page: "/".into(),
            ..Default::default()
        };
        assert!(matches!(
            normalise(&beacon, &allowed()),
            Err(BeaconError::Invalid { field: "domain", .. })
        ));
    }
}
