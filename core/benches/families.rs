//! Cost of the browser, OS and device families per request, over the real `User-Agent`s of
//! `core/tests/data/people.txt`: `cargo bench -p analytics_core --bench families` prints
//! nanoseconds per request, next to robot detection's over the same headers (a plain timing
//! loop: the figure is for comparing changes on one machine, not an assertion).

use std::hint::black_box;
use std::time::Instant;

use analytics_core::bots::detect_bot;
use analytics_core::normalise::client::{client_families, ClientHeaders};

const PEOPLE: &str = include_str!("../tests/data/people.txt");

fn agents(corpus: &str) -> Vec<&str> {
    corpus
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .collect()
}

/// Nanoseconds per call of `f` over `rounds` passes of `agents`.
fn time(agents: &[&str], rounds: u32, f: impl Fn(&str)) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        for agent in agents {
            f(black_box(agent));
        }
    }
    start.elapsed().as_nanos() as f64 / (f64::from(rounds) * agents.len() as f64)
}

fn main() {
    let people = agents(PEOPLE);
    let chrome = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/151.0.0.0 Safari/537.36"];
    let families = |agent: &str| {
        black_box(client_families(&ClientHeaders {
            user_agent: Some(agent),
            ..Default::default()
        }));
    };
    let hinted = |agent: &str| {
        black_box(client_families(&ClientHeaders {
            user_agent: Some(agent),
            brands: Some(r#""Chromium";v="151", "Google Chrome";v="151", "Not-A.Brand";v="99""#),
            mobile: Some("?0"),
            platform: Some(r#""Windows""#),
        }));
    };
    let bots = |agent: &str| {
        black_box(detect_bot(Some(agent)));
    };
    time(&people, 10, families);
    time(&people, 10, bots);
    for (name, set, rounds) in [
        ("Chrome on Windows", &chrome[..], 2_000_000),
        ("people corpus", &people[..], 5_000),
    ] {
        println!(
            "{name:<20} families {:>6.0} ns/UA   with client hints {:>6.0} ns   robot detection {:>6.0} ns",
            time(set, rounds, families),
            time(set, rounds, hinted),
            time(set, rounds, bots),
        );
    }
}
