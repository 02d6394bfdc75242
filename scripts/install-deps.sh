#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine, skipping what is there.
#   scripts/install-deps.sh build   - the module and its vendored nginx
#   scripts/install-deps.sh package - plus what the Debian package needs: Debian's nginx and its
#                                     sources (nginx-dev, with dh-sequence-nginx), debhelper, lintian
#   scripts/install-deps.sh test    - all of it, and what the tests start: InfluxDB, VictoriaMetrics,
#                                     Chromium, Firefox ESR, Debian's GeoIP2 module and a MaxMind DB
#                                     writer (mmdb-writer, in target/python) for tests/geoip2.rs
#   scripts/install-deps.sh demo    - the InfluxDB the demo writes to
#   scripts/install-deps.sh bench   - wrk, and perf for BENCH_PROFILE= of scripts/bench.sh; valgrind
#                                     and strace for scripts/bench-instructions.sh
set -euo pipefail

packages=(libclang-dev libpcre2-dev libssl-dev zlib1g-dev make gcc curl)
# build-essential: dpkg-buildpackage refuses to build without it (an implicit build dependency);
# its g++ also builds libFuzzer for scripts/fuzz.sh.
package_packages=(build-essential dpkg-dev debhelper nginx nginx-dev lintian git)
case "${1:-build}" in
    build) ;;
    demo) packages=(influxdb) ;;
    bench) packages+=(wrk linux-perf python3 valgrind strace) ;;
    package) packages+=("${package_packages[@]}") ;;
    test)
        packages+=("${package_packages[@]}" influxdb victoria-metrics chromium firefox-esr openssl python3 \
            python3-venv libnginx-mod-http-geoip2)
        command -v npm >/dev/null || packages+=(nodejs npm)
        ;;
    *) echo "usage: $0 [build|package|test|demo|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    # The packaged InfluxDB and nginx must not start: tests start their own (and nginx would take
    # port 80). RUNLEVEL=1 stops invoke-rc.d without an init system; under systemd, a
    # policy-rc.d that refuses every start does (put there only for this install, and only when
    # the machine has none of its own).
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
        "${sudo_cmd[@]}" chmod 755 "$policy"
        own_policy=1
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
    [[ -z $own_policy ]] || "${sudo_cmd[@]}" rm -f "$policy"
    ((status == 0)) || exit "$status"
fi

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }

# tests/geoip2.rs writes its own MaxMind DB with this pure-Python writer, kept out of the system's
# Python in a virtual environment of the build tree.
if [[ ${1:-build} == test ]]; then
    python=$(dirname "$0")/../target/python
    if ! "$python/bin/python3" -c 'import mmdb_writer' 2>/dev/null; then
        python3 -m venv "$python"
        "$python/bin/pip" install -q mmdb-writer==0.2.7
    fi
fi
