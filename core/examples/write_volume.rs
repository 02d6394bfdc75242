//! Write volume with and without `analytics_aggregate`, for a modelled realistic load, through
//! the real pipeline (beacon → normalise → line → aggregation table). Numbers for docs/scaling.md:
//!
//!     cargo run --release -p analytics_core --example write_volume
//!
//! The load: one site, 500 pages visited with Zipf-like popularity (page k has weight 1/k), 70 %
//! of hits without an outside referrer and the rest from 50 referring sites (also Zipf), four
//! platforms, two device kinds, six time zones, a load time on 90 % of hits, a session page count
//! on all. Hits arrive evenly; one worker's table (each worker aggregates on its own: with w
//! workers sharing the load, up to w times the aggregated lines).

use analytics_core::aggregate::{Added, AggregationTable};
use analytics_core::outcome_line::{write_outcome, Measurements};
use analytics_core::{normalise, Beacon, DomainList, Policy};

/// A small deterministic generator (xorshift64*), so the figures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// 1..=n with weight 1/k.
    fn zipf(&mut self, n: usize) -> usize {
        let total: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
        let mut x = (self.next() as f64 / u64::MAX as f64) * total;
        for k in 1..=n {
            x -= 1.0 / k as f64;
            if x <= 0.0 {
                return k;
            }
        }
        n
    }
}

fn beacon(rng: &mut Rng) -> String {
    let page = rng.zipf(500);
    let referrer = if rng.below(10) < 7 {
        String::new()
    } else {
        format!(
            "https://site-{}.example.org/articles/{}",
            rng.zipf(50),
            rng.below(1000)
        )
    };
    let platform = ["Win32", "MacIntel", "Linux x86_64", "iPhone"][rng.below(4) as usize];
    let tz = ["0", "-60", "-120", "300", "240", "-330"][rng.below(6) as usize];
    let load = if rng.below(10) < 9 {
        format!(r#","l":"{}""#, 200 + rng.below(3000))
    } else {
        String::new()
    };
    format!(
        r#"{{"d":"example.com","g":"/docs/section-{}/page-{page}","r":"{referrer}","p":"{platform}","z":"{tz}","s":"{}"{load}}}"#,
        page % 20,
        1 + rng.below(5)
    )
}

fn main() {
    let policy = Policy::new(DomainList::parse(["example.com"]).unwrap(), &[], true);
    let measurements = Measurements::default();
    println!("| hits/s | interval | lines/h plain | MB/h plain | lines/h aggregated | MB/h aggregated | bytes ratio |");
    println!("|---|---|---|---|---|---|---|");
    for rate in [10u64, 100, 1000] {
        for interval_s in [10u64, 60] {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let mut table = AggregationTable::new(1 << 30);
            let (mut plain_lines, mut plain_bytes) = (0u64, 0u64);
            let (mut agg_lines, mut agg_bytes) = (0u64, 0u64);
            let hits = rate * 3600;
            let mut line = Vec::new();
            for n in 0..hits {
                let body = beacon(&mut rng);
                let parsed = Beacon::parse(body.as_bytes()).unwrap();
                let outcome = normalise(&parsed, &policy).unwrap();
                line.clear();
                let ts = 1_795_940_673_982_000_000 + n * 1_000_000_000 / rate;
                write_outcome(&mut line, &outcome, &measurements, ts);
                plain_lines += 1;
                plain_bytes += line.len() as u64;
                assert_eq!(table.add(&line), Added::Aggregated);
                if (n + 1) % (rate * interval_s) == 0 || n + 1 == hits {
                    table.drain(ts, |l| {
                        agg_lines += 1;
                        agg_bytes += l.len() as u64;
                    });
                }
            }
            println!(
                "| {rate} | {interval_s} s | {plain_lines} | {:.2} | {agg_lines} | {:.2} | {:.1}× |",
                plain_bytes as f64 / 1e6,
                agg_bytes as f64 / 1e6,
                plain_bytes as f64 / agg_bytes as f64
            );
        }
    }
}
