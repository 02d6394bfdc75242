//! The file sink keeps its own record of the file: an `access_log` (or another module) writing to
//! the same path can neither crash a worker nor take the sink's lines, and `nginx -s reopen` still
//! moves both to the new file.

mod common;

use std::thread;
use std::time::Duration;

use common::*;

const BEACON: &str = r#"{"page":"/shared","domain":"example.com"}"#;

fn shared_path_nginx(access_log_first: bool) -> Nginx {
    let sink = "analytics_sink file:{dir}/shared.lp flush=20ms;";
    // The test template turns the access log off at http level, so it is set in the server
    // block; that block comes before or after the sink, so either module registers the path first.
    let server = r#"
    server {
        listen 127.0.0.1:{port};
        access_log {dir}/shared.lp;
        location = /ping { analytics_beacon; analytics_domains example.com; }
        location = /status { analytics_status; }
    }"#;
    if access_log_first {
        Nginx::start(&format!("{server}\n    {sink}"))
    } else {
        Nginx::start(&format!("    {sink}\n{server}"))
    }
}

fn analytics_lines(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("pageview,")).count()
}

fn access_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| l.contains("\"POST /ping HTTP/1.1\""))
        .count()
}

#[test]
fn an_access_log_on_the_same_path_does_not_share_the_sinks_record() {
    for access_log_first in [true, false] {
        let nginx = shared_path_nginx(access_log_first);
        for _ in 0..20 {
            assert_eq!(nginx.beacon(BEACON).status, 204);
        }
        thread::sleep(Duration::from_millis(300));
        let text = std::fs::read_to_string(nginx.path("shared.lp")).unwrap_or_default();
        assert_eq!(analytics_lines(&text), 20, "{text}");
        assert_eq!(access_lines(&text), 20, "{text}");
        assert!(
            !nginx.error_log().contains("exited on signal"),
            "{}",
            nginx.error_log()
        );

        std::fs::rename(nginx.path("shared.lp"), nginx.path("shared.lp.1")).unwrap();
        nginx.signal("USR1");
        thread::sleep(Duration::from_millis(300));
        for _ in 0..5 {
            assert_eq!(nginx.beacon(BEACON).status, 204);
        }
        thread::sleep(Duration::from_millis(300));
        let new = std::fs::read_to_string(nginx.path("shared.lp")).unwrap_or_default();
        assert_eq!(analytics_lines(&new), 5, "{new}");
        assert_eq!(access_lines(&new), 5, "{new}");
        let status = nginx.status();
        assert_eq!(status["lines_written"], 25, "{status}");
    }
}
