//! Robot detection against real `User-Agent`s: every string of today's browsers and apps in
//! `data/people.txt` is a person, every string of today's crawlers, previewers, monitors,
//! headless browsers and HTTP libraries in `data/robots.txt` is a robot. The files say where
//! their strings come from. A substring matcher fails the first file (a `CUBOT` phone, Telegram's
//! and Yandex's in-app browsers, Lynx with its `libwww-FM`).

use analytics_core::bots::{detect_bot, robot_mark, BotReason};

const PEOPLE: &str = include_str!("data/people.txt");
const ROBOTS: &str = include_str!("data/robots.txt");

/// The `User-Agent`s of a corpus file: every line but comments and blank lines.
fn agents(corpus: &str) -> Vec<&str> {
    corpus
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .collect()
}

#[test]
fn every_browser_and_app_is_a_person() {
    let people = agents(PEOPLE);
    assert!(people.len() >= 300, "the corpus lost lines: {}", people.len());
    let robots: Vec<String> = people
        .iter()
        .filter(|agent| detect_bot(Some(agent)).is_some())
        .map(|agent| {
            format!(
                "{agent}\n    taken for a robot because of {:?}",
                robot_mark(agent)
            )
        })
        .collect();
    assert!(
        robots.is_empty(),
        "{} people taken for robots:\n{}",
        robots.len(),
        robots.join("\n")
    );
}

#[test]
fn every_crawler_previewer_monitor_and_library_is_a_robot() {
    let robots = agents(ROBOTS);
    assert!(robots.len() >= 300, "the corpus lost lines: {}", robots.len());
    let people: Vec<&str> = robots
        .iter()
        .copied()
        .filter(|agent| detect_bot(Some(agent)) != Some(BotReason::UserAgent))
        .collect();
    assert!(
        people.is_empty(),
        "{} robots taken for people:\n{}",
        people.len(),
        people.join("\n")
    );
}

#[test]
fn the_corpora_have_no_string_in_common() {
    let people = agents(PEOPLE);
    for robot in agents(ROBOTS) {
        assert!(!people.contains(&robot), "{robot} is in both files");
    }
}

/// Pieces of `User-Agent`s, robots' and people's, with the delimiters between them and text that
/// is not ASCII: joined at random they make headers that reach every rule of the scanner.
const PIECES: &[&str] = &[
    "Mozilla/5.0",
    " ",
    "(",
    ")",
    ";",
    "/",
    ":",
    "@",
    "-",
    ".",
    "Android",
    "10",
    "de-DE",
    "CUBOT",
    "bot",
    "Googlebot",
    "Google-InspectionTool",
    "Google",
    "python-requests",
    "node",
    "HeadlessChrome",
    "spider",
    "http://",
    "crawler@example.org",
    "é",
    "€",
    "😀",
    "\t",
    "x",
];

fn user_agent() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        proptest::sample::select(PIECES).prop_map(str::to_owned),
        "[ -~é€]{0,3}"
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest::proptest! {
    /// A `User-Agent` is text from anyone: whatever it holds (delimiters, nesting, `@`, `://`,
    /// non-ASCII), it is judged without a panic, and the mark shown for a robot is a piece of it.
    #[test]
    fn any_user_agent_is_judged_and_its_mark_is_a_piece_of_it(agent in user_agent()) {
        if let Some(mark) = robot_mark(&agent) {
            proptest::prop_assert!(!mark.is_empty() && agent.contains(mark), "{mark:?} in {agent:?}");
        }
        let reason = detect_bot(Some(&agent));
        let trimmed = agent.trim();
        proptest::prop_assert_eq!(reason.is_some(), trimmed.is_empty() || robot_mark(trimmed).is_some());
    }
}
