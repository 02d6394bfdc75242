//! `analytics_tag country $geoip2_data_country_iso_code;` end to end: Debian's nginx loading
//! Debian's GeoIP2 module (`libnginx-mod-http-geoip2`) and this module built for that nginx, with a
//! MaxMind DB of two made-up networks that the test writes itself (`mmdb-writer`, installed by
//! `scripts/install-deps.sh test` into `target/python`). The looked-up address comes from a header
//! (`source=$http_x_test_addr`), since every request comes from 127.0.0.1.
//!
//! It needs Debian's nginx: `scripts/test.sh` runs it in its Debian run
//! (`ANALYTICS_NGINX`/`ANALYTICS_MODULE` from `scripts/debian-nginx.sh`); with another nginx it
//! says so and passes without checking anything.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// Where Debian's package puts the GeoIP2 module.
const GEOIP2_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_geoip2_module.so";

/// Two networks with a country each; every other address is unknown to the database.
const NETWORKS: [(&str, &str); 2] = [("198.51.100.0/24", "DE"), ("203.0.113.0/24", "FR")];

/// True when the nginx under test is Debian's, the one whose GeoIP2 module can be loaded.
fn nginx_is_debians() -> bool {
    if std::env::var_os("ANALYTICS_NGINX").is_none() {
        return false;
    }
    let out = Command::new(nginx_path()).arg("-V").output().expect("nginx -V");
    String::from_utf8_lossy(&out.stderr).contains("--modules-path=/usr/lib/nginx/modules")
}

/// Writes the test database (`NETWORKS`) to `path` with the pure-Python MaxMind DB writer.
fn write_database(path: &Path) {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/python/bin/python3");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh test (it installs mmdb-writer there)",
        python.display()
    );
    let networks: Vec<String> = NETWORKS
        .iter()
        .map(|(net, code)| format!("({net:?}, {code:?})"))
        .collect();
    let script = format!(
        r#"
import sys
from mmdb_writer import MMDBWriter
from netaddr import IPSet
writer = MMDBWriter(ip_version=4, database_type="GeoIP2-Country", languages=["en"], description="test networks")
for network, code in [{networks}]:
    writer.insert_network(IPSet([network]), {{"country": {{"iso_code": code}}}})
writer.to_db_file(sys.argv[1])
"#,
        networks = networks.join(", ")
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_country_of_a_known_network_is_tagged_and_the_address_is_nowhere() {
    // scripts/test.sh sets ANALYTICS_GEOIP2 where it runs the suite on Debian's nginx: there the
    // test must run, never skip.
    let required = std::env::var_os("ANALYTICS_GEOIP2").is_some();
    if !nginx_is_debians() {
        assert!(
            !required,
            "ANALYTICS_GEOIP2 is set but ANALYTICS_NGINX is not Debian's nginx"
        );
        eprintln!(
            "SKIPPED: needs Debian's nginx, whose GeoIP2 module ({GEOIP2_MODULE}) it loads; \
             scripts/test.sh runs it with ANALYTICS_NGINX/ANALYTICS_MODULE from scripts/debian-nginx.sh"
        );
        return;
    }
    assert!(
        Path::new(GEOIP2_MODULE).exists(),
        "{GEOIP2_MODULE} is missing: apt-get install libnginx-mod-http-geoip2 (scripts/install-deps.sh test)"
    );
    let database_dir = tempfile::tempdir().unwrap();
    let database = database_dir.path().join("countries.mmdb");
    write_database(&database);

    let nginx = Nginx::start_after_main(
        &[&format!("load_module {GEOIP2_MODULE};")],
        &format!(
            r#"
    geoip2 {database} {{
        $geoip2_data_country_iso_code source=$http_x_test_addr country iso_code;
    }}
    analytics_sink file:{{dir}}/analytics.lp flush=20ms;
    server {{
        listen 127.0.0.1:{{port}};
        location = /ping {{
            analytics_beacon;
            analytics_domains example.com;
            analytics_tag country $geoip2_data_country_iso_code;
        }}
    }}"#,
            database = database.display()
        ),
        2,
    );
    // (address, the country expected); the beacon's load time numbers the requests.
    let visits = [
        ("198.51.100.7", Some("DE")),
        ("203.0.113.200", Some("FR")),
        ("192.0.2.1", None),
    ];
    for (i, (address, _)) in visits.iter().enumerate() {
        let body = format!(r#"{{"d":"example.com","g":"/","l":{i}}}"#);
        let r = http(
            nginx.port,
            "POST",
            "/ping",
            &[("X-Test-Addr", address)],
            body.as_bytes(),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let raw = wait_for_file_lines(&nginx.path("analytics.lp"), visits.len(), Duration::from_secs(20));
    assert_eq!(raw.len(), visits.len(), "{}", nginx.error_log());
    let mut lines: Vec<ParsedLine> = raw.iter().map(|l| parse_line(l)).collect();
    lines.sort_by_key(|l| {
        l.field("load_ms")
            .map(|v| v.trim_end_matches('i').parse::<usize>().unwrap())
    });
    for (line, (address, country)) in lines.iter().zip(visits) {
        assert_eq!(line.tag("country"), country, "{address}: {line:?}");
    }

    let stored = raw.join("\n");
    let log = nginx.error_log();
    for (address, _) in visits {
        assert!(!stored.contains(address), "{address} was stored: {stored}");
        assert!(!log.contains(address), "{address} is in the error log: {log}");
    }
    nginx.assert_log_clean();
}
