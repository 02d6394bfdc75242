#!/usr/bin/env bash
# Instructions and system calls of the nginx worker per request, for a beacon location and for
# nginx's bare `return 204`: figures that do not move with the machine's load, unlike the CPU
# times of scripts/bench.sh.
#
#   scripts/bench-instructions.sh [sink] [nginx]
#     sink, nginx  as for scripts/bench.sh (udp (default) | file | http; vendored (default) | debian
#                  | <path of an nginx binary>)
#   Environment: INSTR_REQUESTS (2000) requests counted per location, after INSTR_WARMUP (400);
#   INSTR_PROFILE=<dir>: keep the callgrind files there (callgrind.<location>.out) and write
#   `callgrind_annotate --inclusive=yes` of each to <dir>/<location>.txt;
#   BENCH_MODULE=<.so>: this build of the module instead (before/after comparisons).
#
# One nginx in one process (`master_process off; daemon off;`), the same configuration as
# scripts/bench.sh. bench/send_beacons.py sends the eight beacons of bench/beacons.lua in turn,
# one at a time on a keep-alive connection (a new one after nginx closes it at keepalive_requests, as wrk does), so that the count does not depend on timing.
#
# Instructions (user space: nginx, the module, libc) are counted by valgrind's callgrind, only
# inside nginx's event loop (`--toggle-collect=ngx_process_events_and_timers`: no start-up, no
# configuration, no exit). Each location is run twice, with WARMUP and with WARMUP + REQUESTS
# requests, each run waiting out the sink's flush interval before the count is taken; the
# difference divided by REQUESTS is the cost of one request, first-request and idle costs cancelled.
# System calls are counted by `strace -c` attached to the same nginx (not under valgrind) for the
# REQUESTS requests after the warm-up, then the flush interval.
#
# The last line is machine-readable:
#   INSTR instr_204=<per request> instr_beacon=... syscalls_204=... syscalls_beacon=... sink=... nginx=...
set -euo pipefail
shopt -s inherit_errexit # a failed client fails the script, also inside $(...)
cd "$(dirname "$0")/.."
sink_kind=${1:-udp}
nginx_choice=${2:-vendored}
requests=${INSTR_REQUESTS:-2000}
warmup=${INSTR_WARMUP:-400}
profile=${INSTR_PROFILE:-}

scripts/install-deps.sh bench >&2
. scripts/bench-lib.sh
choose_nginx "$nginx_choice"

dir=$(mktemp -d)
listener=
server=
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null || true
    [[ -n $listener ]] && kill "$listener" 2>/dev/null || true
    sleep 0.5
    rm -rf "$dir"
}
trap cleanup EXIT

start_sink "$sink_kind" "$dir"

mkdir -p "$dir/logs"
port=$(free_port)
cat > "$dir/nginx.conf" <<CONF
load_module $module;
master_process off;
daemon off;
worker_processes 1;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 1024; }
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
    }
}
CONF

# Starts nginx (under the command in "$@", if any) and waits until it answers.
start() {
    "$@" "$nginx" -e "$dir/logs/error.log" -p "$dir/" -c "$dir/nginx.conf" 2>>"$dir/logs/start.log" &
    server=$!
    for _ in $(seq 600); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && return
        sleep 0.1
    done
    echo "bench-instructions.sh: nginx did not start:" >&2
    cat "$dir/logs/start.log" "$dir/logs/error.log" >&2
    exit 1
}
stop() {
    kill -QUIT "$server"
    wait "$server" || true
    server=
}
send() { bench/send_beacons.py "$port" "/$1" "$2"; }
flush_wait() { sleep 1.5; } # the sink's flush interval (1s) and some

# Instructions of the event loop, in a run that answers $2 requests to location $1; the callgrind
# file is kept as $3.
instructions() {
    start valgrind --tool=callgrind --collect-atstart=no --toggle-collect=ngx_process_events_and_timers \
        --callgrind-out-file="$3"
    send "$1" "$2"
    flush_wait
    stop
    awk '/^(summary|totals):/ {print $2; exit}' "$3"
}
# System calls of the worker for $2 requests to location $1 after the warm-up, in a breakdown
# file $3 (strace -c).
syscalls() {
    start
    send "$1" "$warmup"
    strace -c -f -o "$3" -p "$server" 2>/dev/null &
    local tracer=$!
    sleep 1
    send "$1" "$2"
    flush_wait
    kill -INT "$tracer"
    wait "$tracer" || true
    stop
    # strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall.
    awk '$NF == "total" {print $4; exit}' "$3"
}

declare -A instr calls
for location in empty ping; do
    base=$(instructions "$location" "$warmup" "$dir/callgrind.$location.base")
    full=$(instructions "$location" $((warmup + requests)) "$dir/callgrind.$location.out")
    instr[$location]=$(((full - base) / requests))
    n=$(syscalls "$location" "$requests" "$dir/strace.$location.txt")
    calls[$location]=$(python3 -c "print(f'{$n / $requests:.2f}')")
    echo "/$location: $((full - base)) instructions for $requests requests (${instr[$location]} each);" \
        "$n system calls (${calls[$location]} each):"
    awk -v n="$requests" '$1 ~ /^[0-9.]+$/ && $NF != "total" {
        printf "    %-16s %6.2f per request\n", $NF, $4 / n }' "$dir/strace.$location.txt"
    if [[ -n $profile ]]; then
        mkdir -p "$profile"
        cp "$dir/callgrind.$location.out" "$profile/callgrind.$location.out"
        callgrind_annotate --inclusive=yes "$profile/callgrind.$location.out" > "$profile/$location.txt" 2>/dev/null
    fi
done
if grep -q '\[alert\]\|\[crit\]\|\[emerg\]\|exited on signal' "$dir/logs/error.log"; then
    echo "bench-instructions.sh: the error log reports trouble:" >&2
    cat "$dir/logs/error.log" >&2
    exit 1
fi
[[ -n $profile ]] && echo "profiles: $profile"
echo "INSTR instr_204=${instr[empty]} instr_beacon=${instr[ping]} syscalls_204=${calls[empty]}" \
    "syscalls_beacon=${calls[ping]} sink=$sink_kind nginx=$version requests=$requests"
