//! The rate-limiting recipe in `nginx-conf/` works as documented: one client address sending a
//! flood gets 429 from nginx's own `limit_req` once past its burst, for beacons and the pixel, and
//! every request is still counted once (`rejected_by_nginx` for those nginx refused).

mod common;

use common::*;

fn rate_limited_site(udp: &UdpCollector) -> Nginx {
    let recipes = concat!(env!("CARGO_MANIFEST_DIR"), "/nginx-conf");
    Nginx::start(&format!(
        r#"
    analytics_sink udp://127.0.0.1:{udp} flush=20ms;
    include {recipes}/rate-limit-zone.conf;
    server {{
        listen 127.0.0.1:{{port}};
        analytics_domains example.com;
        location = /ping {{ analytics_beacon; include {recipes}/rate-limit.conf; }}
        location = /p.gif {{ analytics_pixel; include {recipes}/rate-limit.conf; }}
        location = /status {{ analytics_status; }}
    }}"#,
        udp = udp.port
    ))
}

#[test]
fn a_flood_from_one_address_is_cut_to_its_burst_and_every_request_is_counted() {
    let udp = UdpCollector::start();
    let nginx = rate_limited_site(&udp);
    let flood = 200;
    let mut ok = 0;
    let mut limited = 0;
    for i in 0..flood {
        let body = format!(r#"{{"d":"example.com","g":"/flood/{i}"}}"#);
        match nginx.beacon(&body).status {
            204 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // burst=20 plus what 10 r/s refills while the flood runs: far fewer than the flood.
    assert!(ok >= 20 && ok < flood / 2, "{ok} accepted of {flood}");
    assert_eq!(ok + limited, flood);
    let pixel = http(
        nginx.port,
        "GET",
        "/p.gif",
        &[("Referer", "https://example.com/a")],
        b"",
    );
    assert_eq!(pixel.status, 429, "the pixel shares the address's bucket");
    // nginx counts a request it refused in its log phase, after the answer has gone out (and
    // another worker may answer the status page): wait for it.
    let refused = limited + 1;
    let status = nginx.wait_for_status(std::time::Duration::from_secs(5), |s| {
        s["rejected_by_nginx"].as_u64() == Some(refused)
    });
    assert_eq!(status["accepted"].as_u64(), Some(ok));
    assert_eq!(status["rejected_by_nginx"].as_u64(), Some(refused), "{status}");
    let lines = udp.wait_for_lines(ok as usize, std::time::Duration::from_secs(5));
    assert_eq!(lines.len() as u64, ok, "every accepted beacon is a line");
}
