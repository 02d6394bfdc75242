#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the core's unit and property tests, and the
# integration tests that start a real nginx (loading the module just built), InfluxDB and
# UDP listeners on loopback; a bounded fuzzing run of the core; then the integration tests again
# against Debian's packaged nginx.
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test
# terser, to check that the shipped agent/analytics.min.js is the minified agent/analytics.js.
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
ANALYTICS_NGINX=$NGINX ANALYTICS_MODULE=$MODULE \
    cargo test --release --features vendored -p ngx_http_analytics_module --test '*'
