#!/usr/bin/env bash
# What one InfluxDB 1.x and one VictoriaMetrics ingest on this machine, in lines of this module's
# schema per second: a private influxd and victoria-metrics on free loopback ports, fed pre-built
# batches of 5,000 lines (unique nanosecond timestamps, 2,000 series) by a small Python POSTer
# over keep-alive connections, for DURATION seconds each. The POSTer shares the machine: the
# figures are a floor, not the stores' ceiling. For docs/scaling.md.
#   scripts/bench-store-ingest.sh [DURATION=15] [CONNECTIONS=2]
set -euo pipefail
duration=${1:-15}
connections=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
. "$here/bench-lib.sh"

influx_port=$(free_port)
mkdir -p "$dir/influx"
"$here/influxdb-config.sh" "$dir/influx" "$influx_port" > "$dir/influx/influxdb.conf"
influxd -config "$dir/influx/influxdb.conf" >"$dir/influx/log" 2>&1 &
pids+=($!)
vm_port=$(free_port)
victoria-metrics -storageDataPath="$dir/vm" -httpListenAddr="127.0.0.1:$vm_port" >"$dir/vm.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$influx_port/ping" >/dev/null && curl -sf "http://127.0.0.1:$vm_port/health" >/dev/null && break
    sleep 0.2
done
curl -sf -XPOST "http://127.0.0.1:$influx_port/query" --data-urlencode "q=CREATE DATABASE bench" >/dev/null

python3 - "$duration" "$connections" "$influx_port" "$vm_port" <<'PY'
import http.client, sys, threading, time, random
duration, connections, influx_port, vm_port = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
random.seed(1)
BATCH = 5000

def batches(count, start_ns):
    out, ts = [], start_ns
    for _ in range(count):
        lines = []
        for _ in range(BATCH):
            ts += 1000
            page = random.randint(1, 400)
            platform = random.choice(["Windows", "macOS", "Linux", "iOS", "Android"])
            tz = random.choice(["0", "-60", "-120", "300", "240"])
            lines.append(
                f"pageview,device=desktop,domain=example.com,page=/docs/page-{page},platform={platform},tz={tz} "
                f"hits=1i,load_ms={random.randint(200, 3000)}i,session_pages={random.randint(1, 5)}i {ts}\n")
        out.append("".join(lines).encode())
    return out

def run(name, port, path):
    prebuilt = batches(40, time.time_ns() - 3600 * 10**9)
    sent = [0] * connections
    stop = time.monotonic() + duration
    def worker(i):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        n = i
        while time.monotonic() < stop:
            body = prebuilt[n % len(prebuilt)]
            n += connections
            conn.request("POST", path, body)
            r = conn.getresponse()
            r.read()
            if r.status != 204:
                raise SystemExit(f"{name}: {r.status}")
            sent[i] += BATCH
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads: t.start()
    for t in threads: t.join()
    elapsed = time.monotonic() - started
    print(f"{name}: {sum(sent)} lines in {elapsed:.1f} s = {sum(sent) / elapsed:,.0f} lines/s "
          f"({connections} connections, batches of {BATCH}, {len(prebuilt[0]) // BATCH} bytes a line)")

run("InfluxDB 1.x /write", influx_port, "/write?db=bench")
run("VictoriaMetrics /write", vm_port, "/write")
PY
influxd version 2>/dev/null | head -1 || true
