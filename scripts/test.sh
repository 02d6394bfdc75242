#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the core's unit and property tests, and the
# integration tests that start a real nginx (loading the module just built), InfluxDB and
# UDP listeners on loopback; a bounded fuzzing run of the core; then the integration tests again
# against Debian's packaged nginx; the vendored nginx's beacon tests with a module built by
# scripts/build-for-nginx.sh; and the Debian package, installed next to Debian's nginx and removed.
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test
# terser, to check that the shipped agent/analytics*.min.js are the minified agent/analytics.js.
npm ci --prefix agent --no-audit --no-fund --loglevel=error

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release --features vendored -- -D warnings
# cargo test does not rebuild the cdylib that nginx loads: build it first.
cargo build --release --features vendored
cargo test --workspace --release --features vendored

# The pure pipeline under libFuzzer, for a bounded time.
scripts/fuzz.sh "${FUZZ_SECONDS:-60}"

# The same integration tests against Debian's packaged nginx 1.22, with the module built for it.
eval "$(scripts/debian-nginx.sh)"
echo "compatibility run: $("$NGINX" -v 2>&1)"
# Every integration test of the module (tests/*.rs); the core's own tests do not load nginx.
# tests/geoip2.rs runs only here: it loads Debian's GeoIP2 module, which this nginx alone can load.
ANALYTICS_NGINX=$NGINX ANALYTICS_MODULE=$MODULE ANALYTICS_GEOIP2=1 \
    cargo test --release --features vendored -p ngx_http_analytics_module --test '*'

# scripts/build-for-nginx.sh for another nginx: the vendored 1.28.3 (its sources come from the
# nginx-src crate); the module it builds passes the beacon tests in that nginx.
vendored_nginx=$(ls -t target/release/build/nginx-sys-*/out/objs/nginx | head -n 1)
eval "$(scripts/build-for-nginx.sh "$vendored_nginx")"
ANALYTICS_NGINX=$vendored_nginx ANALYTICS_MODULE=$MODULE \
    cargo test --release --features vendored -p ngx_http_analytics_module --test beacon
# ...and it refuses, quoting nginx, a module that its nginx does not load (a slow test: it builds).
cargo test --release --features vendored -p ngx_http_analytics_module --test build_for_nginx -- --ignored

# The Debian package (scripts/package-deb.sh, lintian included), installed with apt next to Debian's
# nginx, run with Debian's nginx.conf, removed and purged. It needs root and changes /etc/nginx for
# its run, so it is left out of the runs above.
cargo test --release --features vendored -p ngx_http_analytics_module --test debian_package -- --ignored
