//! `analytics_agent`: the embedded browser script, its caching headers, its plain and gzipped
//! representations and their `ETag`s, its configured beacon URL, the variant served for each set of
//! `features=`, the size budget of each, and the shipped minified files matching their source.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use common::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> String {
    shipped_variant(&[])
}

/// The shipped script with `features`, named as `agent/build.js` names it.
fn shipped_variant(features: &[&str]) -> String {
    let name = ["analytics"]
        .iter()
        .chain(features)
        .chain(&["min.js"])
        .copied()
        .collect::<Vec<_>>()
        .join(".");
    std::fs::read_to_string(repo().join("agent").join(name)).unwrap()
}

/// Every set of features, in the order `agent/build.js` builds them.
fn feature_sets() -> Vec<Vec<&'static str>> {
    let all = ["outbound", "downloads", "engagement"];
    (0..8)
        .map(|mask| {
            all.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, f)| *f)
                .collect()
        })
        .collect()
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

    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("Content-Encoding"), None);

    let head = http(nginx.port, "HEAD", "/a.js", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(http(nginx.port, "POST", "/a.js", &[], b"x").status, 405);
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a gzip body");
    text
}

/// A shared cache keeps the plain and the gzipped script apart by `Vary: Accept-Encoding` and tells
/// them apart when revalidating by their `ETag`s: one tag for both would let a 304 for one refresh
/// the other, and serve gzip to a client that cannot read it.
#[test]
fn the_plain_and_the_gzipped_script_have_their_own_etags() {
    // With and without nginx's own gzip: the module's gzipped copy is never compressed twice.
    for nginx in [
        agent_nginx(),
        Nginx::start(
            r#"
    server {
        listen 127.0.0.1:{port};
        location = /a.js { analytics_agent; }
    }"#,
        ),
    ] {
        let get = |headers: &[(&str, &str)]| http(nginx.port, "GET", "/a.js", headers, b"");
        let plain = get(&[]);
        let gzipped = get(&[("Accept-Encoding", "gzip, deflate, br")]);
        assert_eq!(plain.header("Content-Encoding"), None);
        assert_eq!(gzipped.header("Content-Encoding"), Some("gzip"));
        assert_eq!(plain.text(), shipped());
        assert_eq!(gunzip(&gzipped.body), shipped());
        for r in [&plain, &gzipped] {
            assert_eq!(r.status, 200);
            assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
            assert_eq!(
                r.header("Content-Type"),
                Some("application/javascript; charset=utf-8")
            );
        }
        let (plain_tag, gzip_tag) = (plain.header("ETag").unwrap(), gzipped.header("ETag").unwrap());
        assert_ne!(plain_tag, gzip_tag);
        assert!(!gzip_tag.starts_with("W/"), "{gzip_tag}");
        let weak_gzip_tag = format!("W/{gzip_tag}");

        // If-None-Match matches the tag of the representation this request would get, only.
        for (accept, tags, want_status, want_tag) in [
            (None, plain_tag, 304, plain_tag),
            (None, gzip_tag, 200, plain_tag),
            (Some("gzip"), gzip_tag, 304, gzip_tag),
            (Some("gzip"), weak_gzip_tag.as_str(), 304, gzip_tag),
            (Some("gzip"), plain_tag, 200, gzip_tag),
            (Some("gzip;q=0"), plain_tag, 304, plain_tag),
            (Some("identity"), gzip_tag, 200, plain_tag),
            (Some("br, *;q=0.1"), &format!("\"x\", {gzip_tag}"), 304, gzip_tag),
        ] {
            let mut headers = vec![("If-None-Match", tags)];
            headers.extend(accept.map(|a| ("Accept-Encoding", a)));
            let r = get(&headers);
            let case = format!("Accept-Encoding {accept:?}, If-None-Match {tags}");
            assert_eq!(r.status, want_status, "{case}");
            assert_eq!(r.header("ETag"), Some(want_tag), "{case}");
            assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "{case}");
            if want_status == 304 {
                assert!(r.body.is_empty(), "{case}");
            } else if want_tag == gzip_tag {
                assert_eq!(gunzip(&r.body), shipped(), "{case}");
            } else {
                assert_eq!(r.text(), shipped(), "{case}");
            }
        }
    }
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
    let gzipped = http(nginx.port, "GET", "/b.js", &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(gunzip(&gzipped.body), configured.text());
}

/// Each location serves the script with the features it names, in any order, and nothing else:
/// the base script has none of the optional code.
#[test]
fn each_location_serves_the_variant_of_its_features() {
    let sets = feature_sets();
    let mut locations = String::new();
    for (i, set) in sets.iter().enumerate() {
        // Named in reverse, to show that the order does not matter.
        let mut names = set.clone();
        names.reverse();
        let features = if names.is_empty() {
            String::new()
        } else {
            format!("features={}", names.join(","))
        };
        locations.push_str(&format!("location = /{i}.js {{ analytics_agent {features}; }}\n"));
    }
    locations.push_str("location = /b.js { analytics_agent features=engagement beacon=/collect; }\n");
    let nginx = Nginx::start(&format!("server {{ listen 127.0.0.1:{{port}}; {locations} }}"));
    let mut bodies = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let r = http(nginx.port, "GET", &format!("/{i}.js"), &[], b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), shipped_variant(set), "features {set:?}");
        // The beacons of a feature are in its variant only.
        for (feature, beacon_type) in [
            ("outbound", "\"outbound\""),
            ("downloads", "\"download\""),
            ("engagement", "\"engagement\""),
        ] {
            assert_eq!(
                r.text().contains(beacon_type),
                set.contains(&feature),
                "{beacon_type} in the script for {set:?}"
            );
        }
        bodies.push(r.text());
    }
    bodies.dedup();
    assert_eq!(bodies.len(), sets.len(), "every variant is a script of its own");
    let both = http(nginx.port, "GET", "/b.js", &[], b"");
    assert_eq!(
        both.text(),
        shipped_variant(&["engagement"]).replacen("\"/ping\"", "\"/collect\"", 1)
    );
}

/// The base script stays under 700 bytes gzipped as served; each feature's cost is printed, and
/// every variant stays under 1 KiB.
#[test]
fn every_variant_fits_its_size_budget_gzipped() {
    let sets = feature_sets();
    let locations: String = sets
        .iter()
        .enumerate()
        .map(|(i, set)| {
            let features = if set.is_empty() {
                String::new()
            } else {
                format!("features={}", set.join(","))
            };
            format!("location = /{i}.js {{ analytics_agent {features}; }}\n")
        })
        .collect();
    let nginx = Nginx::start(&format!("server {{ listen 127.0.0.1:{{port}}; {locations} }}"));
    let mut base = 0;
    for (i, set) in sets.iter().enumerate() {
        let r = http(
            nginx.port,
            "GET",
            &format!("/{i}.js"),
            &[("Accept-Encoding", "gzip")],
            b"",
        );
        assert_eq!(r.header("Content-Encoding"), Some("gzip"));
        // The test client removes the chunk framing: these are the compressed bytes.
        let gzipped = r.body.len();
        if set.is_empty() {
            base = gzipped;
        }
        eprintln!(
            "features {:<30} {:>5} bytes, {gzipped:>4} bytes gzipped (as served), +{} for the features",
            set.join(","),
            shipped_variant(set).len(),
            gzipped - base
        );
        if set.is_empty() {
            assert!(gzipped < 700, "{gzipped} bytes gzipped: over the 700-byte budget");
        }
        assert!(
            gzipped < 1024,
            "{set:?}: {gzipped} bytes gzipped: over the 1 KiB budget"
        );
    }
}

#[test]
fn the_shipped_scripts_are_the_minified_source() {
    assert!(
        repo().join("agent/node_modules/terser").exists(),
        "run `npm ci --prefix agent` (scripts/test.sh does) to install terser"
    );
    let out = Command::new("node")
        .current_dir(repo().join("agent"))
        .args(["build.js", "--check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
