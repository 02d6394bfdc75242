#!/usr/bin/env bash
# What an outage of the write API costs the website: beacon throughput, and the latency of a bare
# `return 204` on the same worker, first with InfluxDB up, then with it stopped, then back.
# Usage: scripts/bench-outage.sh [seconds per phase] [connections]. One nginx worker pinned to
# CPU 1; wrk on CPU 0 (beacons) and a second wrk with one connection measuring /empty latency.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
seconds=${1:-60}
connections=${2:-32}

scripts/install-deps.sh test
command -v wrk >/dev/null || { apt-get install -y -qq wrk; }
cargo build --release --features vendored

dir=$(mktemp -d)
influx_pid=
cleanup() {
    kill -QUIT "$(cat "$dir/nginx.pid" 2>/dev/null)" 2>/dev/null || true
    [[ -n $influx_pid ]] && kill "$influx_pid" 2>/dev/null || true
    sleep 1
    rm -rf "$dir"
}
trap cleanup EXIT
. scripts/bench-lib.sh
port=$(free_port); influx_port=$(free_port)
mkdir -p "$dir/logs" "$dir/influx"
scripts/influxdb-config.sh "$dir/influx" "$influx_port" > "$dir/influx/influxdb.conf"
start_influx() {
    taskset -c 0 influxd -config "$dir/influx/influxdb.conf" >>"$dir/influx/log" 2>&1 &
    influx_pid=$!
    until curl -s "http://127.0.0.1:$influx_port/ping" >/dev/null; do sleep 0.2; done
}
start_influx
curl -s -XPOST "http://127.0.0.1:$influx_port/query" --data-urlencode "q=CREATE DATABASE a" >/dev/null

nginx=$(vendored_nginx)
cat > "$dir/nginx.conf" <<CONF
load_module $repo/target/release/libngx_http_analytics_module.so;
worker_processes 1;
worker_cpu_affinity 10;
error_log $dir/logs/error.log notice;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    analytics_sink http://127.0.0.1:$influx_port/write?db=a buffer=64m timeout=2s;
    server {
        listen 127.0.0.1:$port;
        location = /ping { analytics_beacon; analytics_domains example.com; }
        location = /empty { return 204; }
        location = /status { analytics_status; }
    }
}
CONF
"$nginx" -p "$dir/" -c "$dir/nginx.conf"
sleep 0.5

# Runs one phase: beacons at full speed and, beside them, /empty on one connection; prints
# beacons/s and the latency percentiles of /empty.
phase() {
    local name=$1 beacons latency
    taskset -c 0 wrk -t1 -c"$connections" -d"${seconds}s" -s bench/beacon.lua "http://127.0.0.1:$port/ping" >"$dir/$name.beacons" &
    beacons=$!
    taskset -c 0 wrk -t1 -c1 -d"${seconds}s" --latency "http://127.0.0.1:$port/empty" >"$dir/$name.empty"
    wait "$beacons"
    printf '%-10s beacons %10s req/s   return 204 on the same worker: p50 %s  p99 %s\n' "$name" \
        "$(awk '/Requests\/sec/ {print $2}' "$dir/$name.beacons")" \
        "$(awk '$1 == "50%" {print $2}' "$dir/$name.empty")" \
        "$(awk '$1 == "99%" {print $2}' "$dir/$name.empty")"
}
phase "up"
kill "$influx_pid"; wait "$influx_pid" 2>/dev/null || true; influx_pid=
phase "down"
start_influx
phase "back"
sleep 3
curl -s "http://127.0.0.1:$port/status"; echo
