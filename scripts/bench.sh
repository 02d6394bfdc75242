#!/usr/bin/env bash
# Worker CPU per request of a beacon location against nginx's bare `return 204`, in one nginx.
#
#   scripts/bench.sh [sink] [nginx]
#     sink   udp (default) | file | http
#     nginx  vendored (default: the nginx the vendored build produced) | debian (Debian's packaged
#            nginx, scripts/debian-nginx.sh) | <path of an nginx binary> (scripts/build-for-nginx.sh)
#   Environment: BENCH_SECONDS (5) per run, BENCH_ROUNDS (5), BENCH_CONNECTIONS (32),
#   BENCH_PROFILE=<file>: after the rounds, `perf record -g` the worker during one more run of each location
#   and write the self-time summaries
#   (by shared object, by symbol) to <file>. BENCH_MODULE=<.so>: this build of the module instead
#   (for before/after comparisons; it must have been built for that nginx).
#
# One worker pinned to CPU 0; wrk (one thread) and the sink's listener on CPU 1. Both locations get
# the same requests (bench/beacons.lua: eight valid beacons in turn, browser headers, keep-alive):
# the beacon location reads, checks (DNT, Sec-GPC, robot filter) and records each; `return 204`
# reads the body and discards it. The rounds alternate the two, because the machine is shared and
# noisy; medians are reported with the spread. Requests/s is capped by wrk sharing the machine;
# the worker's CPU time per request (utime + stime from /proc/<pid>/stat over a run, divided by the
# requests wrk counted) is the figure to compare.
#
# The last line is machine-readable:
#   RESULT ratio=<beacon req/s ÷ return-204 req/s> cpu_ratio=<return-204 CPU/req ÷ beacon CPU/req> ...
set -euo pipefail
cd "$(dirname "$0")/.."
sink_kind=${1:-udp}
nginx_choice=${2:-vendored}
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-5}
connections=${BENCH_CONNECTIONS:-32}

scripts/install-deps.sh bench >&2
. scripts/bench-lib.sh
choose_nginx "$nginx_choice"

dir=$(mktemp -d)
listener=
cleanup() {
    kill -QUIT "$(cat "$dir/nginx.pid" 2>/dev/null)" 2>/dev/null || true
    [[ -n $listener ]] && kill "$listener" 2>/dev/null || true
    sleep 1
    rm -rf "$dir"
}
trap cleanup EXIT
port=$(free_port)

start_sink "$sink_kind" "$dir" 1

mkdir -p "$dir/logs"
cat > "$dir/nginx.conf" <<CONF
load_module $module;
worker_processes 1;
worker_cpu_affinity 01;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
    analytics_sink $sink;
    server {
        listen 127.0.0.1:$port;
        location = /ping { analytics_beacon; analytics_domains example.com; }
        location = /empty { return 204; }
        location = /analytics_status { analytics_status; }
    }
}
CONF
"$nginx" -e "$dir/logs/error.log" -p "$dir/" -c "$dir/nginx.conf"
sleep 0.5

worker=$(pgrep -P "$(cat "$dir/nginx.pid")" | head -n 1)
ticks=$(getconf CLK_TCK)
# CPU time (user + system) the nginx worker has used so far, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$worker/stat"; }
# Prints "requests/s CPU-microseconds-per-request" for one wrk run against location $1.
run() {
    local before after out
    before=$(cpu)
    out=$(taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" -s bench/beacons.lua "http://127.0.0.1:$port/$1")
    after=$(cpu)
    if grep -q "Non-2xx" <<< "$out"; then
        echo "bench.sh: /$1 answered something else than 2xx:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk -v t="$ticks" -v used=$((after - before)) '/requests in/ {n = $1} /Requests\/sec/ {printf "%s %.3f\n", $2, used / t * 1e6 / n}' <<< "$out"
}
run empty >/dev/null # warm-up
run ping >/dev/null
empties=()
beacons=()
for round in $(seq "$rounds"); do
    empties+=("$(run empty)")
    beacons+=("$(run ping)")
    echo "round $round: return 204 ${empties[-1]% *} req/s (${empties[-1]#* } us CPU/req), analytics_beacon ${beacons[-1]% *} req/s (${beacons[-1]#* } us CPU/req)"
done
if [[ -n ${BENCH_PROFILE:-} ]]; then
    # One more run of each location under `perf record -g`; the summary is by shared object, then
    # by symbol (self time), for both.
    : > "$BENCH_PROFILE"
    for location in empty ping; do
        perf record -q -g -o "$dir/perf.data" -p "$worker" -- sleep "$seconds" 2>/dev/null &
        profiler=$!
        taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" -s bench/beacons.lua "http://127.0.0.1:$port/$location" >/dev/null
        wait "$profiler" || true
        {
            echo "## /$location: perf record -g -p <worker>; perf report --no-children --sort dso / --sort dso,sym -g none"
            perf report -i "$dir/perf.data" --no-children --sort dso -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$'
            perf report -i "$dir/perf.data" --no-children --sort dso,sym -g none --percent-limit 0.5 --stdio 2>/dev/null |
                grep -v '^#' | grep -v '^$'
        } >> "$BENCH_PROFILE"
    done
    echo "profiles: $BENCH_PROFILE"
fi
sleep 1.5 # the flush interval: what is pending gets written before the counters are read
status=$(curl -s "http://127.0.0.1:$port/analytics_status")
if grep -q '\[alert\]\|\[crit\]\|\[emerg\]\|exited on signal' "$dir/logs/error.log"; then
    echo "bench.sh: the error log reports trouble:" >&2
    cat "$dir/logs/error.log" >&2
    exit 1
fi
python3 - "$sink_kind" "$version" "$rounds" "$status" "${empties[@]}" "${beacons[@]}" <<'PY'
import json, statistics, sys
sink, version, rounds, status = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
runs = [tuple(map(float, x.split())) for x in sys.argv[5:]]
empty, beacon = runs[:rounds], runs[rounds:]
def summary(values):
    return statistics.median(values), min(values), max(values)
rps_e, rps_e_lo, rps_e_hi = summary([r for r, _ in empty])
rps_b, rps_b_lo, rps_b_hi = summary([r for r, _ in beacon])
cpu_e, cpu_e_lo, cpu_e_hi = summary([c for _, c in empty])
cpu_b, cpu_b_lo, cpu_b_hi = summary([c for _, c in beacon])
print(f"return 204:      median {rps_e:8.0f} req/s [{rps_e_lo:.0f}..{rps_e_hi:.0f}]  {cpu_e:6.2f} us CPU/req [{cpu_e_lo:.2f}..{cpu_e_hi:.2f}]")
print(f"analytics_beacon median {rps_b:8.0f} req/s [{rps_b_lo:.0f}..{rps_b_hi:.0f}]  {cpu_b:6.2f} us CPU/req [{cpu_b_lo:.2f}..{cpu_b_hi:.2f}]")
try:
    counters = json.loads(status)
    print("status:", json.dumps(counters, sort_keys=True)[:400])
except ValueError:
    pass
print(f"RESULT ratio={rps_b / rps_e:.3f} cpu_ratio={cpu_e / cpu_b:.3f} sink={sink} nginx={version} "
      f"rps_204={rps_e:.0f} rps_beacon={rps_b:.0f} us_204={cpu_e:.2f} us_beacon={cpu_b:.2f} rounds={rounds}")
PY
