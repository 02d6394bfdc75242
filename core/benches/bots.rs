//! Cost of robot detection per `User-Agent`, over the real strings of `core/tests/data/`:
//! `cargo bench -p analytics_core --bench bots` prints nanoseconds per header (a plain timing
//! loop: the figure is for comparing changes on one machine, not an assertion).

use std::hint::black_box;
use std::time::Instant;

use analytics_core::bots::detect_bot;

const PEOPLE: &str = include_str!("../tests/data/people.txt");
const ROBOTS: &str = include_str!("../tests/data/robots.txt");

fn agents(corpus: &str) -> Vec<&str> {
    corpus
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .collect()
}

/// Nanoseconds per header over `rounds` passes of `agents`.
fn time(agents: &[&str], rounds: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        for agent in agents {
            black_box(detect_bot(black_box(Some(agent))));
        }
    }
    start.elapsed().as_nanos() as f64 / (f64::from(rounds) * agents.len() as f64)
}

fn main() {
    let people = agents(PEOPLE);
    let robots = agents(ROBOTS);
    let chrome = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/151.0.0.0 Safari/537.36"];
    let mean_len = |set: &[&str]| set.iter().map(|a| a.len()).sum::<usize>() / set.len();
    // Warm up: the name table is built on first use.
    time(&people, 10);
    for (name, set, rounds) in [
        ("Chrome on Windows", &chrome[..], 2_000_000),
        ("people corpus", &people[..], 5_000),
        ("robot corpus", &robots[..], 5_000),
    ] {
        println!(
            "{name:<20} {:>4} strings, {:>3} bytes on average: {:6.0} ns/User-Agent",
            set.len(),
            mean_len(set),
            time(set, rounds)
        );
    }
}
