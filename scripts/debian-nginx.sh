#!/usr/bin/env bash
# Builds the module for Debian's packaged nginx (the `nginx` package of this machine's release) and
# extracts that nginx binary, without installing either: used to test compatibility with a stock
# distribution nginx. The build itself is scripts/build-for-nginx.sh, given the extracted binary and
# the sources of the `nginx-dev` package.
# Prints two lines: NGINX=<binary> and MODULE=<.so>.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$repo/target/debian-nginx
mkdir -p "$work"

if [[ ! -x $work/root/usr/sbin/nginx || ! -d $work/root/usr/share/nginx/src ]]; then
    rm -rf "$work/root" "$work"/*.deb
    (cd "$work" && { apt-get download nginx nginx-dev >&2 || { apt-get update -qq >&2 && apt-get download nginx nginx-dev >&2; }; })
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
fi
printf 'NGINX=%q\n' "$work/root/usr/sbin/nginx"
NGINX_SOURCE_DIR=$work/root/usr/share/nginx/src MODULE_BUILD_DIR=$work \
    scripts/build-for-nginx.sh "$work/root/usr/sbin/nginx"
