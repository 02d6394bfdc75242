#!/usr/bin/env bash
# How fast the dashboard's queries are on a month of a busy site, and what the data take on disk.
#
#   scripts/bench-dashboard.sh [page views, default 1000000] [runs per query, default 3]
#
# Starts a private InfluxDB 1.x (Debian's influxd) on free loopback ports, writes 30 days of page
# views ending now (in batches of 10,000 lines, shaped like a real site: a few thousand pages with
# a long tail, a few hundred referring sites, devices, platforms, time zones, campaigns, 2%
# not-found pages, custom events), installs the roll-ups and back-fills them
# (scripts/influx-rollups.sh), then copies the daily roll-up 11 times, shifted by 30 days each,
# for a 12-month view. Then it runs every query of every panel of dashboards/grafana/analytics.json,
# with the variables filled in as Grafana does, for today / 7 days / 30 days on raw data, 30 days on
# analytics_1h and 12 months on analytics_1d, and prints the median time of each panel (its
# queries one after the other) and the size of each retention policy's data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
. scripts/bench-lib.sh
views=${1:-1000000}
runs=${2:-3}

command -v influxd >/dev/null || scripts/install-deps.sh test
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

dir=$(mktemp -d)
influxd_pid=""
# BENCH_REUSE_URL=<url> BENCH_REUSE_DIR=<influxd's directory>: time the queries of a server left
# by an earlier run instead (BENCH_YEAR=0 skips the 12-month copy).
cleanup() {
    [[ -z $influxd_pid ]] || { kill "$influxd_pid" 2>/dev/null; wait "$influxd_pid" 2>/dev/null || true; }
    rm -rf "$dir"
}
trap cleanup EXIT
data_dir=$dir
if [[ -n ${BENCH_REUSE_URL:-} ]]; then
    url=$BENCH_REUSE_URL
    data_dir=${BENCH_REUSE_DIR:?BENCH_REUSE_DIR: the directory of the reused server}
else
    http_port=$(free_port)
    rpc_port=$(free_port)
    # Caches are written to disk 10 s after the last write and fully compacted 30 s after, so that
    # the sizes measured are those of compacted data, as they would be after a while in production.
    cat > "$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
  compact-full-write-cold-duration = "30s"
  max-series-per-database = 0
  max-values-per-tag = 0
[coordinator]
  query-timeout = "0s"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$http_port"
  log-enabled = false
  max-body-size = 0
CONF
    influxd -config "$dir/influxdb.conf" > "$dir/influxd.log" 2>&1 &
    influxd_pid=$!
    url="http://127.0.0.1:$http_port"
    for _ in $(seq 100); do
        curl -s -o /dev/null -w '%{http_code}' "$url/ping" 2>/dev/null | grep -q 204 && break
        sleep 0.2
    done
    curl -sS -X POST "$url/query" --data-urlencode 'q=CREATE DATABASE "analytics"' > /dev/null
fi

cat > "$dir/bench.py" <<'PY'
import bisect, json, math, os, random, statistics, subprocess, sys, time, urllib.parse, urllib.request

URL, DB, DATA, REPO = sys.argv[2], "analytics", sys.argv[3], sys.argv[4]
NS, HOUR, DAY = 1_000_000_000, 3600 * 1_000_000_000, 86400 * 1_000_000_000


def post(path, params, body=None):
    data = body if body is not None else urllib.parse.urlencode(params).encode()
    if body is not None:
        path += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(urllib.request.Request(URL + path, data=data, method="POST"), timeout=3600) as r:
        return r.read()


def query(q, epoch="ms"):
    reply = json.loads(post("/query", {"db": DB, "q": q, "epoch": epoch}))
    for result in reply.get("results", []):
        if "error" in result:
            raise RuntimeError(f"{q}: {result['error']}")
    return reply


def write(lines, rp=None):
    params = {"db": DB, "precision": "ns", **({"rp": rp} if rp else {})}
    for i in range(0, len(lines), 10_000):
        post("/write", params, "\n".join(lines[i:i + 10_000]).encode())


def zipf(n, s=1.0):
    cum, total = [], 0.0
    for i in range(n):
        total += 1.0 / (i + 1) ** s
        cum.append(total)
    return cum, total


def chooser(items, cum_total):
    cum, total = cum_total
    return lambda: items[bisect.bisect(cum, random.random() * total)]


def du(path):
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout.split()[0]) if os.path.exists(path) else 0


def wait_compacted():
    """Waits until the data directory stops changing: the caches written and compacted."""
    last, stable = -1, 0
    for _ in range(60):
        time.sleep(5)
        size = du(DATA + "/data") + du(DATA + "/wal")
        stable = stable + 1 if size == last else 0
        last = size
        if stable >= 3:
            return


def generate(views):
    random.seed(20261129)
    now = time.time_ns()
    start = now - 30 * DAY
    sections = ["blog", "docs", "news", "shop", "help", "guides"]
    pages = ["/"] + [f"/{sections[i % 6]}/article-{i}" for i in range(1, 3000)]
    page = chooser(pages, zipf(len(pages), 1.05))
    refs = [f"www.site{i}.example" for i in range(300)]
    ref = chooser(refs, zipf(len(refs), 1.1))
    tzs = [-60, -120, 0, 300, 360, 480, 240, -330, -480, -540, -180, 420, -600, 180, -420, -240, 600, -345, 210, -780]
    tz = chooser(tzs, zipf(len(tzs), 1.3))
    sources = [f"source{i}" for i in range(40)]
    mediums = ["email", "social", "cpc", "referral", "display", "affiliate"]
    campaigns = [f"campaign-{i}" for i in range(60)]
    hour_weights = [0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9, 1.0, 1.0, 0.9, 0.7, 0.5]
    hour = chooser(list(range(24)), ([sum(hour_weights[:i + 1]) for i in range(24)], sum(hour_weights)))

    def when():
        while True:
            t = start + random.randrange(30) * DAY + hour() * HOUR + random.randrange(HOUR)
            if t < now:
                return t

    lines = []
    for _ in range(views):
        mobile = random.random() < 0.55
        platform = ("Android" if random.random() < 0.7 else "iOS") if mobile else \
            random.choices(["Windows", "macOS", "Linux", "ChromeOS"], [60, 25, 10, 5])[0]
        tags = {"device": "mobile" if mobile else "desktop", "domain": "example.com", "page": page(),
                "platform": platform, "tz": str(tz())}
        fields = ["hits=1i"]
        if random.random() < 0.45:
            host = ref()
            tags["referrer_domain"] = host
            fields.append(f'referrer="https://{host}/path/{random.randrange(20)}"')
        if random.random() < 0.06:
            tags["utm_source"], tags["utm_medium"], tags["utm_campaign"] = \
                random.choice(sources), random.choice(mediums), random.choice(campaigns)
        if random.random() < 0.9:
            fields.append(f"load_ms={min(600000, int(random.lognormvariate(math.log(900), 0.6)))}i")
        if random.random() < 0.95:
            fields.append(f"session_pages={min(50, int(random.expovariate(0.6)) + 1)}i")
        tag_text = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
        lines.append(f"pageview,{tag_text} {','.join(fields)} {when()}")
    missing = chooser([f"/missing/{i}" for i in range(800)], zipf(800))
    for _ in range(views // 50):
        referrer = f",referrer_domain={ref()}" if random.random() < 0.3 else ""
        lines.append(f"notfound,device=desktop,domain=example.com,page={missing()}{referrer} hits=1i {when()}")
    names = ["signup", "download", "video-play", "newsletter", "share", "search", "cart-add", "checkout",
             "contact", "login", "comment", "print"]
    for _ in range(views * 3 // 100):
        lines.append(f"event,domain=example.com,name={random.choice(names)},page={pages[random.randrange(200)]} hits=1i {when()}")
    return lines


def point_count(rp):
    """Points in a retention policy: per measurement, its most counted field."""
    reply = query(f'SELECT count(*) FROM "{rp}"./.*/ WHERE time >= 0')
    return sum(max(x for x in s["values"][0][1:] if x is not None) for s in reply["results"][0].get("series", []))


def lp_escape(v):
    return v.replace("\\", "%5C").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


INTEGER_FIELDS = {"hits", "visits", "continued", "samples"}


def copy_shifted(rp, measurement, copies, shift):
    """Writes `copies` copies of a roll-up, each `shift` older than the one before."""
    reply = query(f'SELECT * FROM "{rp}"."{measurement}" WHERE time >= 0 GROUP BY *', epoch="ns")
    base = []
    for series in reply["results"][0].get("series", []):
        tags = "".join(f",{k}={lp_escape(v)}" for k, v in sorted(series.get("tags", {}).items()) if v)
        cols = series["columns"]
        for row in series["values"]:
            fields = []
            for c, v in zip(cols[1:], row[1:]):
                if v is None:
                    continue
                fields.append(f"{c}={int(v)}i" if c in INTEGER_FIELDS else f"{c}={float(v)!r}")
            if fields:
                base.append((f"{measurement}{tags} {','.join(fields)} ", row[0]))
    for k in range(1, copies + 1):
        write([f"{text}{t - k * shift}" for text, t in base], rp)
    return len(base)


def interpolate(q, variables):
    for name in ["timeFilter", "__interval_ms", "__interval", "__from", "__to", "domain", "rp"]:
        q = q.replace("${" + name + "}", variables[name]).replace("$" + name, variables[name])
    return q


def panel_times(dashboard, periods, runs):
    """Median time of each panel (its queries one after the other), per period, in ms."""
    now_ms = time.time_ns() // 1_000_000
    table = []
    for panel in dashboard["panels"]:
        row = [panel["title"]]
        for _, rp, days, interval in periods:
            from_ms = now_ms - now_ms % 86_400_000 if days == 0 else now_ms - days * 86_400_000
            variables = {"timeFilter": f"time >= {from_ms}ms and time <= {now_ms}ms", "__interval": interval,
                         "__interval_ms": str({"1h": 3_600_000, "1d": 86_400_000}[interval]),
                         "__from": str(from_ms), "__to": str(now_ms), "domain": r"example\.com", "rp": rp}
            elapsed = 0.0
            for target in panel["targets"]:
                q = interpolate(target["query"], variables)
                samples = []
                for _ in range(runs):
                    t = time.perf_counter()
                    query(q)
                    samples.append(time.perf_counter() - t)
                elapsed += statistics.median(samples)
            row.append(elapsed * 1000)
        table.append(row)
        print(f"  {row[0]}: " + "  ".join(f"{v:.0f}" for v in row[1:]), file=sys.stderr, flush=True)
    return table


def print_table(table, periods):
    width = max(len(r[0]) for r in table)
    totals = ["all panels"] + [sum(r[i] for r in table) for i in range(1, len(periods) + 1)]
    print(f"| {'panel':<{width}} | " + " | ".join(f"{p[0]:>9}" for p in periods) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * 10 + ":" for _ in periods) + "|")
    for r in table + [totals]:
        print(f"| {r[0]:<{width}} | " + " | ".join(f"{v:>9.0f}" for v in r[1:]) + " |")
    print(flush=True)


def main():
    views = int(sys.argv[1])
    runs = int(sys.argv[5])
    reuse = os.environ.get("BENCH_REUSE_URL")
    per_million = 1_000_000 / views
    if not reuse:
        print(f"generating {views} page views over 30 days...", flush=True)
        lines = generate(views)
        t = time.time()
        write(lines)
        written = time.time() - t
        print(f"wrote {len(lines)} points in {written:.0f} s ({len(lines) / written:.0f} points/s)", flush=True)
        del lines
        wait_compacted()
        t = time.time()
        out = subprocess.run(["bash", f"{REPO}/scripts/influx-rollups.sh", URL, DB, "autogen", "--backfill", "31d"],
                             capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stdout + out.stderr)
        print(f"back-filled the roll-ups (31 days) in {time.time() - t:.0f} s", flush=True)
    wait_compacted()
    print()
    print("Storage after 30 days (InfluxDB data directory, compacted; the inmem index lives in memory):")
    for rp in ["autogen", "analytics_1h", "analytics_1d"]:
        size = du(f"{DATA}/data/{DB}/{rp}")
        print(f"  {rp:<13} {size / 1e6:8.1f} MB = {size * per_million / 1e6:7.1f} MB per million page views, "
              f"{point_count(rp)} points", flush=True)
    print()

    dashboard = json.load(open(f"{REPO}/dashboards/grafana/analytics.json"))
    version = subprocess.run(["influxd", "version"], capture_output=True, text=True).stdout.split()[1]
    periods = [  # (column, rp, days (0: today), $__interval)
        ("today raw", "autogen", 0, "1h"),
        ("7 d raw", "autogen", 7, "1h"),
        ("30 d raw", "autogen", 30, "1h"),
        ("30 d 1h", "analytics_1h", 30, "1h"),
        ("30 d 1d", "analytics_1d", 30, "1d"),
    ]
    print(f"Median time per panel in ms (its queries one after the other, {runs} run(s) each), "
          f"{views} page views in 30 days, InfluxDB {version}:", flush=True)
    print_table(panel_times(dashboard, periods, runs), periods)

    if os.environ.get("BENCH_YEAR", "1") == "1":
        t = time.time()
        copied = sum(copy_shifted("analytics_1d", m, 11, 30 * DAY)
                     for m in ["pageview", "notfound", "event", "visit", "load_time"])
        print(f"copied {copied} daily points 11 times, shifted by 30 days, in {time.time() - t:.0f} s", flush=True)
        wait_compacted()
        size = du(f"{DATA}/data/{DB}/analytics_1d")
        print(f"  analytics_1d, 12 months: {size / 1e6:.1f} MB, {point_count('analytics_1d')} points")
        year = [("12 mo 1d", "analytics_1d", 365, "1d")]
        print_table(panel_times(dashboard, year, runs), year)


main()
PY
python3 "$dir/bench.py" "$views" "$url" "$data_dir" "$repo" "$runs"
