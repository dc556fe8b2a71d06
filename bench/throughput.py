"""Benchmark 4: the sandbox's throughput and the cost of one request on loopback.

* Throughput: 8 client threads, each with its own keep-alive ``requests.Session``, fetch a
  100-row page of connections in a bounded loop; requests per second over the whole batch.
  The clients share this process's GIL while the sandbox runs in its own process, so on a
  small machine the figure is bounded by both sides; it is what one Python client can drive.
* One request: sequential GETs over one keep-alive connection, median per request, for a
  100-row page and a 1-row page, with ``requests`` and with the bare stdlib ``http.client``
  (the difference is client-side overhead, not the server's).

    python -m bench.throughput [--repeats 3]
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from bench.common import connections_url, main_with_repeats, session_for, table
from bench.server import Endpoint, RemoteSandbox

ROWS, THREADS, PER_THREAD, SEQUENTIAL = 2_000, 8, 250, 500


def throughput(endpoint: Endpoint, threads: int = THREADS, per_thread: int = PER_THREAD) -> float:
    """Requests per second for ``threads`` keep-alive clients each fetching a 100-row page."""
    url = connections_url(endpoint.url, endpoint.company_ids[0])
    sessions = [session_for(endpoint) for _ in range(threads)]
    failures: list[str] = []
    go = threading.Barrier(threads + 1)

    def worker(session: Any, offset: int) -> None:
        go.wait()
        for n in range(per_thread):
            page = 1 + (offset + n) % (ROWS // 100)
            try:
                response = session.get(url, params={"page": page, "pageSize": 100})
                if response.status_code != 200 or len(response.json()["results"]) != 100:
                    failures.append(f"page {page}: {response.status_code}")
            except Exception as err:  # a dead thread must not count as requests served
                failures.append(f"page {page}: {err!r}")

    for session in sessions:  # open every keep-alive connection before the clock starts
        session.get(url, params={"page": 1, "pageSize": 1}).raise_for_status()
    workers = [threading.Thread(target=worker, args=(s, i * 7)) for i, s in enumerate(sessions)]
    for thread in workers:
        thread.start()
    go.wait()
    t0 = time.perf_counter()
    for thread in workers:
        thread.join()
    seconds = time.perf_counter() - t0
    for session in sessions:
        session.close()
    if failures:
        raise AssertionError(f"{len(failures)} bad answers, first: {failures[0]}")
    return threads * per_thread / seconds


def per_request_requests(endpoint: Endpoint, page_size: int, count: int = SEQUENTIAL) -> float:
    url = connections_url(endpoint.url, endpoint.company_ids[0])
    params = {"page": 1, "pageSize": page_size}
    with session_for(endpoint) as session:
        session.get(url, params=params).raise_for_status()
        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            response = session.get(url, params=params)
            response.json()
            samples.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise AssertionError(f"status {response.status_code}")
    return statistics.median(samples)


def per_request_http_client(endpoint: Endpoint, page_size: int, count: int = SEQUENTIAL) -> float:
    parts = urlsplit(endpoint.url)
    path = f"/companies/{endpoint.company_ids[0]}/connections?page=1&pageSize={page_size}"
    headers = {"Authorization": endpoint.auth_header}
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    samples = []
    try:
        for n in range(count + 1):
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            json.loads(response.read())
            if n:  # the first one opens the connection
                samples.append(time.perf_counter() - t0)
            if response.status != 200:
                raise AssertionError(f"status {response.status}")
    finally:
        conn.close()
    return statistics.median(samples)


def run(repeats: int = 3) -> dict[str, Any]:
    with RemoteSandbox((ROWS,)) as sb:
        rates = [throughput(sb.endpoint) for _ in range(repeats)]
        single = {
            f"{client}, {size}-row page": [fn(sb.endpoint, size) for _ in range(repeats)]
            for size in (100, 1)
            for client, fn in (
                ("requests.Session", per_request_requests),
                ("http.client", per_request_http_client),
            )
        }
    return {"rates": rates, "single": single, "repeats": repeats}


def report(result: dict[str, Any]) -> str:
    rates = result["rates"]
    rows = [
        [
            f"{THREADS} threads x {PER_THREAD} GETs of a 100-row page",
            f"{statistics.median(rates):,.0f} req/s",
            f"{min(rates):,.0f} - {max(rates):,.0f} req/s",
        ]
    ]
    for name, values in result["single"].items():
        rows.append(
            [
                f"one sequential keep-alive request ({name})",
                f"{statistics.median(values) * 1000:.2f} ms",
                f"{min(values) * 1000:.2f} - {max(values) * 1000:.2f} ms",
            ]
        )
    return "\n".join(
        [
            f"Sandbox in a child process; median of {result['repeats']} runs "
            f"(per-request figures: median of {SEQUENTIAL} requests per run):",
            "",
            table(["measure", "median", "min - max"], rows),
        ]
    )


def main() -> None:
    main_with_repeats(__doc__, run, report, repeats=3)


if __name__ == "__main__":
    main()
