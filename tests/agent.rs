//! `analytics_agent`: the embedded browser script, its caching headers, its configured beacon URL,
//! its size budget, and the shipped minified file matching its source.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> String {
    std::fs::read_to_string(repo().join("agent/analytics.min.js")).unwrap()
}

fn agent_nginx() -> Nginx {
    Nginx::start(
        r#"
    gzip on;
    gzip_types application/javascript;
    gzip_comp_level 9;
    gzip_min_length 1;
    server {
        listen 127.0.0.1:{port};
        location = /a.js { analytics_agent; }
        location = /b.js { analytics_agent beacon=/collect; }
    }"#,
    )
}

#[test]
fn serves_the_embedded_script_with_caching_headers() {
    let nginx = agent_nginx();
    let r = http(nginx.port, "GET", "/a.js", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(r.header("Cache-Control"), Some("public, max-age=3600"));
    assert_eq!(r.text(), shipped());
    let etag = r.header("ETag").expect("an ETag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 18,
        "{etag}"
    );

    let again = http(nginx.port, "GET", "/a.js", &[("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("ETag"), Some(etag.as_str()));
    let other = http(
        nginx.port,
        "GET",
        "/a.js",
        &[("If-None-Match", "\"0000000000000000\"")],
        b"",
    );
    assert_eq!(other.status, 200);

    let head = http(nginx.port, "HEAD", "/a.js", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(http(nginx.port, "POST", "/a.js", &[], b"x").status, 405);
}

#[test]
fn the_configured_beacon_url_replaces_the_default() {
    let nginx = agent_nginx();
    let default = http(nginx.port, "GET", "/a.js", &[], b"");
    let configured = http(nginx.port, "GET", "/b.js", &[], b"");
    assert!(default.text().contains("\"/ping\""));
    assert!(configured.text().contains("\"/collect\""));
    assert!(!configured.text().contains("\"/ping\""));
    assert_ne!(default.header("ETag"), configured.header("ETag"));
}

#[test]
fn the_script_fits_its_size_budget_gzipped() {
    let nginx = agent_nginx();
    let r = http(nginx.port, "GET", "/a.js", &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    // The test client removes the chunk framing: these are the compressed bytes.
    let gzipped = r.body.len();
    eprintln!(
        "analytics.min.js: {} bytes, {gzipped} bytes gzipped by nginx (level 9)",
        shipped().len()
    );
    assert!(gzipped <= 1024, "{gzipped} bytes gzipped: over the 1 KiB budget");
}

#[test]
fn the_shipped_script_is_the_minified_source() {
    let terser = repo().join("agent/node_modules/.bin/terser");
    assert!(
        terser.exists(),
        "run `npm ci --prefix agent` (scripts/test.sh does) to install terser"
    );
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("agent/package.json")).unwrap()).unwrap();
    let build = package["scripts"]["build"].as_str().unwrap();
    let args: Vec<&str> = build
        .split_whitespace()
        .skip(1)
        .take_while(|a| *a != "--output")
        .collect();
    let out = Command::new(&terser)
        .current_dir(repo().join("agent"))
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        shipped().trim_end(),
        "agent/analytics.min.js is not the minified agent/analytics.js: run `npm run build` in agent/"
    );
}
