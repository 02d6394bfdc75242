#!/usr/bin/env bash
# Builds the module for an installed nginx, so that this nginx loads it:
#   scripts/build-for-nginx.sh [path-to-nginx]        (default: the nginx on PATH, else /usr/sbin/nginx)
#
# A dynamic module must be built against the same nginx version and the same `configure` arguments
# as the binary that loads it. This script reads both from `nginx -V`, finds the matching source
# tree (or takes NGINX_SOURCE_DIR), configures a private copy of it with those arguments, builds the
# module against it with cargo, and checks with `nginx -t` that this nginx loads the result.
#
# Where the sources come from, when NGINX_SOURCE_DIR is not set (the first tree whose
# src/core/nginx.h has the version `nginx -V` printed):
#   /usr/share/nginx/src                  Debian's and Ubuntu's `nginx-dev` package
#   nginx-src-*+<version>/nginx           the `nginx-src` crate in cargo's registry (the vendored build)
#   /usr/src/nginx-<version>, /usr/local/src/nginx-<version>
#
# Environment:
#   NGINX_SOURCE_DIR   the nginx source tree to use (a release tarball or a repository checkout)
#   MODULE_BUILD_DIR   where to configure and build (default: target/for-nginx/<version>-<hash>)
#
# Prints MODULE=<path of the built .so> on stdout (everything else goes to stderr); copy it to the
# nginx's modules directory as ngx_http_analytics_module.so.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

fail() {
    printf 'build-for-nginx: %s\n' "$@" >&2
    exit 1
}
note() { printf 'build-for-nginx: %s\n' "$@" >&2; }

nginx=${1:-$(command -v nginx || true)}
if [[ -z $nginx && -x /usr/sbin/nginx ]]; then
    nginx=/usr/sbin/nginx # not on a user's PATH on Debian
fi
[[ -n $nginx ]] || fail "no nginx on PATH: give the path of the nginx binary as the first argument"
[[ -x $nginx && ! -d $nginx ]] || fail "$nginx is not an executable nginx binary"
nginx=$(readlink -f "$nginx")

version_text=$("$nginx" -V 2>&1) || fail "\`$nginx -V\` failed:" "$version_text"
version=$(sed -n 's|^nginx version: [^/]*/\([0-9][0-9.]*\).*|\1|p' <<<"$version_text")
[[ -n $version ]] || fail "\`$nginx -V\` printed no version:" "$version_text"
arguments_line=$(sed -n 's/^configure arguments: //p' <<<"$version_text")

# `nginx -V` prints the arguments shell-quoted (Debian's --with-cc-opt='-g -O2 ...'): xargs splits
# them the way the shell would, without evaluating anything.
original_arguments=()
if [[ -n $arguments_line ]]; then
    mapfile -d '' original_arguments < <(xargs printf '%s\0' <<<"$arguments_line")
fi

# What shapes the module's view of nginx is the version, the core, and the static modules' flags
# (`--with-compat` among them). Other dynamic modules, the build directory and the sources of
# libraries built into nginx do not: they are left out, since their files are not here.
arguments=()
for argument in "${original_arguments[@]}"; do
    case $argument in
        --add-dynamic-module=* | --with-*=dynamic | --builddir=*)
            note "leaving out $argument (another module's or the build's own: not what this module is built against)"
            ;;
        --add-module=*)
            note "leaving out $argument: a static module does not change the module ABI"
            ;;
        --with-openssl=* | --with-pcre=* | --with-zlib=* | --with-libatomic=*)
            if [[ -d ${argument#*=} ]]; then
                arguments+=("$argument")
            else
                note "leaving out $argument: that source tree is not here; the system's headers are used"
            fi
            ;;
        *) arguments+=("$argument") ;;
    esac
done
[[ " ${arguments[*]} " == *" --with-compat "* ]] ||
    note "this nginx was built without --with-compat: only an exact match of its configure arguments loads"

source_version() {
    # Empty, not a failure, where there is no tree.
    sed -n 's/^#define NGINX_VERSION *"\([^"]*\)".*/\1/p' "$1/src/core/nginx.h" 2>/dev/null || true
}

if [[ -n ${NGINX_SOURCE_DIR:-} ]]; then
    source_dir=$NGINX_SOURCE_DIR
    [[ -f $source_dir/src/core/nginx.h ]] ||
        fail "NGINX_SOURCE_DIR=$source_dir is not an nginx source tree (no src/core/nginx.h)"
    found=$(source_version "$source_dir")
    [[ $found == "$version" ]] ||
        fail "NGINX_SOURCE_DIR=$source_dir holds nginx ${found:-of unknown version}, but $nginx is nginx $version:" \
            "a module built from these sources would not load (\"module ... version ... instead of ...\")." \
            "Use the sources of nginx $version (https://nginx.org/download/nginx-$version.tar.gz, or your distribution's)."
else
    candidates=(/usr/share/nginx/src)
    for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/nginx-src-*+"$version"/nginx; do
        candidates+=("$dir")
    done
    candidates+=("/usr/src/nginx-$version" "/usr/local/src/nginx-$version")
    source_dir=
    for dir in "${candidates[@]}"; do
        if [[ $(source_version "$dir") == "$version" ]]; then
            source_dir=$dir
            break
        fi
    done
    if [[ -z $source_dir ]]; then
        looked=()
        for dir in "${candidates[@]}"; do
            found=$(source_version "$dir")
            looked+=("  $dir${found:+ (nginx $found)}")
        done
        fail "no sources of nginx $version found for $nginx; looked in:" "${looked[@]}" \
            "Debian and Ubuntu: apt-get install nginx-dev (the sources of the packaged nginx)." \
            "Otherwise: download https://nginx.org/download/nginx-$version.tar.gz, unpack it, and run" \
            "  NGINX_SOURCE_DIR=/path/to/nginx-$version $0 $nginx"
    fi
fi
source_dir=$(readlink -f "$source_dir")
note "nginx $version at $nginx, sources in $source_dir"

key=$(printf '%s\n' "$source_dir" "${arguments[@]}" | sha256sum | cut -c1-12)
build_dir=${MODULE_BUILD_DIR:-$repo/target/for-nginx/$version-$key}
mkdir -p "$build_dir"
build_dir=$(readlink -f "$build_dir")
tree=$build_dir/nginx
stamp=$build_dir/configured-with

# configure writes into the tree it runs in (a Makefile beside the sources): it runs in a private
# copy, so a package's or the registry's tree is never changed.
if [[ ! -f $tree/objs/ngx_auto_config.h || ! -f $stamp ]] ||
    ! diff -q "$stamp" <(printf '%s\n' "$source_dir" "${arguments[@]}") >/dev/null; then
    rm -rf "$tree" "$stamp"
    mkdir -p "$tree"
    cp -a "$source_dir/." "$tree/"
    rm -rf "$tree/objs" "$tree/Makefile"
    configure=./configure
    [[ -x $tree/configure ]] || configure=./auto/configure # a repository checkout
    note "configuring: $configure ${arguments[*]}"
    if ! (cd "$tree" && "$configure" "${arguments[@]}") >"$build_dir/configure.log" 2>&1; then
        tail -n 20 "$build_dir/configure.log" >&2
        fail "configuring nginx $version with the arguments of $nginx failed (the whole output is in $build_dir/configure.log);" \
            "a library that nginx was built with may need its -dev package."
    fi
    printf '%s\n' "$source_dir" "${arguments[@]}" >"$stamp"
fi

note "building the module (cargo build --release)"
NGINX_SOURCE_DIR=$tree NGINX_BUILD_DIR=$tree/objs CARGO_TARGET_DIR=$build_dir/target \
    cargo build --release --locked -p ngx_http_analytics_module --lib >&2
module=$build_dir/ngx_http_analytics_module.so
cp "$build_dir/target/release/libngx_http_analytics_module.so" "$module"

# The proof: this nginx loads the module. An ABI mismatch fails here with nginx's own words.
check=$build_dir/load-check
rm -rf "$check"
mkdir -p "$check/logs"
printf 'load_module %s;\nerror_log %s/logs/error.log;\npid %s/nginx.pid;\nevents {}\n' \
    "$module" "$check" "$check" >"$check/nginx.conf"
if ! output=$("$nginx" -t -p "$check/" -c "$check/nginx.conf" 2>&1); then
    fail "$nginx does not load the module built from $source_dir:" "$output" \
        "The sources or configure arguments do not match this nginx: use the sources it was built from."
fi
modules_path=$(sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p' <<<"$arguments_line")
prefix=$(sed -n 's/.*--prefix=\([^ ]*\).*/\1/p' <<<"$arguments_line")
note "$nginx loads $module; install it with:" \
    "  cp $module ${modules_path:-${prefix:-/usr/local/nginx}/modules}/" \
    "and add to the top of nginx.conf: load_module modules/ngx_http_analytics_module.so;"
printf 'MODULE=%q\n' "$module"
