//! Browser, OS and device families against real `User-Agent`s: every line of
//! `data/people.txt` has its expected families in `data/families.txt` (checked against an
//! independent parser, see that file), and the scan finds them.

use analytics_core::normalise::client::scan_user_agent;

const PEOPLE: &str = include_str!("data/people.txt");
const FAMILIES: &str = include_str!("data/families.txt");

fn lines(corpus: &str) -> impl Iterator<Item = &str> {
    corpus
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
}

#[test]
fn every_person_has_expected_families() {
    let expected: Vec<&str> = lines(FAMILIES)
        .map(|line| line.splitn(4, '\t').nth(3).expect("four columns"))
        .collect();
    let people: Vec<&str> = lines(PEOPLE).collect();
    assert!(people.len() >= 300, "the corpus lost lines: {}", people.len());
    assert_eq!(
        expected, people,
        "families.txt must list people.txt's lines, in order"
    );
}

#[test]
fn every_user_agent_gets_its_expected_families() {
    let mut wrong = Vec::new();
    for line in lines(FAMILIES) {
        let [browser, os, device, agent] = line.splitn(4, '\t').collect::<Vec<_>>()[..] else {
            panic!("four columns: {line}")
        };
        let found = scan_user_agent(agent);
        let found = [
            found.browser.map_or("-", |b| b.as_str()),
            found.platform.map_or("-", |p| p.as_str()),
            found.device.map_or("-", |d| d.as_str()),
        ];
        if found != [browser, os, device] {
            wrong.push(format!(
                "{agent}\n    expected {browser}/{os}/{device}, found {found:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn every_family_of_the_vocabularies_is_seen() {
    use analytics_core::normalise::client::Browser;
    for browser in Browser::ALL {
        assert!(
            lines(FAMILIES).any(|line| line.starts_with(&format!("{}\t", browser.as_str()))),
            "no {browser:?} in the corpus"
        );
    }
}
