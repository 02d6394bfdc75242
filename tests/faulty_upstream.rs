//! The HTTP sink against a write API that misbehaves in each way an upstream can: broken or
//! hostile answers, answers that never end, a server that is down. Whatever the upstream does, the
//! worker must not crash, must keep its memory bounded, must keep serving other requests, must not
//! retry in a busy loop or write secrets into the error log, and once the upstream is healthy
//! again every answered beacon must be written or counted as dropped.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::faulty_upstream::{Behaviour, FaultyUpstream};
use common::load::Load;
use common::*;

const BEACON: &str = r#"{"page":"/faulty","domain":"example.com","platform":"Linux x86_64","load_ms":7}"#;
/// Sent to the upstream as a header: it must never reach the error log.
const TOKEN: &str = "s3cr3t-t0ken";
/// The sink's query string: it must never reach the error log either.
const QUERY: &str = "db=x";
/// The sink's `timeout=`.
const SINK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long after the fault begins a batch must have been counted as failed, when the upstream
/// holds the answer back: the timeout and a margin.
const FAILURE_DEADLINE: Duration = Duration::from_secs(4);
/// How long each fault lasts (past the deadline above, so that it can be checked).
const FAULT: Duration = Duration::from_millis(4500);
/// Functional bounds with a wide margin, not benchmarks: a sound worker stays far below them.
const MAX_WORKER_MEMORY: u64 = 200 << 20;
const MAX_MEDIAN_LATENCY: Duration = Duration::from_millis(100);
/// A request to `/fast` that takes this long (or fails) counts as this slow.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for the status page; a worker that takes longer is stuck.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the sink may take to deliver what it holds once the upstream is healthy: its back-off
/// after a few seconds of failures, and a margin.
const SETTLE: Duration = Duration::from_secs(30);
/// After a long outage the back-off has reached its ceiling (30 s).
const SETTLE_AFTER_OUTAGE: Duration = Duration::from_secs(45);

/// A moderate, steady stream of beacons while a fault lasts.
const STEADY: Clients = Clients {
    count: 2,
    pause: Duration::from_millis(2),
};
/// As many beacons as the clients can send.
const FULL: Clients = Clients {
    count: 4,
    pause: Duration::ZERO,
};

struct Clients {
    count: usize,
    pause: Duration,
}

/// One nginx with one worker whose HTTP sink writes to a faulty upstream. The upstream is declared
/// first so that it is dropped first: an answer that holds the worker ends before nginx is told
/// to stop.
struct Rig {
    upstream: FaultyUpstream,
    nginx: Nginx,
    /// The worker's pid when the test began: a crash would replace it.
    worker: u32,
}

/// What was measured while a fault lasted.
struct FaultRun {
    peak_memory: u64,
    latencies: Vec<Duration>,
    /// `batches_failed` at [`FAILURE_DEADLINE`], if the fault lasted that long.
    batches_failed_by_deadline: Option<u64>,
    answered_by_clients: usize,
}

/// Answered beacons against written and dropped lines, from the status page and the upstream.
#[derive(Debug)]
struct Ledger {
    /// `accepted + not_found + events`: every beacon answered with a line to write.
    answered: u64,
    lines_written: u64,
    /// The sum of every `dropped_*` counter.
    dropped: u64,
    /// Lines the upstream received and accepted.
    recorded: u64,
}

impl Ledger {
    fn balanced(&self) -> bool {
        self.answered == self.lines_written + self.dropped && self.recorded == self.lines_written
    }
}

/// Everything that went wrong in a scenario, reported together.
struct Findings {
    scenario: String,
    problems: Vec<String>,
}

impl Findings {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(problem());
        }
    }

    fn assert_none(self) {
        assert!(
            self.problems.is_empty(),
            "{}:\n- {}",
            self.scenario,
            self.problems.join("\n- ")
        );
    }
}

impl Rig {
    fn start() -> Rig {
        let upstream = FaultyUpstream::start(Behaviour::Accept);
        let nginx = Nginx::start_with(
            &format!(
                r#"
    analytics_sink {url} timeout={timeout}s flush=50ms exit_timeout=1s "header=Authorization: Token {TOKEN}";
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
        location = /fast {{ return 204; }}
    }}"#,
                url = upstream.url(&format!("/write?{QUERY}")),
                timeout = SINK_TIMEOUT.as_secs(),
            ),
            1,
        );
        // One beacon through the healthy upstream: the worker runs and the sink works.
        assert_eq!(nginx.beacon(BEACON).status, 204);
        let deadline = Instant::now() + Duration::from_secs(10);
        while upstream.lines().len() != 1 {
            assert!(Instant::now() < deadline, "{}", nginx.error_log());
            thread::sleep(Duration::from_millis(20));
        }
        let worker = nginx.only_worker();
        Rig {
            upstream,
            nginx,
            worker,
        }
    }

    /// Switches the upstream to `behaviour` and sends beacons for `length`, measuring the worker's
    /// memory and the latency of `/fast` every 100 ms.
    fn fault(&self, behaviour: Behaviour, clients: Clients, length: Duration) -> FaultRun {
        self.upstream.set(behaviour);
        let began = Instant::now();
        let load = Load::start(self.nginx.port, clients.count, BEACON, clients.pause);
        let mut run = FaultRun {
            peak_memory: 0,
            latencies: Vec::new(),
            batches_failed_by_deadline: None,
            answered_by_clients: 0,
        };
        while began.elapsed() < length {
            run.peak_memory = run
                .peak_memory
                .max(process::resident_bytes(self.worker).unwrap_or(0));
            if run.peak_memory > MAX_WORKER_MEMORY {
                break; // seen enough: do not let it grow further
            }
            run.latencies.push(latency(self.nginx.port, "/fast"));
            if run.batches_failed_by_deadline.is_none() && began.elapsed() >= FAILURE_DEADLINE {
                run.batches_failed_by_deadline = self
                    .nginx
                    .try_status(STATUS_TIMEOUT)
                    .map(|s| counter(&s, "batches_failed"));
            }
            thread::sleep(Duration::from_millis(100));
        }
        run.answered_by_clients = load.finish();
        run
    }

    /// The ledger, or `None` if the worker does not answer its status page.
    fn ledger(&self) -> Option<Ledger> {
        let status = self.nginx.try_status(STATUS_TIMEOUT)?;
        let sum = |names: &[&str]| names.iter().map(|n| counter(&status, n)).sum();
        Some(Ledger {
            answered: sum(&["accepted", "not_found", "events"]),
            lines_written: counter(&status, "lines_written"),
            dropped: sum(&DROPPED_COUNTERS),
            recorded: self.upstream.lines().len() as u64,
        })
    }

    fn worker_unchanged(&self) -> bool {
        self.nginx.worker_pids() == [self.worker] && process::is_running(self.worker)
    }

    /// Waits (at most `within`) until the ledger balances; gives up early if the worker changed,
    /// since what a crashed worker held is gone.
    fn settle(&self, within: Duration) -> Option<Ledger> {
        let deadline = Instant::now() + within;
        loop {
            let ledger = self.ledger();
            let balanced = ledger.as_ref().is_some_and(Ledger::balanced);
            if balanced || Instant::now() >= deadline || !self.worker_unchanged() {
                return ledger;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Heals the upstream, lets the sink catch up, and checks what every fault must leave intact.
    fn judge(&self, behaviour: Behaviour, run: &FaultRun, settle_within: Duration) -> Findings {
        self.upstream.set(Behaviour::Accept);
        let ledger = self.settle(settle_within);
        let mut findings = Findings {
            scenario: format!("upstream behaviour {behaviour:?}"),
            problems: Vec::new(),
        };
        let log = self.nginx.error_log();
        let alarming = log_check::alarming_lines_in(self.nginx.dir.path(), &[]);
        findings.check(alarming.is_empty(), || {
            format!(
                "nginx logged {} alarming line(s):\n{}",
                alarming.len(),
                log_check::summary(&alarming)
            )
        });
        findings.check(self.worker_unchanged(), || {
            format!(
                "the worker {} was replaced: workers now {:?}",
                self.worker,
                self.nginx.worker_pids()
            )
        });
        findings.check(run.peak_memory <= MAX_WORKER_MEMORY, || {
            format!("the worker grew to {} MiB", run.peak_memory >> 20)
        });
        let median = median(&run.latencies);
        println!(
            "{behaviour:?}: worker peak {} MiB, /fast median {median:?} of {}, {} requests met the \
             fault, clients answered {}, {ledger:?}",
            run.peak_memory >> 20,
            run.latencies.len(),
            self.upstream.requests_under(behaviour),
            run.answered_by_clients,
        );
        findings.check(median <= MAX_MEDIAN_LATENCY, || {
            format!(
                "/fast took {median:?} (median of {} requests) while the fault lasted",
                run.latencies.len()
            )
        });
        match &ledger {
            None => findings
                .problems
                .push("the status page did not answer".to_owned()),
            Some(ledger) => {
                findings.check(ledger.balanced(), || {
                    format!("answered != written + dropped, or written != received: {ledger:?}")
                });
                findings.check(ledger.answered >= run.answered_by_clients as u64, || {
                    format!(
                        "clients saw {} answers, the status page counts {}",
                        run.answered_by_clients, ledger.answered
                    )
                });
            }
        }
        for secret in [TOKEN, QUERY] {
            findings.check(!log.contains(secret), || {
                let lines: Vec<String> = log
                    .lines()
                    .filter(|l| l.contains(secret))
                    .map(str::to_owned)
                    .collect();
                format!("the error log shows {secret:?}:\n{}", log_check::summary(&lines))
            });
        }
        if behaviour != Behaviour::Down {
            findings.check(self.upstream.requests_under(behaviour) > 0, || {
                "no request met the fault".to_owned()
            });
        }
        findings
    }
}

/// A counter of the status page (0 if it is missing).
fn counter(status: &serde_json::Value, name: &str) -> u64 {
    status[name].as_u64().unwrap_or(0)
}

/// How long a GET of `path` takes on a new connection; a failure counts as [`PROBE_TIMEOUT`].
fn latency(port: u16, path: &str) -> Duration {
    let began = Instant::now();
    match try_http_within(PROBE_TIMEOUT, port, "GET", path, &[], b"") {
        Ok(answer) if answer.status == 204 => began.elapsed(),
        _ => PROBE_TIMEOUT,
    }
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(PROBE_TIMEOUT)
}

/// Runs `behaviour` for [`FAULT`] under a steady load and checks what every fault must leave
/// intact; the caller adds its own checks and asserts.
fn exercise(behaviour: Behaviour) -> (Rig, FaultRun, Findings) {
    let rig = Rig::start();
    let run = rig.fault(behaviour, STEADY, FAULT);
    let findings = rig.judge(behaviour, &run, SETTLE);
    (rig, run, findings)
}

fn survives(behaviour: Behaviour) {
    exercise(behaviour).2.assert_none();
}

/// An upstream that holds the answer back must not hold the batch longer than the timeout.
fn fails_within_the_timeout(behaviour: Behaviour) {
    let (_rig, run, mut findings) = exercise(behaviour);
    findings.check(run.batches_failed_by_deadline.unwrap_or(0) >= 1, || {
        format!(
            "no failed batch counted {FAILURE_DEADLINE:?} after the fault began (timeout {SINK_TIMEOUT:?}): \
             batches_failed = {:?} (None: the fault was cut short)",
            run.batches_failed_by_deadline
        )
    });
    findings.assert_none();
}

#[test]
fn a_garbage_status_line() {
    survives(Behaviour::GarbageStatus);
}

#[test]
fn a_chunk_size_of_all_ones() {
    survives(Behaviour::HugeChunkSize);
}

#[test]
fn a_chunk_size_past_64_bits() {
    survives(Behaviour::OverflowingChunkSize);
}

#[test]
fn a_body_without_end() {
    fails_within_the_timeout(Behaviour::EndlessBody);
}

#[test]
fn one_byte_chunks_without_end() {
    survives(Behaviour::EndlessTinyChunks);
}

#[test]
fn an_answer_at_one_byte_a_second() {
    fails_within_the_timeout(Behaviour::OneBytePerSecond);
}

#[test]
fn a_connection_closed_mid_answer() {
    survives(Behaviour::CloseMidAnswer);
}

#[test]
fn a_100_continue_before_the_answer() {
    survives(Behaviour::ContinueThenAccept);
}

#[test]
fn a_10_mib_error_answer() {
    survives(Behaviour::OversizedAnswer);
}

#[test]
fn retry_after_zero_is_not_a_busy_loop() {
    let (rig, _run, mut findings) = exercise(Behaviour::RetryAfterZero);
    let times = rig.upstream.request_times(Behaviour::RetryAfterZero);
    let shortest = times.windows(2).map(|w| w[1] - w[0]).min();
    findings.check(times.len() >= 2, || {
        format!("only {} request(s) met the fault", times.len())
    });
    findings.check(
        shortest.is_none_or(|gap| gap >= Duration::from_millis(200)),
        || {
            format!(
                "{} requests in {FAULT:?}, the closest {shortest:?} apart",
                times.len()
            )
        },
    );
    findings.assert_none();
}

#[test]
fn an_upstream_echoing_the_request_does_not_put_the_token_in_the_log() {
    // The secrets are checked in every scenario; this is the one that tries hardest to leak them.
    survives(Behaviour::EchoRequest);
}

#[test]
fn a_server_error_is_retried() {
    survives(Behaviour::Refuse(500));
}

#[test]
fn an_unauthorised_answer_keeps_lines_until_fixed() {
    survives(Behaviour::Refuse(401));
}

/// 60 s, or 15 s with `ANALYTICS_QUICK=1`.
fn outage_length() -> Duration {
    let quick = std::env::var("ANALYTICS_QUICK").is_ok_and(|v| v == "1");
    Duration::from_secs(if quick { 15 } else { 60 })
}

#[test]
fn an_upstream_down_for_a_minute_under_full_load() {
    let rig = Rig::start();
    let run = rig.fault(Behaviour::Down, FULL, outage_length());
    let mut findings = rig.judge(Behaviour::Down, &run, SETTLE_AFTER_OUTAGE);
    findings.check(run.answered_by_clients > 0, || {
        "no beacon was answered".to_owned()
    });
    findings.assert_none();
}

#[test]
fn the_faulty_upstream_answers_as_told() {
    let upstream = FaultyUpstream::start(Behaviour::Accept);
    let post = |body: &[u8], headers: &[(&str, &str)]| {
        try_http(upstream.port, "POST", "/write?db=x", headers, body).expect("an answer")
    };
    assert_eq!(post(b"m a=1i 1\nm a=2i 2\n", &[]).status, 204);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzip, b"m a=3i 3\n").unwrap();
    let gzipped = gzip.finish().unwrap();
    assert_eq!(post(&gzipped, &[("Content-Encoding", "gzip")]).status, 204);
    assert_eq!(upstream.lines(), ["m a=1i 1", "m a=2i 2", "m a=3i 3"]);

    upstream.set(Behaviour::Refuse(503));
    assert_eq!(post(b"m a=4i 4\n", &[]).status, 503);
    upstream.set(Behaviour::RetryAfterZero);
    let slow_down = post(b"m a=4i 4\n", &[]);
    assert_eq!(
        (slow_down.status, slow_down.header("Retry-After")),
        (503, Some("0"))
    );
    upstream.set(Behaviour::EchoRequest);
    let echo = post(b"m a=5i 5\n", &[("Authorization", "Token t")]);
    assert_eq!(echo.status, 400);
    let echoed = echo.text();
    assert!(echoed.starts_with("POST /write?db=x HTTP/1.1\r\n"), "{echoed}");
    assert!(echoed.contains("\r\nAuthorization: Token t\r\n") && echoed.ends_with("\r\n\r\nm a=5i 5\n"));

    upstream.set(Behaviour::Down);
    assert!(std::net::TcpStream::connect(("127.0.0.1", upstream.port)).is_err());
    upstream.set(Behaviour::Accept);
    assert_eq!(post(b"m a=6i 6\n", &[]).status, 204);
    assert_eq!(upstream.lines().len(), 4, "only accepted lines are kept");
    assert_eq!(upstream.requests_under(Behaviour::Accept), 3);
    assert_eq!(upstream.requests_under(Behaviour::Refuse(503)), 1);
    assert_eq!(upstream.requests().len(), 6);
}

#[test]
fn the_log_check_rejects_alerts_crashes_and_panics() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let other = dir.path().join("other.log");
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!("http {{ server {{ error_log {} warn; }} }}", other.display()),
    )
    .unwrap();
    let alarming = [
        "2026/01/01 00:00:00 [alert] 10#10: worker process 11 exited on signal 6 (core dumped)",
        "thread '<unnamed>' panicked at core/src/http_response.rs:1:1:",
        "2026/01/01 00:00:00 [notice] 10#10: worker process 12 exited with code 2",
        "2026/01/01 00:00:00 [alert] 10#10: worker process 13 exited with fatal code 2 and cannot be respawned",
        "2026/01/01 00:00:00 [emerg] 10#10: bind() to 127.0.0.1:1 failed",
    ];
    let harmless = [
        "2026/01/01 00:00:00 [notice] 10#10: worker process 14 exited with code 0",
        "2026/01/01 00:00:00 [error] 14#14: analytics: http://127.0.0.1:1/write refused 3 lines with 400",
        "2026/01/01 00:00:00 [notice] 10#10: signal 15 (SIGTERM) received from 1, exiting",
    ];
    std::fs::write(
        logs.join("error.log"),
        [&harmless[..], &alarming[..]].concat().join("\n"),
    )
    .unwrap();
    let critical = "2026/01/01 00:00:00 [crit] 14#14: *1 open() failed";
    std::fs::write(&other, format!("{}\n{critical}\n", harmless[0])).unwrap();

    let found = log_check::alarming_lines_in(dir.path(), &[]);
    let mut expected: Vec<String> = alarming
        .iter()
        .map(|l| format!("{}: {l}", logs.join("error.log").display()))
        .collect();
    expected.push(format!("{}: {critical}", other.display()));
    assert_eq!(found, expected);

    let allowed = ["exited on signal 6".to_owned()];
    assert_eq!(
        log_check::alarming_lines_in(dir.path(), &allowed).len(),
        expected.len() - 1
    );
}

#[test]
fn a_test_fails_when_its_nginx_logs_an_alert() {
    let mut nginx = Nginx::start_with(
        r#"
    server {
        listen 127.0.0.1:{port};
        location = /fast { return 204; }
    }"#,
        1,
    );
    nginx.assert_log_clean();
    let planted = "[alert] 1#1: planted by the test";
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(nginx.path("logs/error.log"))
        .unwrap();
    std::io::Write::write_all(&mut log, format!("{planted}\n").as_bytes()).unwrap();
    let check = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| nginx.assert_log_clean()));
    let message = check.expect_err("the planted alert must fail the check");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains(planted), "{message}");
    // The opt-out lets exactly that line pass, here and when nginx is dropped.
    nginx.expect_in_log("planted by the test");
    nginx.assert_log_clean();
}

/// One nginx with one worker and a slow flush, so that beacons sent together make one batch.
fn one_batch_nginx(upstream: &FaultyUpstream) -> Nginx {
    Nginx::start_with(
        &format!(
            r#"
    analytics_sink {url} flush=700ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#,
            url = upstream.url("/write?db=x"),
        ),
        1,
    )
}

/// Waits until `lines` lines are counted as written or dropped, and returns the status page.
fn settled_status(nginx: &Nginx, lines: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = nginx.status();
        let settled = counter(&status, "lines_written")
            + DROPPED_COUNTERS.iter().map(|c| counter(&status, c)).sum::<u64>();
        if settled >= lines || Instant::now() >= deadline {
            return status;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The write APIs that store part of a batch say how much they refused; the rest is written.
#[test]
fn partial_writes_count_each_line_once() {
    const INFLUXDB_2: &str = "HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/json; charset=utf-8\r\n\
        Content-Length: 220\r\n\r\n{\"code\":\"unprocessable entity\",\"message\":\"failure writing points to database: \
        partial write: field type conflict: input field \\\"hits\\\" on measurement \\\"pageview\\\" is type float, \
        already exists as type integer dropped=1\"}";
    const INFLUXDB_3: &str = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 212\r\n\r\n\
        {\"error\":\"partial write of line protocol occurred\",\"data\":[{\"original_line\":\"a\",\"line_number\":1,\
        \"error_message\":\"invalid column type\"},{\"original_line\":\"b\",\"line_number\":3,\"error_message\":\
        \"invalid column type\"}]}";
    // A refusal that says nothing of a partial write refuses the whole batch.
    const WHOLE: &str =
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n\
        {\"error\":\"unable to parse: bad timestamp\"}";
    for (answer, written, refused) in [(INFLUXDB_2, 3, 1), (INFLUXDB_3, 2, 2), (WHOLE, 0, 4)] {
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        let declared: usize = answer
            .split("Content-Length: ")
            .nth(1)
            .and_then(|rest| rest.split("\r\n").next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert_eq!(body.len(), declared, "the test's answer is well framed: {body}");
        let upstream = FaultyUpstream::start(Behaviour::Raw(answer));
        let nginx = one_batch_nginx(&upstream);
        for _ in 0..4 {
            assert_eq!(nginx.beacon(BEACON).status, 204);
        }
        let status = settled_status(&nginx, 4);
        assert_eq!(
            upstream.requests().len(),
            1,
            "one batch of 4 lines, answered once"
        );
        assert_eq!(
            (
                counter(&status, "lines_written"),
                counter(&status, "dropped_refused")
            ),
            (written, refused),
            "{answer}\n{status}"
        );
        // answered = written + each counted drop
        let dropped: u64 = DROPPED_COUNTERS.iter().map(|c| counter(&status, c)).sum();
        assert_eq!(
            counter(&status, "accepted"),
            counter(&status, "lines_written") + dropped
        );
        let log = nginx.error_log();
        assert!(log.contains(&format!("refused {refused} of 4 lines")), "{log}");
    }
}

/// `Retry-After` as an HTTP date is waited for, as the seconds form is.
#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let upstream = FaultyUpstream::start(Behaviour::RetryAfterDate(3));
    let nginx = Nginx::start_with(
        &format!(
            r#"
    analytics_sink {url} flush=50ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; analytics_domains example.com; }}
        location = /status {{ analytics_status; }}
    }}"#,
            url = upstream.url("/write?db=x"),
        ),
        1,
    );
    assert_eq!(nginx.beacon(BEACON).status, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream.requests_under(Behaviour::RetryAfterDate(3)) == 0 {
        assert!(Instant::now() < deadline, "{}", nginx.error_log());
        thread::sleep(Duration::from_millis(10));
    }
    let refused_at = upstream.request_times(Behaviour::RetryAfterDate(3))[0];
    upstream.set(Behaviour::Accept);
    while upstream.lines().is_empty() {
        assert!(Instant::now() < deadline, "{}", nginx.error_log());
        thread::sleep(Duration::from_millis(10));
    }
    let retried_after = upstream.request_times(Behaviour::Accept)[0] - refused_at;
    // The date has a one-second resolution: 3 s from "now" is at least 2 s away.
    assert!(
        retried_after >= Duration::from_secs(2) && retried_after < Duration::from_secs(6),
        "retried {retried_after:?} after Retry-After: <in 3 s>"
    );
    // The upstream records a request before it answers: the worker counts it once answered.
    assert_eq!(
        nginx.wait_for_written(1, Duration::from_secs(10))["lines_written"],
        1
    );
}

#[test]
fn the_test_upstream_writes_http_dates() {
    let epoch = std::time::UNIX_EPOCH;
    assert_eq!(
        common::faulty_upstream::http_date(epoch + Duration::from_secs(784_111_777)),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert_eq!(
        common::faulty_upstream::http_date(epoch + Duration::from_secs(951_825_600)),
        "Tue, 29 Feb 2000 12:00:00 GMT"
    );
    assert_eq!(
        common::faulty_upstream::http_date(epoch),
        "Thu, 01 Jan 1970 00:00:00 GMT"
    );
}
