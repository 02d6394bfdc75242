//! `scripts/build-for-nginx.sh` refuses, before building anything, what cannot give a module that
//! the nginx loads: sources of another nginx version, no sources at all, a binary that is not an
//! nginx. (That it builds a module its nginx loads is checked by `scripts/test.sh`, which runs the
//! integration tests with the modules it builds for Debian's nginx and for the vendored one.)

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-for-nginx.sh")
}

fn version_of(nginx: &Path) -> String {
    let out = Command::new(nginx).arg("-v").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    text.trim()
        .rsplit('/')
        .next()
        .expect("nginx version: nginx/x.y.z")
        .to_owned()
}

/// Runs the script on `nginx` with `env`, building into `build_dir`.
fn build_for(nginx: &Path, build_dir: &Path, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(script());
    command.arg(nginx).env("MODULE_BUILD_DIR", build_dir);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn assert_refused(out: &Output, build_dir: &Path, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted:\n{stderr}");
    assert!(
        out.stdout.is_empty(),
        "printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
    for text in expected {
        assert!(stderr.contains(text), "no {text:?} in:\n{stderr}");
    }
    let built: Vec<_> = std::fs::read_dir(build_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(built.is_empty(), "it built something: {built:?}");
}

#[test]
fn sources_of_another_nginx_version_are_refused_before_building() {
    // The nginx 1.28.3 the vendored build made (not `ANALYTICS_NGINX`: these tests need an nginx
    // whose sources are not installed by a system package).
    let nginx = vendored_nginx_path();
    let version = version_of(&nginx);
    let sources = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(sources.path().join("src/core")).unwrap();
    std::fs::write(
        sources.path().join("src/core/nginx.h"),
        "#define nginx_version      1022001\n#define NGINX_VERSION      \"1.22.1\"\n",
    )
    .unwrap();
    let build_dir = tempfile::tempdir().unwrap();

    let out = build_for(&nginx, build_dir.path(), &[("NGINX_SOURCE_DIR", sources.path())]);
    assert_refused(
        &out,
        build_dir.path(),
        &[
            "holds nginx 1.22.1",
            &format!("is nginx {version}"),
            &format!("nginx-{version}.tar.gz"),
        ],
    );
}

#[test]
fn missing_sources_are_named_with_where_to_get_them() {
    let nginx = vendored_nginx_path();
    let version = version_of(&nginx);
    // An empty cargo home: the nginx-src crate, which holds this version's sources, is not there.
    let cargo_home = tempfile::tempdir().unwrap();
    let build_dir = tempfile::tempdir().unwrap();

    let out = build_for(&nginx, build_dir.path(), &[("CARGO_HOME", cargo_home.path())]);
    assert_refused(
        &out,
        build_dir.path(),
        &[
            &format!("no sources of nginx {version} found"),
            "/usr/share/nginx/src",
            "apt-get install nginx-dev",
            &format!("https://nginx.org/download/nginx-{version}.tar.gz"),
            "NGINX_SOURCE_DIR=",
        ],
    );
}

#[test]
fn a_binary_that_is_not_nginx_is_refused() {
    let build_dir = tempfile::tempdir().unwrap();
    let out = build_for(Path::new("/bin/true"), build_dir.path(), &[]);
    assert_refused(&out, build_dir.path(), &["printed no version"]);

    let out = build_for(Path::new("/no/such/nginx"), build_dir.path(), &[]);
    assert_refused(&out, build_dir.path(), &["not an executable nginx binary"]);
}

/// An nginx built without `--with-compat` (the vendored nginx, whose `nginx -V` leaves that flag
/// out), from the same version's sources: the module built with its arguments compiles, but the
/// real binary refuses it, and the script quotes nginx instead of printing a module path. Slow (it
/// builds the module), so `scripts/test.sh` runs it with `--ignored`.
#[test]
#[ignore = "builds the module (minutes on a cold build directory): scripts/test.sh runs it"]
fn a_module_the_nginx_does_not_load_is_refused_with_nginx_s_words() {
    let nginx = vendored_nginx_path();
    let wrapper_dir = tempfile::tempdir().unwrap();
    let wrapper = wrapper_dir.path().join("nginx");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -V ]; then\n    {nginx} -V 2>&1 | sed 's/ --with-compat//' >&2\n\
             else\n    exec {nginx} \"$@\"\nfi\n",
            nginx = nginx.display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&wrapper, permissions).unwrap();
    // Kept between runs, so that a second run builds incrementally.
    let build_dir = target_dir().join("build-for-nginx-without-compat");

    let out = Command::new(script())
        .arg(&wrapper)
        .env("MODULE_BUILD_DIR", &build_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted:\n{stderr}");
    assert!(
        out.stdout.is_empty(),
        "printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
    for text in ["does not load the module", "is not binary compatible"] {
        assert!(stderr.contains(text), "no {text:?} in:\n{stderr}");
    }
}
