//! A sink that refuses every line: the bounded buffer fills, and every answered beacon is either
//! delivered or counted as dropped with a reason, in the status counters and in the error log.

mod common;

use common::*;

const BEACON: &str = r#"{"page":"/full","domain":"example.com","platform":"Linux x86_64"}"#;

#[test]
fn a_refusing_sink_loses_nothing_uncounted() {
    // Writing to /dev/full fails with ENOSPC: the sink keeps retrying and never delivers.
    let mut nginx = Nginx::start(
        r#"
    analytics_sink file:/dev/full buffer=4k flush=50ms exit_timeout=2s;
    server {
        listen 127.0.0.1:{port};
        location = /ping { analytics_beacon; analytics_domains example.com; }
        location = /status { analytics_status; }
    }"#,
    );
    let sent = 300;
    for _ in 0..sent {
        assert_eq!(nginx.beacon(BEACON).status, 204);
    }
    let status = nginx.status();
    assert_eq!(status["accepted"], sent);
    assert_eq!(status["lines_written"], 0);
    let full = status["dropped_buffer_full"].as_u64().unwrap();
    // 4 KiB per worker holds a few dozen lines; the rest must have been dropped and counted.
    assert!(full > 0 && full < sent, "dropped_buffer_full = {full}");

    // Quitting: the workers retry until the exit deadline, then count what they still hold.
    nginx.stop_with("QUIT");
    let log = nginx.error_log();
    let buffer_full = dropped_in_log(&log, "the pending buffer is full");
    let at_exit = dropped_in_log(&log, "the worker is exiting and the sink still refuses lines");
    assert_eq!(buffer_full, full, "{log}");
    assert_eq!(buffer_full + at_exit, sent, "{log}");
    assert!(log.contains("wait for the sink: file:"), "{log}");
}
