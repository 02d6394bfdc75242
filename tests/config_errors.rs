//! `nginx -t` rejects each misconfiguration with a message that names the directive.

mod common;

use common::nginx_test_config;

fn server(location: &str) -> String {
    format!("server {{ listen 127.0.0.1:{{port}}; location = /ping {{ {location} }} }}")
}

fn assert_rejected(http_body: &str, says: &str) {
    let (ok, output) = nginx_test_config(http_body);
    assert!(!ok, "accepted: {http_body}\n{output}");
    assert!(output.contains(says), "expected {says:?} in:\n{output}");
    assert!(
        output.contains("nginx.conf:"),
        "the message should point at the file: {output}"
    );
}

#[test]
fn a_good_configuration_passes() {
    let (ok, output) = nginx_test_config(&format!(
        "analytics_sink udp://127.0.0.1:8089 buffer=1g flush=250ms datagram=1400;\n{}",
        server("analytics_beacon; analytics_domains example.com;")
    ));
    assert!(ok, "{output}");
    let (ok, output) = nginx_test_config(&format!(
        "analytics_sink http://127.0.0.1:8086/write?db=a \"header=Authorization: Token x\" batch=1000 \
         timeout=2s exit_timeout=30s buffer=8m flush=250ms;\n{}",
        server("analytics_beacon; analytics_domains example.com; analytics_measurement web; analytics_unlisted_measurement off; analytics_max_body 2k; analytics_query_params utm_term ref 0 z_;")
    ));
    assert!(ok, "{output}");
}

#[test]
fn an_https_sink_that_trusts_any_certificate_passes_with_a_warning() {
    let (ok, output) = nginx_test_config(&format!(
        "analytics_sink https://127.0.0.1:8443/write?db=a tls_verify=off;\n{}",
        server("analytics_beacon; analytics_domains example.com;")
    ));
    assert!(ok, "{output}");
    assert!(
        output.contains("[warn]") && output.contains("\"tls_verify=off\" trusts any certificate"),
        "{output}"
    );
    // Verified against the system's CAs by default: no warning.
    let (ok, output) = nginx_test_config(&format!(
        "analytics_sink https://127.0.0.1:8443/write?db=a tls_name=influx.example.com;\n{}",
        server("analytics_beacon; analytics_domains example.com;")
    ));
    assert!(ok, "{output}");
    assert!(!output.contains("[warn]"), "{output}");
}

#[test]
fn a_beacon_without_a_sink_is_refused() {
    assert_rejected(
        &server("analytics_beacon; analytics_domains example.com;"),
        "no \"analytics_sink\"",
    );
}

#[test]
fn a_pixel_without_a_sink_is_refused_by_its_own_name() {
    assert_rejected(
        &server("analytics_pixel; analytics_domains example.com;"),
        "\"analytics_pixel\" is used but no \"analytics_sink\"",
    );
}

#[test]
fn a_beacon_without_an_allow_list_is_refused() {
    assert_rejected(
        &format!(
            "analytics_sink udp://127.0.0.1:8089;\n{}",
            server("analytics_beacon;")
        ),
        "\"analytics_beacon\" needs \"analytics_domains\"",
    );
}

#[test]
fn bad_sinks_are_refused() {
    for (sink, says) in [
        ("udp://127.0.0.1", "needs a port"),
        ("udp://127.0.0.1:70000", "invalid port"),
        ("tcp://127.0.0.1:1", "unknown sink"),
        ("file:relative/path", "absolute path"),
        ("udp://no-such-host.invalid:8089", "cannot resolve"),
        ("udp://127.0.0.1:8089 buffer=1", "invalid \"buffer=1\""),
        ("udp://127.0.0.1:8089 flush=forever", "invalid \"flush=forever\""),
        (
            "udp://127.0.0.1:8089 datagram=100000",
            "invalid \"datagram=100000\"",
        ),
        (
            "udp://127.0.0.1:8089 colour=blue",
            "unknown parameter \"colour=blue\"",
        ),
        ("udp://127.0.0.1:8089 buffer=2g", "invalid \"buffer=2g\""),
        ("udp://127.0.0.1:8089 batch=10", "\"batch=\" is for http:// sinks"),
        ("udp://127.0.0.1:8089 gzip=on", "\"gzip=\" is for http:// sinks"),
        ("file:/tmp/x timeout=1s", "\"timeout=\" is for http:// sinks"),
        ("file:/tmp/x \"header=A: b\"", "\"header=\" is for http:// sinks"),
        ("file:/tmp/x datagram=1400", "\"datagram=\" is for udp:// sinks"),
        (
            "http://127.0.0.1:8086/write?db=a datagram=1400",
            "\"datagram=\" is for udp:// sinks",
        ),
        ("http://127.0.0.1:8086/write?db=a batch=0", "invalid \"batch=0\""),
        (
            "http://127.0.0.1:8086/write?db=a timeout=never",
            "invalid \"timeout=never\"",
        ),
        (
            "http://127.0.0.1:8086/write?db=a header=NoColon",
            "a header is \"Name: value\"",
        ),
        (
            "http://127.0.0.1:8086/write?db=a \"header=Bad Name: x\"",
            "invalid header name",
        ),
        (
            "http://127.0.0.1:8086/write?db=a tls_ca=/etc/ssl/certs/ca-certificates.crt",
            "\"tls_ca=\" is for https:// sinks",
        ),
        (
            "udp://127.0.0.1:8089 tls_verify=off",
            "\"tls_verify=\" is for https:// sinks",
        ),
        (
            "https://127.0.0.1/write?db=a tls_ca=/nonexistent/ca.pem",
            "cannot load the trusted CAs of \"tls_ca=/nonexistent/ca.pem\"",
        ),
        (
            "https://127.0.0.1/write?db=a tls_cert=/nonexistent/cert.pem",
            "\"tls_cert=\" and \"tls_key=\" go together",
        ),
        (
            "https://127.0.0.1/write?db=a tls_cert=/nonexistent/c.pem tls_key=/nonexistent/k.pem",
            "cannot use \"tls_cert=/nonexistent/c.pem\"",
        ),
        (
            "https://127.0.0.1/write?db=a tls_verify=maybe",
            "invalid \"tls_verify=maybe\"",
        ),
        (
            "http://127.0.0.1:8086/write?db=a exit_timeout=2h",
            "invalid \"exit_timeout=2h\"",
        ),
    ] {
        assert_rejected(
            &format!(
                "analytics_sink {sink};\n{}",
                server("analytics_beacon; analytics_domains example.com;")
            ),
            says,
        );
    }
}

#[test]
fn bad_values_are_refused() {
    let sink = "analytics_sink udp://127.0.0.1:8089;";
    for (location, says) in [
        (
            "analytics_beacon; analytics_domains http://example.com;",
            "is not a valid host name",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_measurement \"page view\";",
            "invalid measurement name",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_measurement _web;",
            "invalid measurement name",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_query_params ref time;",
            "\"analytics_query_params\": \"time\": InfluxDB refuses",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_query_params _field;",
            "may not start with \"_\"",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_query_params load_ms;",
            "\"load_ms\" is a key the module writes itself",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_query_params Ref;",
            "use 1 to 32 of a-z, 0-9 and _",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_measurement off;",
            "cannot be \"off\"",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_unlisted_measurement 9x;",
            "invalid measurement name",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_max_body 10g;",
            "\"analytics_max_body\": invalid size",
        ),
        (
            "analytics_beacon; analytics_beacon; analytics_domains example.com;",
            "\"analytics_beacon\" directive is duplicate",
        ),
        (
            "analytics_beacon on; analytics_domains example.com;",
            "invalid number of arguments in \"analytics_beacon\"",
        ),
        ("analytics_agent \"beacon=/a b\";", "invalid \"beacon=/a b\""),
        ("analytics_agent colour=red;", "unknown parameter \"colour=red\""),
        (
            "analytics_dashboard db=web;",
            "\"analytics_dashboard\": \"query=\" is required",
        ),
        (
            "analytics_dashboard query=https://influx.example.com/query;",
            "use a path on this site",
        ),
        ("analytics_dashboard query=/q \"db=a'b\";", "invalid \"db=a'b\""),
        (
            "analytics_dashboard query=/q; analytics_dashboard query=/q;",
            "\"analytics_dashboard\" directive is duplicate",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_notfound_measurement off;",
            "\"analytics_notfound_measurement\": cannot be \"off\"",
        ),
        (
            "analytics_beacon; analytics_domains example.com; analytics_event_measurement a,b;",
            "\"analytics_event_measurement\": invalid measurement name",
        ),
    ] {
        assert_rejected(&format!("{sink}\n{}", server(location)), says);
    }
    assert_rejected(
        &format!("{sink}\n{sink}"),
        "\"analytics_sink\" directive is duplicate",
    );
}
