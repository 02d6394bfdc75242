#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine, skipping what is there.
#   scripts/install-deps.sh build   - the module and its vendored nginx
#   scripts/install-deps.sh test    - plus what the tests start: InfluxDB, VictoriaMetrics, Chromium
set -euo pipefail

packages=(libclang-dev libpcre2-dev libssl-dev zlib1g-dev make gcc curl)
if [[ "${1:-build}" == test ]]; then
    packages+=(influxdb victoria-metrics chromium openssl python3)
    command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    # RUNLEVEL=1 keeps invoke-rc.d from starting the packaged InfluxDB: tests start their own.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
