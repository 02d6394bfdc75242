#!/usr/bin/env bash
# The demo: builds the module with its vendored nginx, serves the browser script and a demo page on
# http://localhost:$PORT/ (default 8080), writes page views to a private InfluxDB that it installs
# and starts (port $INFLUX_PORT, default 8087), and serves the dashboard at /analytics/. Where
# InfluxDB cannot be installed or started, it writes to a file instead and says so.
# Open the page, then the dashboard; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
port=${PORT:-8080}
influx_port=${INFLUX_PORT:-8087}

scripts/install-deps.sh build
cargo build --release --features vendored
scripts/install-deps.sh demo || echo "note: InfluxDB could not be installed; the demo writes to a file"

module=$repo/target/release/libngx_http_analytics_module.so
nginx=$(ls -t "$repo"/target/release/build/nginx-sys-*/out/objs/nginx | head -n 1)
dir=$repo/demo-run
mkdir -p "$dir/logs"
: > "$dir/analytics.lp"

# A private InfluxDB 1.x, its data under demo-run/influxdb, on loopback only.
influx_pid=
if command -v influxd >/dev/null; then
    mkdir -p "$dir/influxdb"
    scripts/influxdb-config.sh "$dir/influxdb" "$influx_port" > "$dir/influxdb/influxdb.conf"
    influxd -config "$dir/influxdb/influxdb.conf" > "$dir/logs/influxd.log" 2>&1 &
    influx_pid=$!
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$influx_port/ping" && break; sleep 0.1; done
    if curl -fs -o /dev/null -XPOST "http://127.0.0.1:$influx_port/query" --data-urlencode "q=CREATE DATABASE analytics"; then
        sink="http://127.0.0.1:$influx_port/write?db=analytics"
    else
        echo "note: InfluxDB did not start (see $dir/logs/influxd.log); the demo writes to a file"
        kill "$influx_pid" 2>/dev/null || true
        influx_pid=
    fi
fi
if [[ -n $influx_pid ]]; then
    cat > "$dir/dashboard.conf" <<CONF
        # The dashboard, and InfluxDB's query API behind it: read-only and loopback-only here; a
        # real site protects both (README: analytics_dashboard).
        location /analytics/ {
            analytics_dashboard query=/influx/query;
            allow 127.0.0.1; deny all;
        }
        location = /influx/query {
            limit_except GET { deny all; }
            allow 127.0.0.1; deny all;
            proxy_pass http://127.0.0.1:$influx_port/query;
        }
CONF
else
    sink="file:$dir/analytics.lp"
    cat > "$dir/dashboard.conf" <<CONF
        location /analytics/ { return 200 "The dashboard needs InfluxDB, which could not be installed or started here: page views go to $dir/analytics.lp.\n"; }
CONF
fi

sed -e "s|@DIR@|$dir|g" -e "s|@REPO@|$repo|g" -e "s|@MODULE@|$module|g" -e "s|@PORT@|$port|g" \
    -e "s|@SINK@|$sink|g" nginx-conf/demo.conf > "$dir/nginx.conf"

"$nginx" -t -q -p "$dir/" -c "$dir/nginx.conf"
"$nginx" -p "$dir/" -c "$dir/nginx.conf" &
nginx_pid=$!
stop_all='kill -QUIT $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null || true; [[ -z $influx_pid ]] || kill $influx_pid 2>/dev/null || true'
trap "$stop_all" EXIT INT TERM

for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

cat <<INFO

  Demo page:   http://localhost:$port/         (open it in a browser)
  Dashboard:   http://localhost:$port/analytics/   (then open this: your visit is there)
  Status:      http://127.0.0.1:$port/analytics_status
  Sink:        $sink
  A beacon by hand:
    curl -i -A Mozilla/5.0 -d '{"domain":"localhost","page":"/by-hand?utm_source=demo&token=dropped","referrer":"https://example.org/x?q=1"}' http://127.0.0.1:$port/ping

INFO
if [[ -n $influx_pid ]]; then
    echo "  Page views stored so far, every 5 s (Ctrl-C to stop):"
    while kill -0 "$nginx_pid" 2>/dev/null; do
        sleep 5
        n=$(curl -fsG "http://127.0.0.1:$influx_port/query" --data-urlencode db=analytics \
            --data-urlencode "q=SELECT sum(hits) FROM pageview" | grep -o '"values":\[\[[^]]*' | sed 's/.*,//' || true)
        echo "    $(date +%T)  page views: ${n:-0}"
    done
else
    echo "  Lines as they arrive (Ctrl-C to stop):"
    tail -n +1 -f "$dir/analytics.lp" &
    tail_pid=$!
    trap "kill $tail_pid 2>/dev/null; $stop_all" EXIT INT TERM
    wait $nginx_pid
fi
