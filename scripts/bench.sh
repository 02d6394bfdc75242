#!/usr/bin/env bash
# Side-by-side throughput: the beacon location against nginx's bare `return 204`, in one nginx,
# one run. Usage: [SINK=<analytics_sink address>] scripts/bench.sh [seconds] [connections]; the
# default sink is a file. Prints requests/s of each (three
# alternating rounds) and the ratio of the medians.
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
worker_cpu_affinity 10;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    analytics_sink ${SINK:-file:$dir/analytics.lp};
    server {
        listen 127.0.0.1:$port;
        location = /ping { analytics_beacon; analytics_domains example.com; }
        location = /empty { return 204; }
    }
}
CONF
"$nginx" -p "$dir/" -c "$dir/nginx.conf"
sleep 0.5

worker=$(pgrep -P "$(cat "$dir/nginx.pid")" | head -n 1)
ticks=$(getconf CLK_TCK)
# CPU time (user + system) the nginx worker has used so far, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$worker/stat"; }
# Prints "requests/s CPU-microseconds-per-request" for one wrk run.
run() {
    local before after out
    before=$(cpu)
    out=$(taskset -c 0 wrk -t1 -c"$connections" -d"${seconds}s" -s "bench/$2.lua" "http://127.0.0.1:$port/$1")
    after=$(cpu)
    awk -v t="$ticks" -v used=$((after - before)) '/requests in/ {n = $1} /Requests\/sec/ {printf "%s %.2f\n", $2, used / t * 1e6 / n}' <<< "$out"
}
run empty empty >/dev/null   # warm-up
# Alternate the two locations, three rounds each, and compare medians: a small virtual machine is
# noisy. Requests/s can be capped by wrk itself; the worker's CPU time per request cannot.
empties=(); beacons=()
for round in 1 2 3; do
    empties+=("$(run empty empty)")
    beacons+=("$(run ping beacon)")
    echo "round $round: return 204 ${empties[-1]% *} req/s (${empties[-1]#* } us CPU/req), analytics_beacon ${beacons[-1]% *} req/s (${beacons[-1]#* } us CPU/req)"
done
lines=$(cat "$dir/analytics.lp" 2>/dev/null | wc -l)
python3 - "${empties[@]}" "${beacons[@]}" <<PY
import statistics, sys
runs = [tuple(map(float, x.split())) for x in sys.argv[1:]]
empty, beacon = runs[:3], runs[3:]
rps_e, rps_b = statistics.median(r for r, _ in empty), statistics.median(r for r, _ in beacon)
cpu_e, cpu_b = statistics.median(c for _, c in empty), statistics.median(c for _, c in beacon)
print(f"median return 204:       {rps_e:10.0f} requests/s  {cpu_e:6.2f} us of worker CPU per request")
print(f"median analytics_beacon: {rps_b:10.0f} requests/s  {cpu_b:6.2f} us of worker CPU per request")
print(f"throughput ratio: {rps_b / rps_e:.3f}   CPU-cost ratio (return 204 / beacon): {cpu_e / cpu_b:.3f}")
PY
echo "lines in the file sink: $lines"
