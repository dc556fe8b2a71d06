"""Benchmark 3: 100,000 connections in one company - wall time and peak memory.

codat_nb's ``connections.list`` (default arguments: page 1 of 5,000 and 20 more that each
repeat the last rows of the one before, 4 workers) against the bare baseline over 20 pages of
5,000, each measured in a FRESH child process so one run's freed-but-kept heap cannot hide the
next run's peak. Two memory figures, because each answers a different question:

* peak RSS growth (``VmHWM`` after the call minus ``VmRSS`` before it, from /proc/self/status):
  what the operating system had to give the process, numpy buffers and allocator slack
  included. Costs nothing at run time, so it is taken in the same runs as the wall time.
  (Not ``resource.getrusage().ru_maxrss``: Linux carries the parent's peak into a spawned
  child, so a child would start with the benchmark driver's high-water mark.)
* ``tracemalloc`` peak: Python-level allocations (numpy reports its buffers to tracemalloc
  too) made during the call, exact and attributable, but tracemalloc slows the run several
  fold, so it is taken in a separate run whose time is not reported.

Also the DataFrame's own size, ``df.memory_usage(deep=True).sum()``.

    python -m bench.scale [--repeats 3]
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from typing import Any

from bench.common import (
    baseline_listing,
    client_for,
    connections_url,
    in_fresh_process,
    main_with_repeats,
    ms,
    session_for,
    status_bytes,
    table,
)
from bench.server import Endpoint, RemoteSandbox

ROWS, PAGE_SIZE = 100_000, 5000
VARIANTS = (
    "bare baseline (requests, sequential)",
    "codat_nb default (4 workers)",
    "codat_nb concurrency=1",
)
MIB = 1024 * 1024


def _measure(endpoint: Endpoint, variant: str, use_tracemalloc: bool) -> dict[str, Any]:
    """In a fresh child: warm up the connection, then list once and report time and memory.

    The warm-up asks for one connection: a company object embeds all its connections
    (``dataConnections``), so even ``/companies?pageSize=1`` would move 100,000 rows and
    raise the high-water mark before the measurement starts.
    """
    company_id = endpoint.company_ids[0]
    if variant == VARIANTS[0]:
        session = session_for(endpoint)
        session.get(
            connections_url(endpoint.url, company_id), params={"pageSize": 1}
        ).raise_for_status()

        def listing() -> Any:
            return baseline_listing(session, endpoint.url, company_id, PAGE_SIZE)

    else:
        client = client_for(endpoint)
        client.connections.list(company_id, page_size=1, limit=1, progress=False)
        workers = 1 if variant == VARIANTS[2] else None

        def listing() -> Any:
            return client.connections.list(company_id, concurrency=workers, progress=False)

    if use_tracemalloc:
        tracemalloc.start()
        frame = listing()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return {"tracemalloc_peak": peak, "rows": len(frame)}
    before = status_bytes("VmRSS")
    t0 = time.perf_counter()
    frame = listing()
    seconds = time.perf_counter() - t0
    peak_growth = status_bytes("VmHWM") - before
    return {
        "seconds": seconds,
        "rss_growth": peak_growth,
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "rows": len(frame),
        "distinct": int(frame["id"].nunique()),
    }


def run(repeats: int = 3) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    traced: dict[str, int] = {}
    with RemoteSandbox((ROWS,)) as sb:
        for _ in range(repeats):
            for name in VARIANTS:  # interleaved, like the other benchmarks
                result = in_fresh_process(_measure, sb.endpoint, name, False)
                if result["rows"] != ROWS or result["distinct"] != ROWS:
                    raise AssertionError(f"{name}: {result['rows']} rows, expected {ROWS}")
                runs[name].append(result)
        for name in VARIANTS:
            traced[name] = in_fresh_process(_measure, sb.endpoint, name, True)["tracemalloc_peak"]
    return {"runs": runs, "traced": traced, "repeats": repeats}


def report(result: dict[str, Any]) -> str:
    runs, traced = result["runs"], result["traced"]
    base = VARIANTS[0]

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    rows = []
    for name in VARIANTS:
        rows.append(
            [
                name,
                ms(med(name, "seconds")),
                f"{med(name, 'seconds') / med(base, 'seconds'):.2f}x",
                f"{med(name, 'rss_growth') / MIB:,.0f} MiB",
                f"{traced[name] / MIB:,.0f} MiB",
                f"{traced[name] / traced[base]:.2f}x",
                f"{med(name, 'frame_bytes') / MIB:,.1f} MiB",
            ]
        )
    header = [
        "variant",
        "wall (median)",
        "vs baseline",
        "peak RSS growth",
        "tracemalloc peak",
        "vs baseline",
        "DataFrame deep size",
    ]
    times = {name: [r["seconds"] for r in runs[name]] for name in VARIANTS}
    spread = "; ".join(
        f"{name}: {ms(min(values))} - {ms(max(values))}" for name, values in times.items()
    )
    return "\n".join(
        [
            f"100,000 connections, pages of {PAGE_SIZE:,} (the bare loop: 20 pages; codat_nb: 21 "
            "reads, each after page 1 repeating the last rows of the one before), each run in a "
            f"fresh process, median of {result['repeats']} runs (tracemalloc: one separate run):",
            "",
            table(header, rows),
            "",
            f"Wall time spread: {spread}.",
        ]
    )


def main() -> None:
    main_with_repeats(__doc__, run, report, repeats=3)


if __name__ == "__main__":
    main()
