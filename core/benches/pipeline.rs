//! Cost of the pure pipeline for one typical beacon: body → beacon → record → line.
//! `cargo bench -p analytics_core` prints nanoseconds per beacon (a plain timing loop: the figure
//! is for comparing changes on one machine, not an assertion).

use std::hint::black_box;
use std::time::Instant;

use analytics_core::bots::detect_bot;
use analytics_core::line_protocol::write_page_view;
use analytics_core::{normalise, Beacon, DomainList, Measurement, Outcome, Policy};

const BODY: &[u8] = br#"{"domain":"example.com","page":"/blog/post-1","referrer":"https://news.example.org/item?id=1","utcoffset":-60,"platform":"Linux x86_64","load_ms":532,"session_pages":2}"#;
/// A page full of identifiers: every segment and value takes the scrubber's slow path.
const HOSTILE_BODY: &[u8] = br#"{"domain":"example.com","page":"/user/bob%40example.com/orders/123456789012;jsessionid=0A1B2C3D?utm_source=newsletter&utm_term=%2B49-151-2345678","referrer":"https://mail.other.org/u/0/bob@example.com/inbox/FMfcgzGwHLfxkjhSjtDqLKBhZrFGpQhX","utcoffset":-60,"platform":"Linux x86_64","load_ms":532,"session_pages":2}"#;

fn main() {
    let allowed = Policy::for_domains(DomainList::parse(["example.com"]).unwrap());
    let agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    let start = Instant::now();
    for _ in 0..1_000_000 {
        black_box(detect_bot(black_box(Some(agent))));
    }
    println!(
        "{:<24} {:8.0} ns/beacon",
        "detect_bot",
        start.elapsed().as_nanos() as f64 / 1e6
    );
    let measurement = Measurement::parse("pageview").unwrap();
    let mut out = Vec::with_capacity(1 << 20);
    let rounds = 1_000_000u64;
    for (name, body, stage) in [
        ("parse", BODY, 1),
        ("parse+normalise", BODY, 2),
        ("parse+normalise+encode", BODY, 3),
        ("hostile, all stages", HOSTILE_BODY, 3),
    ] {
        let start = Instant::now();
        for i in 0..rounds {
            let beacon = Beacon::parse(black_box(body)).unwrap();
            if stage >= 2 {
                let Outcome::PageView(record) = normalise(&beacon, &allowed).unwrap() else {
                    unreachable!()
                };
                if stage >= 3 {
                    if out.len() > 1 << 19 {
                        out.clear();
                    }
                    write_page_view(&mut out, &measurement, &record, i);
                }
                black_box(&record);
            }
            black_box(&beacon);
        }
        let ns = start.elapsed().as_nanos() as f64 / rounds as f64;
        println!("{name:<24} {ns:8.0} ns/beacon");
    }
}
