"""Benchmark: the sandbox's webhook delivery, against a receiver that only counts.

* Throughput: a burst of writes (companies created through the store), each one event, then
  ``flush()``: events delivered and acknowledged per second, start of the burst to the flush's
  return. The receiver (stdlib ``ThreadingHTTPServer``, answering 204) runs in its own process.
* Latency: writes at a steady rate; for each event, from the write's return to its arrival at
  the receiver (wall clock, one machine), p50 and p99.
* The API's cost: sequential ``POST /companies`` over one keep-alive connection, median per
  request, with no consumer and with one consumer whose receiver answers at once or hangs (the
  attempt waits out the 15 s; the API must not).

    python -m bench.webhook_delivery [--repeats 3]
"""

from __future__ import annotations

import http.server
import multiprocessing
import statistics
import time
from typing import Any

from bench.common import main_with_repeats, session_for, table
from codat_nb.sandbox import Sandbox

BURST, RATE, STEADY, REQUESTS = 2_000, 100, 500, 300


class _Counter(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.arrivals.put((self.headers["webhook-id"], time.time()))  # type: ignore[attr-defined]
        if self.server.hang:  # type: ignore[attr-defined]
            time.sleep(3_600)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _serve(port: Any, arrivals: Any, hang: bool) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    server.daemon_threads = True
    server.arrivals, server.hang = arrivals, hang  # type: ignore[attr-defined]
    port.put(server.server_port)
    server.serve_forever()


class Receiver:
    """The counting receiver in its own process; ``arrivals`` get (webhook-id, wall time)."""

    def __init__(self, hang: bool = False):
        context = multiprocessing.get_context("spawn")
        self.arrivals, port = context.Queue(), context.Queue()
        self.process = context.Process(target=_serve, args=(port, self.arrivals, hang), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{port.get(timeout=60)}/hook"

    def drain(self) -> None:
        """Forget what arrived so far (an earlier measure's stragglers)."""
        time.sleep(0.5)
        while not self.arrivals.empty():
            self.arrivals.get()

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


def burst(receiver: Receiver) -> float:
    """Events per second: a burst of writes, delivered and acknowledged."""
    receiver.drain()
    with Sandbox(seed=None) as sb:
        sb.webhooks.create(receiver.url, ["company.created"])
        t0 = time.perf_counter()
        for n in range(BURST):
            sb.store.create_company(f"Burst {n} Ltd")
        sb.webhooks.flush(timeout=600)
        seconds = time.perf_counter() - t0
        assert sum(a.succeeded for a in sb.webhooks.attempts()) == BURST
    for _ in range(BURST):
        receiver.arrivals.get(timeout=60)
    return BURST / seconds


def steady(receiver: Receiver) -> tuple[float, float]:
    """p50 and p99 milliseconds from a write's return to its event's arrival, at RATE/s."""
    written: dict[int, float] = {}
    receiver.drain()
    with Sandbox(seed=None) as sb:
        sb.webhooks.create(receiver.url, ["company.created"])
        start = time.perf_counter()
        for n in range(STEADY):
            time.sleep(max(0.0, start + n / RATE - time.perf_counter()))
            sb.store.create_company(f"Steady {n} Ltd")
            written[n] = time.time()
        sb.webhooks.flush(timeout=600)
        ids = [a.message_id for a in sb.webhooks.attempts()]
    arrived = dict(receiver.arrivals.get(timeout=60) for _ in range(STEADY))
    delays = sorted((arrived[ids[n]] - written[n]) * 1000 for n in range(STEADY))
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1]


def api_cost(url: str | None) -> float:
    """Median milliseconds of a POST /companies, with a consumer at ``url`` (None: none)."""
    with Sandbox(seed=None, rate_limits=False, daily_quota=10**9) as sb:
        if url is not None:
            sb.webhooks.create(url, ["company.created"])
        session = session_for(sb)
        times = []
        for n in range(REQUESTS):
            t0 = time.perf_counter()
            session.post(f"{sb.url}/companies", json={"name": f"Api {n} Ltd"}).raise_for_status()
            times.append(time.perf_counter() - t0)
        session.close()
    return statistics.median(times) * 1000


def run(repeats: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    fast, hanging = Receiver(), Receiver(hang=True)
    try:
        for _ in range(repeats):
            found.setdefault("events/s, a burst of 2,000", []).append(burst(fast))
            p50, p99 = steady(fast)
            found.setdefault("write to arrival p50 (ms), 100 events/s", []).append(p50)
            found.setdefault("write to arrival p99 (ms), 100 events/s", []).append(p99)
            found.setdefault("POST /companies (ms), no consumer", []).append(api_cost(None))
            found.setdefault("POST /companies (ms), a consumer", []).append(api_cost(fast.url))
            found.setdefault("POST /companies (ms), a hanging consumer", []).append(
                api_cost(hanging.url)
            )
    finally:
        fast.stop()
        hanging.stop()
    return found


def report(found: dict[str, list[float]]) -> str:
    rows = [[name, f"{statistics.median(values):,.1f}"] for name, values in found.items()]
    return table(["measure (median of the repeats)", "value"], rows)


if __name__ == "__main__":
    main_with_repeats(__doc__, run, report, 3)
