# Sourced by the bench scripts (`. scripts/bench-lib.sh` from the repository root): what they share.

# A TCP port on 127.0.0.1 that nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The nginx binary the vendored build (`cargo build --release --features vendored`) produced.
vendored_nginx() { ls -t target/release/build/nginx-sys-*/out/objs/nginx | head -n 1; }

# Sets `nginx`, `module` and `version` for <vendored|debian|path of an nginx binary>, building the
# module for it; BENCH_MODULE=<.so> replaces the module (before/after comparisons).
choose_nginx() {
    case $1 in
        vendored)
            cargo build --release --features vendored >&2
            nginx=$(vendored_nginx)
            module=$(pwd)/target/release/libngx_http_analytics_module.so
            ;;
        debian)
            eval "$(scripts/debian-nginx.sh)"
            nginx=$NGINX module=$MODULE
            ;;
        *)
            nginx=$1
            eval "$(scripts/build-for-nginx.sh "$nginx")"
            module=$MODULE
            ;;
    esac
    module=${BENCH_MODULE:-$module}
    version=$("$nginx" -v 2>&1 | sed 's/.*nginx\///')
}
