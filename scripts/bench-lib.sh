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

# Starts what the bench nginx writes to, for sink <udp|file|http>, its files in <dir>; with a third
# argument, the listener runs on that CPU (`taskset -c`). Sets `sink` (analytics_sink's target) and
# `listener` (the pid to kill afterwards, empty for the file sink).
start_sink() {
    local kind=$1 dir=$2 pin=()
    [[ -n ${3:-} ]] && pin=(taskset -c "$3")
    listener=
    case $kind in
        file) sink=file:$dir/analytics.lp ;;
        udp)
            # A bound socket that never reads: the kernel takes each datagram (and drops it once the
            # receive buffer is full) without refusing it, at no cost to the machine.
            local port
            port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
            "${pin[@]}" python3 -c "import socket,time
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1',$port)); time.sleep(1e9)" &
            listener=$!
            sink=udp://127.0.0.1:$port
            ;;
        http)
            # A write API that answers every batch as InfluxDB does (204), keep-alive.
            local port
            port=$(free_port)
            "${pin[@]}" python3 - "$port" <<'PY' &
import http.server, sys
class Write(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Write).serve_forever()
PY
            listener=$!
            sink=http://127.0.0.1:$port/write?db=analytics
            sleep 0.5
            ;;
        *) echo "$(basename "$0"): unknown sink '$kind' (udp, file or http)" >&2; exit 2 ;;
    esac
}
