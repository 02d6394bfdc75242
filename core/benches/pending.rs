//! Cost of cutting and consuming batches from a deep backlog: 500,000 pending lines, taken in
//! batches of 5,000 lines (at most 1 MiB), as the HTTP sink does after an outage.
//! `cargo bench -p analytics_core --bench pending` prints the time per batch (a plain timing
//! loop: the figure is for comparing changes on one machine, not an assertion).

use std::hint::black_box;
use std::time::Instant;

use analytics_core::pending::PendingLines;

const LINES: usize = 500_000;
const BATCH_LINES: usize = 5_000;

fn main() {
    let line = b"pageview,domain=example.com,page=/blog/post-1,device=desktop hits=1i 1795940673982000123\n";
    let mut pending = PendingLines::new(LINES * line.len());
    let start = Instant::now();
    for _ in 0..LINES {
        pending.push(line).unwrap();
    }
    let pushed = start.elapsed();
    println!(
        "{:<32} {:8.1} ns/line",
        "push",
        pushed.as_nanos() as f64 / LINES as f64
    );
    let start = Instant::now();
    let mut batches = 0u32;
    while !pending.is_empty() {
        let batch = black_box(pending.next_batch(1 << 20, BATCH_LINES)).len();
        black_box(pending.lines_in_front(batch));
        pending.consume(batch);
        batches += 1;
    }
    let drained = start.elapsed();
    println!(
        "{:<32} {:8.1} µs/batch ({batches} batches of {BATCH_LINES} lines from {LINES} pending)",
        "next_batch+lines_in_front+consume",
        drained.as_nanos() as f64 / 1e3 / f64::from(batches)
    );
}
