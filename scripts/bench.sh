#!/usr/bin/env bash
# Side-by-side throughput: the beacon location against nginx's bare `return 204`, in one nginx,
# one run. Usage: scripts/bench.sh [seconds] [connections]. Prints requests/s of each and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
seconds=${1:-10}
connections=${2:-50}

scripts/install-deps.sh build
command -v wrk >/dev/null || { apt-get install -y -qq wrk; }
cargo build --release --features vendored

dir=$(mktemp -d)
trap 'kill -QUIT $(cat "$dir/nginx.pid" 2>/dev/null) 2>/dev/null || true; sleep 1; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nginx=$(ls -t target/release/build/nginx-sys-*/out/objs/nginx | head -n 1)
mkdir -p "$dir/logs"
cat > "$dir/nginx.conf" <<CONF
load_module $repo/target/release/libngx_http_analytics_module.so;
worker_processes 1;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    analytics_sink file:$dir/analytics.lp;
    server {
        listen 127.0.0.1:$port;
        location = /ping { analytics_beacon; analytics_domains example.com; }
        location = /empty { return 204; }
    }
}
CONF
"$nginx" -p "$dir/" -c "$dir/nginx.conf"
sleep 0.5

run() { wrk -t1 -c"$connections" -d"${seconds}s" -s "bench/$2.lua" "http://127.0.0.1:$port/$1" | awk '/Requests\/sec/ {print $2}'; }
run empty empty >/dev/null   # warm-up
empty=$(run empty empty)
beacon=$(run ping beacon)
lines=$(wc -l < "$dir/analytics.lp")
echo "return 204:      $empty requests/s"
echo "analytics_beacon: $beacon requests/s  ($lines lines written so far)"
python3 -c "print(f'ratio: {$beacon/$empty:.3f}')"
