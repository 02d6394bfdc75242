//! Any body, through the whole pure pipeline: it must never panic, and whatever it writes must be
//! exactly one line, with no carriage return, no other line break and no invisible character.
#![no_main]

use std::sync::OnceLock;

use analytics_core::line_protocol::{write_event, write_page_view, write_unlisted};
use analytics_core::normalise::invisible::is_invisible;
use analytics_core::{normalise, Beacon, DomainList, Measurement, Outcome, Policy};
use libfuzzer_sys::fuzz_target;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::new(DomainList::parse(["example.com", "www.example.com"]).unwrap(), &["ref".to_owned()], true)
    })
}

fuzz_target!(|body: &[u8]| {
    let Ok(beacon) = Beacon::parse(body) else { return };
    let Ok(outcome) = normalise(&beacon, policy()) else { return };
    let m = Measurement::parse("m").unwrap();
    let mut out = Vec::new();
    match outcome {
        Outcome::PageView(r) | Outcome::NotFound(r) => write_page_view(&mut out, &m, &r, 1),
        Outcome::Event { domain, page, name } => write_event(&mut out, &m, &domain, &page, name, 1),
        Outcome::Unlisted { domain } => write_unlisted(&mut out, &m, &domain, 1),
    }
    let line = std::str::from_utf8(&out).expect("UTF-8");
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "{line:?}");
    assert!(!line.contains('\r'), "{line:?}");
    assert!(!line[..line.len() - 1].chars().any(is_invisible), "{line:?}");
});
