//! `analytics_session_pages`: with `off`, no line carries `session_pages`, whatever the beacon
//! says (so it holds for any script, old or new); it is inherited like the other settings, and
//! `nginx -t` refuses a value that is not `on` or `off`.

mod common;

use std::time::Duration;

use common::*;

fn site(udp: &UdpCollector) -> Nginx {
    Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    analytics_domains example.com;
    analytics_session_pages off;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{ analytics_beacon; }}
        location = /counted {{ analytics_beacon; analytics_session_pages on; }}
    }}"#,
        udp = udp.port,
    ))
}

#[test]
fn off_leaves_every_line_without_session_pages() {
    let udp = UdpCollector::start();
    let nginx = site(&udp);
    // Page views and not-found pages carry the count; both compact and long keys.
    for body in [
        r#"{"d":"example.com","g":"/a","s":1,"l":120}"#,
        r#"{"domain":"example.com","page":"/b","session_pages":"2"}"#,
        r#"{"d":"example.com","g":"/c","s":3,"t":"notfound"}"#,
    ] {
        assert_eq!(nginx.beacon(body).status, 204, "{body}");
    }
    assert_eq!(
        nginx
            .post("/counted", br#"{"d":"example.com","g":"/d","s":4}"#)
            .status,
        204
    );
    let lines = udp.wait_for_lines(4, Duration::from_secs(10));
    assert_eq!(lines.len(), 4, "{lines:?}");
    let mut by_page: Vec<(String, Option<String>)> = lines
        .iter()
        .map(|l| {
            let line = parse_line(l);
            (
                line.tag("page").unwrap().to_owned(),
                line.field("session_pages").map(str::to_owned),
            )
        })
        .collect();
    by_page.sort();
    assert_eq!(
        by_page,
        [
            ("/a".to_owned(), None),
            ("/b".to_owned(), None),
            ("/c".to_owned(), None),
            ("/d".to_owned(), Some("4i".to_owned())),
        ],
        "{lines:?}"
    );
    // Nothing else of the record is dropped with it.
    assert!(lines.iter().any(|l| l.contains("load_ms=120i")), "{lines:?}");
}

#[test]
fn only_on_or_off_is_accepted_once() {
    for (setting, says) in [
        ("analytics_session_pages maybe;", "\"analytics_session_pages\""),
        (
            "analytics_session_pages on; analytics_session_pages off;",
            "\"analytics_session_pages\" directive is duplicate",
        ),
    ] {
        let (ok, output) = nginx_test_config(&format!(
            "analytics_sink udp://127.0.0.1:8089; {setting}
    server {{ listen 127.0.0.1:{{port}}; location = /ping {{ analytics_beacon; analytics_domains example.com; }} }}"
        ));
        assert!(!ok, "{setting}: {output}");
        assert!(output.contains(says), "{setting}: {output}");
    }
}
