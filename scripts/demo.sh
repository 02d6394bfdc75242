#!/usr/bin/env bash
# The demo: builds the module with its vendored nginx, serves the browser script and a demo page on
# http://localhost:$PORT/ (default 8080), and prints every line of line protocol that arrives.
# Open the page in a browser; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
port=${PORT:-8080}

scripts/install-deps.sh build
cargo build --release --features vendored

module=$repo/target/release/libngx_http_analytics_module.so
nginx=$(ls -t "$repo"/target/release/build/nginx-sys-*/out/objs/nginx | head -n 1)
dir=$repo/demo-run
mkdir -p "$dir/logs"
: > "$dir/analytics.lp"
sed -e "s|@DIR@|$dir|g" -e "s|@REPO@|$repo|g" -e "s|@MODULE@|$module|g" -e "s|@PORT@|$port|g" \
    nginx-conf/demo.conf > "$dir/nginx.conf"

"$nginx" -t -q -p "$dir/" -c "$dir/nginx.conf"
"$nginx" -p "$dir/" -c "$dir/nginx.conf" &
nginx_pid=$!
trap 'kill -QUIT $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

cat <<INFO

  Demo page:   http://localhost:$port/         (open it in a browser; every page view prints below)
  Status:      http://127.0.0.1:$port/analytics_status
  Lines file:  $dir/analytics.lp
  A beacon by hand:
    curl -i -A Mozilla/5.0 -d '{"domain":"localhost","page":"/by-hand?utm_source=demo&token=dropped","referrer":"https://example.org/x?q=1"}' http://127.0.0.1:$port/ping

  Lines as they arrive (Ctrl-C to stop):
INFO
tail -n +1 -f "$dir/analytics.lp" &
tail_pid=$!
trap 'kill $tail_pid 2>/dev/null; kill -QUIT $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null || true' EXIT INT TERM
wait $nginx_pid
