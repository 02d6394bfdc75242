#!/usr/bin/env python3
"""Sends exactly N requests, one after the other on one keep-alive connection, to a location:
the eight beacons of bench/beacons.lua in turn, with the same headers. Fails unless every answer
is a 2xx. For scripts/bench-instructions.sh, which counts what the server does per request, so
the count must not depend on timing: one request in flight at a time, a fixed number of them.

    bench/send_beacons.py <port> <path> <count>
"""
import pathlib
import re
import socket
import sys

HEADERS = [
    ("Host", "127.0.0.1"),
    ("Content-Type", "text/plain;charset=UTF-8"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36"),
    ("Accept", "*/*"),
    ("Accept-Language", "en-GB,en;q=0.9"),
    ("Accept-Encoding", "gzip, deflate, br"),
]


def beacons():
    """The bodies of bench/beacons.lua, so that both benchmarks send the same beacons."""
    lua = (pathlib.Path(__file__).parent / "beacons.lua").read_text()
    table = lua.split("local beacons = {", 1)[1].split("\n}", 1)[0]
    return re.findall(r"'(\{.*\})'", table)


def main():
    port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    requests = []
    for body in beacons():
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in HEADERS)
        head += f"Content-Length: {len(body)}\r\n\r\n"
        requests.append(head.encode() + body.encode())
    assert len(requests) == 8, "bench/beacons.lua should hold eight beacons"
    sock = None
    pending = b""
    for i in range(count):
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(requests[i % len(requests)])
        while b"\r\n\r\n" not in pending:
            chunk = sock.recv(65536)
            if not chunk:
                sys.exit(f"send_beacons.py: connection closed after {i} answers")
            pending += chunk
        head, pending = pending.split(b"\r\n\r\n", 1)
        status = head.split(b" ", 2)[1]
        if not status.startswith(b"2"):
            sys.exit(f"send_beacons.py: {path} answered {head.decode(errors='replace')}")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        body_length = int(length.group(1)) if length else 0
        while len(pending) < body_length:
            pending += sock.recv(65536)
        pending = pending[body_length:]
        if re.search(rb"(?i)\r\nconnection: *close", head):
            # nginx closes a connection after keepalive_requests (1000): a new one, as wrk does.
            sock.close()
            sock = None
    if sock is not None:
        sock.close()


if __name__ == "__main__":
    main()
