#!/usr/bin/env bash
# Builds the module for Debian's packaged nginx (the `nginx` package of this machine's release) and
# extracts that nginx binary, without installing either: used to test compatibility with a stock
# distribution nginx, and a worked example of "Building for your nginx" in the README.
# Prints two lines: NGINX=<binary> and MODULE=<.so>.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$repo/target/debian-nginx
mkdir -p "$work"
cd "$work"

if [[ ! -x root/usr/sbin/nginx || ! -d root/usr/share/nginx/src ]]; then
    rm -rf root ./*.deb
    apt-get download nginx nginx-dev >&2 || { apt-get update -qq >&2 && apt-get download nginx nginx-dev >&2; }
    for deb in ./*.deb; do dpkg-deb -x "$deb" root; done
fi
src=$work/root/usr/share/nginx/src
if [[ ! -f $src/objs/ngx_auto_config.h ]]; then
    # Debian ships the configure arguments of its binary; the module must match them exactly.
    (cd "$src" && source ./conf_flags && ./configure "${NGX_CONF_FLAGS[@]}" >&2)
fi
cd "$repo"
NGINX_SOURCE_DIR=$src NGINX_BUILD_DIR=$src/objs CARGO_TARGET_DIR=$work/target cargo build --release >&2
echo "NGINX=$work/root/usr/sbin/nginx"
echo "MODULE=$work/target/release/libngx_http_analytics_module.so"
