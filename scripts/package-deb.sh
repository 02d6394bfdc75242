#!/usr/bin/env bash
# Builds the Debian package libnginx-mod-http-analytics_<version>_<arch>.deb for this machine's
# packaged nginx, from debian/ with dpkg-buildpackage and dh's nginx add-on (dh-sequence-nginx, in
# nginx-dev), as Debian builds its own libnginx-mod-* packages; then runs lintian on it.
# Prints the path of the .deb on stdout; everything else goes to stderr.
#
# The version is <crate version>+nginx<ABI>-1: the version in Cargo.toml (a pre-release `-rc.1`
# becomes `~rc.1`, which sorts before the release), the nginx ABI the module was built for, from
# nginx-dev (nginx-abi-1.22.1-7 gives +nginx1.22.1.7), and Debian revision 1: for example
# 0.1.0+nginx1.22.1.7-1. A module rebuilt for a newer nginx ABI is thus a newer version of the
# package, and its `Depends: nginx-abi-...` lets it install next to that nginx only.
#
# Installs the build dependencies of debian/control first (scripts/install-deps.sh package);
# needs cargo with Rust 1.85 or newer (rustup).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=$repo/target/debian-package
package=libnginx-mod-http-analytics

fail() {
    printf 'package-deb: %s\n' "$@" >&2
    exit 1
}

scripts/install-deps.sh package >&2
abi_file=/usr/share/nginx/src/debian/libnginx-mod.abisubstvars
[[ -f $abi_file ]] ||
    fail "$abi_file is missing: nginx-dev is not installed (scripts/install-deps.sh package installs it)"
command -v dpkg-buildpackage >/dev/null ||
    fail "dpkg-buildpackage is missing (scripts/install-deps.sh package installs dpkg-dev and debhelper)"
command -v cargo >/dev/null || fail "cargo is missing: install Rust 1.85 or newer with rustup (https://rustup.rs)"

abi=$(sed -n 's/^nginx:abi=//p' "$abi_file")
[[ $abi =~ ^nginx-abi-[0-9A-Za-z.+~-]+$ ]] || fail "no nginx:abi= line in $abi_file"
crate_version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
[[ -n $crate_version ]] || fail "no version in Cargo.toml's [package]"
abi_version=${abi#nginx-abi-}
version="${crate_version/-/\~}+nginx${abi_version//-/.}-1"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

# dpkg-buildpackage writes into debian/ and puts its results beside the source tree: it works on a
# copy of the files git knows (committed or not, minus what .gitignore leaves out), with their
# modification times, so cargo's build directory (kept outside the copy) stays incremental.
stage=$out/$package-$crate_version
rm -rf "$out"
mkdir -p "$stage"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do if [[ -e $file ]]; then printf '%s\0' "$file"; fi; done |
        tar -c --null -T - | tar -x -C "$stage"
else # an unpacked release: everything but build results
    tar -c --exclude=./target --exclude=./agent/node_modules --exclude=./demo-run . | tar -x -C "$stage"
fi

maintainer=$(sed -n 's/^Maintainer: //p' debian/control)
commit_time=$(git log -1 --format=%ct 2>/dev/null || date +%s)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
. /etc/os-release
cat >"$stage/debian/changelog" <<EOF
$package ($version) ${VERSION_CODENAME:-unstable}; urgency=medium

  * ngx_http_analytics_module $crate_version (commit $commit), built for
    nginx $abi_version ($abi).

 -- $maintainer  $(date -R -u -d "@$commit_time")
EOF

echo "package-deb: building $package $version for $abi" >&2
(
    cd "$stage"
    export SOURCE_DATE_EPOCH=$commit_time MODULE_BUILD_DIR=$repo/target/debian-package-build
    dpkg-buildpackage -b -us -uc
) >&2 || fail "dpkg-buildpackage failed; if it names unmet build dependencies, run scripts/install-deps.sh package"

deb=$out/${package}_${version}_$arch.deb
[[ -f $deb ]] || fail "dpkg-buildpackage made no $deb"

# Every remaining lintian tag is either fixed or explained in debian/*.lintian-overrides.
if command -v lintian >/dev/null; then
    lintian --fail-on error,warning --info "$deb" >&2 || fail "lintian found problems in $deb (above)"
else
    echo "package-deb: lintian is not installed: the package was not checked" >&2
fi
echo "$deb"
