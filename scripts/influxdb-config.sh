#!/usr/bin/env bash
# Prints the configuration of a private InfluxDB 1.x: data under DIR, HTTP on 127.0.0.1:HTTP_PORT,
# nothing else reachable (its backup service on a port the system chooses), no reporting.
# Used by scripts/demo.sh and scripts/bench-outage.sh.
#   scripts/influxdb-config.sh DIR HTTP_PORT > DIR/influxdb.conf
set -euo pipefail
(($# == 2)) || { echo "usage: $0 DIR HTTP_PORT" >&2; exit 2; }
cat <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:0"
[meta]
  dir = "$1/meta"
[data]
  dir = "$1/data"
  wal-dir = "$1/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$2"
  log-enabled = false
CONF
