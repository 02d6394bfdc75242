#!/usr/bin/env bash
# The HTTP sink's capacity: lines per second one nginx worker delivers to a write API.
#
# Usage: scripts/bench-sink.sh [lines]           (default 600000 lines per run)
#   TARGET=nginx|influxdb   where the lines go: a second nginx whose location answers `return 204`
#                           at once (default), or a private InfluxDB 1.x
#   CONNECTIONS=1           connections= of analytics_sink
#   GZIP=off                gzip= of analytics_sink
# Prints one last line: RESULT lines_per_s=<n> lines=<n> seconds=<s> target=.. connections=.. gzip=..
#
# How: beacons cost far more than delivering their lines, so they cannot push the sink to its limit
# while it delivers. Instead the sink's buffer is filled first, with real beacons (wrk), while the
# write API is unavailable; then it becomes available, and the sink drains the buffer as fast as it
# can, with nothing else for the worker to do. The rate is the lines written (the status page's
# lines_written, polled every 20 ms) over the time from the first poll that saw lines written to the
# poll that saw all of them. Nothing in the module is there for the benchmark. The return-204 nginx
# first answers 503 with Retry-After: 1 and is reloaded to answer 204; InfluxDB is started only once
# the buffer is full, and the drain starts at the sink's next retry (its back-off reaches 30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
lines=${1:-600000}
target=${TARGET:-nginx}
connections=${CONNECTIONS:-1}
gzip=${GZIP:-off}

scripts/install-deps.sh build >/dev/null
command -v wrk >/dev/null || { apt-get install -y -qq wrk; }
[[ $target == influxdb ]] && { command -v influxd >/dev/null || scripts/install-deps.sh test >/dev/null; }
cargo build --release --features vendored 2>/dev/null

dir=$(mktemp -d)
influx_pid=
cleanup() {
    for pidfile in "$dir/nginx.pid" "$dir/upstream/nginx.pid"; do
        [[ -f $pidfile ]] && kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
    done
    [[ -n $influx_pid ]] && kill "$influx_pid" 2>/dev/null || true
    sleep 1
    rm -rf "$dir"
}
trap cleanup EXIT
. scripts/bench-lib.sh
port=$(free_port); upstream_port=$(free_port)
nginx=$(vendored_nginx)
mkdir -p "$dir/logs" "$dir/upstream/logs"

# The write API, not yet available.
upstream_conf() {
    cat <<CONF
worker_processes 1;
worker_cpu_affinity 01;
error_log $dir/upstream/logs/error.log warn;
pid $dir/upstream/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/upstream/body;
    client_max_body_size 64m;
    server {
        listen 127.0.0.1:$upstream_port;
        keepalive_requests 1000000;
        location / { $1 }
    }
}
CONF
}
if [[ $target == nginx ]]; then
    upstream_conf 'add_header Retry-After 1 always; return 503;' > "$dir/upstream/nginx.conf"
    "$nginx" -p "$dir/upstream/" -c "$dir/upstream/nginx.conf"
    url="http://127.0.0.1:$upstream_port/write"
else
    mkdir -p "$dir/influx"
    scripts/influxdb-config.sh "$dir/influx" "$upstream_port" > "$dir/influx/influxdb.conf"
    url="http://127.0.0.1:$upstream_port/write?db=bench"
fi

cat > "$dir/nginx.conf" <<CONF
load_module $repo/target/release/libngx_http_analytics_module.so;
worker_processes 1;
worker_cpu_affinity 10;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    analytics_sink $url buffer=1g batch=5000 flush=1s timeout=30s connections=$connections gzip=$gzip;
    analytics_budget off;
    server {
        listen 127.0.0.1:$port;
        location = /ping { analytics_beacon; analytics_domains example.com; }
        location = /status { analytics_status; }
    }
}
CONF
"$nginx" -p "$dir/" -c "$dir/nginx.conf"
sleep 0.5
status() { curl -s "http://127.0.0.1:$port/status"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# Fill: real beacons until the buffer holds the lines.
echo "filling the buffer with $lines lines of beacons..." >&2
while (( $(status | field accepted) < lines )); do
    taskset -c 0 wrk -t1 -c50 -d2s -s bench/beacons.lua "http://127.0.0.1:$port/ping" >/dev/null
done
total=$(status | field accepted)
echo "buffered $total lines; the write API is available from now" >&2

if [[ $target == nginx ]]; then
    upstream_conf 'return 204;' > "$dir/upstream/nginx.conf"
    "$nginx" -p "$dir/upstream/" -c "$dir/upstream/nginx.conf" -s reload
else
    taskset -c 0 influxd -config "$dir/influx/influxdb.conf" >>"$dir/influx/log" 2>&1 &
    influx_pid=$!
    until curl -s "http://127.0.0.1:$upstream_port/ping" >/dev/null; do sleep 0.2; done
    curl -s -XPOST "http://127.0.0.1:$upstream_port/query" --data-urlencode "q=CREATE DATABASE bench" >/dev/null
fi

python3 - "$port" "$total" "$target" "$connections" "$gzip" <<'PY'
import json, sys, time, urllib.request
port, total, target, connections, gzip = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
def written():
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status") as r:
        status = json.load(r)
    lost = sum(status[k] for k in status if k.startswith("dropped_"))
    if lost:
        sys.exit(f"lines dropped: {status}")
    return status["lines_written"]
deadline = time.monotonic() + 120
first = None
while True:
    now, n = time.monotonic(), written()
    if first is None and n > 0:
        first = (now, n)
    if n >= total:
        break
    if now > deadline:
        sys.exit(f"only {n} of {total} lines written in 120 s")
    time.sleep(0.02)
start, at_start = first
seconds = now - start
rate = (n - at_start) / seconds if seconds > 0 else float("inf")
print(f"RESULT lines_per_s={rate:.0f} lines={n - at_start} seconds={seconds:.3f} "
      f"target={target} connections={connections} gzip={gzip}")
PY
