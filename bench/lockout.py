"""Idle and trickling connections against the sandbox: answer time and memory (issue 21, item 11).

A sandbox runs in a child process with its defaults (30 s read timeout); this process then opens
300 idle sockets, or 300 that trickle their headers a few bytes at a time without ever finishing
(a slowloris), and meanwhile times a normal client's requests (a fresh connection each, as a
new visitor's first request) and reads the child's resident memory from /proc. Figures go in
docs/reliability.md.

    python -m bench.lockout [--sockets 300] [--requests 20]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import machine, median, ms, table

CHILD = """
import sys
from codat_nb.sandbox import Sandbox
sb = Sandbox(seed=None, daily_quota=10**9, rate_limits=False)
sb.store.create_company("Lockout Ltd")
print(sb.port, sb.auth_header, flush=True)
sys.stdin.read()
sb.stop()
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def normal_request(port: int, auth: str) -> tuple[float, int]:
    """Seconds for a whole answer on a fresh connection, and its status."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"GET /companies HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))  # fmt: skip
        while len(body) < length:
            body += sock.recv(65536)
    return time.perf_counter() - start, int(head.split()[1])


def idle(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]


def slowloris(port: int, count: int) -> list[socket.socket]:
    sockets = idle(port, count)
    for sock in sockets:
        sock.sendall(b"GET /companies HTTP/1.1\r\nHost: x\r\n")
    return sockets


def trickle(sockets: list[socket.socket], n: int) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):  # a server may have closed it (the old one did)
            sock.sendall(b"X-a: %d\r\n" % n)


def measure(
    port: int, auth: str, pid: int, attack: Callable[[int, int], list[socket.socket]], count: int,
    requests: int, keep_trickling: bool,
) -> list[str]:  # fmt: skip
    before = rss_mb(pid)
    sockets = attack(port, count)
    times, statuses = [], []
    try:
        for n in range(requests):
            if keep_trickling:
                trickle(sockets, n)
            took, status = normal_request(port, auth)
            times.append(took)
            statuses.append(status)
        during = rss_mb(pid)
    finally:
        for sock in sockets:
            sock.close()
    served = sum(status == 200 for status in statuses)
    return [
        f"{count} {attack.__name__}",
        f"{served}/{requests}",
        ms(median(times)),
        ms(max(times)),
        f"{before:.0f} -> {during:.0f} MB",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=300)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        port_text, auth = child.stdout.readline().split(" ", 1)  # type: ignore[union-attr]
        port, auth = int(port_text), auth.strip()
        rows = [
            measure(port, auth, child.pid, idle, 0, args.requests, False),
            measure(port, auth, child.pid, idle, args.sockets, args.requests, False),
            measure(port, auth, child.pid, slowloris, args.sockets, args.requests, True),
        ]
        rows[0][0] = "no other connection"
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(30)
    print(machine())
    header = ["load", "answered 200", "median answer", "slowest answer", "sandbox RSS"]
    print(table(header, rows))


if __name__ == "__main__":
    main()
