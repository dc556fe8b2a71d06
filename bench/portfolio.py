"""Benchmark 6: the whole portfolio, every connection of every company (issue 13).

Three ways, against the same sandbox in a child process:
* ``list_all()`` (embedded): the connections each company in ``GET /companies`` carries, pages of
  5,000 companies;
* ``list_all(strategy="per_company")``: the companies, then each company's connections;
* the bare loop: ``requests`` over the same ``/companies`` pages of 5,000, ``resp.json()``, the
  embedded connections flattened with their company, one ``pd.DataFrame``.

Part a: the demo portfolio (about 1,000 connections) with no added latency and with
50 ms a request. Part b: 10,000 companies x 5 connections: requests, wall time and peak memory,
each run in a fresh process. Targets: demo at most 2 requests and, with 50 ms, at least 20x
faster than per-company; 10,000 x 5 at most 3 requests, wall and peak memory within 1.5x of the
bare loop.

    python -m bench.portfolio [--repeats 5]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.common import (
    client_for,
    compare,
    in_fresh_process,
    main_with_repeats,
    median,
    ms,
    session_for,
    status_bytes,
    table,
    timed,
    timing_table,
)
from bench.server import Endpoint, RemoteSandbox

EMBEDDED = "list_all() (embedded)"
PER_COMPANY = 'list_all(strategy="per_company")'
BARE = "bare loop over /companies"
VARIANTS = (EMBEDDED, PER_COMPANY, BARE)
MIB = 1024 * 1024


def bare_portfolio(session: Any, url: str) -> pd.DataFrame:
    """What a user writes by hand: walk /companies, flatten the embedded connections."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        response = session.get(f"{url}/companies", params={"page": page, "pageSize": 5000})
        response.raise_for_status()
        body = response.json()
        for company in body["results"]:
            for connection in company.get("dataConnections") or ():
                rows.append(
                    {"company_id": company["id"], "company_name": company["name"], **connection}
                )
        if page * 5000 >= body["totalResults"]:
            return pd.DataFrame(rows)
        page += 1


def _listing(endpoint: Endpoint, variant: str) -> Any:
    if variant == BARE:
        session = session_for(endpoint)
        return lambda: bare_portfolio(session, endpoint.url)
    client = client_for(endpoint)
    strategy = "per_company" if variant == PER_COMPANY else "embedded"
    return lambda: client.connections.list_all(strategy=strategy, progress=False)


def _requests(sb: RemoteSandbox, variant: str) -> int:
    run = _listing(sb.endpoint, variant)
    before = sb.request_count()
    run()
    return sb.request_count() - before


def demo(repeats: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with RemoteSandbox(seed="demo") as sb:
        result["requests"] = {name: _requests(sb, name) for name in VARIANTS}
        frame = _listing(sb.endpoint, EMBEDDED)()
        result["size"] = (len(frame), frame["company_id"].nunique())
        for latency in (0, 50):
            sb.set_faults(latency_ms=latency)
            variants = {name: _listing(sb.endpoint, name) for name in VARIANTS}
            rounds = repeats if latency == 0 else max(3, repeats // 2)
            result[latency] = compare(variants, rounds, _check(1_000))
    return result


def _check(rows: int) -> Any:
    def check(name: str, frame: pd.DataFrame) -> None:
        if len(frame) < rows or not frame["id"].is_unique:
            raise AssertionError(f"{name}: {len(frame)} rows, expected {rows}+ distinct")

    return check


def _peak_memory(endpoint: Endpoint, variant: str) -> dict[str, Any]:
    """In a fresh child (no heap kept from an earlier run): list once, the peak RSS growth."""
    listing = _listing(endpoint, variant)
    before = status_bytes("VmRSS")
    frame = listing()
    return {"rss_growth": status_bytes("VmHWM") - before, "rows": len(frame)}


def large(repeats: int) -> dict[str, Any]:
    """Wall time interleaved in this process (like the other benchmarks); the per-company walk
    (10,001 requests) timed once; peak memory in fresh processes."""
    with RemoteSandbox(portfolio=(10_000, 5)) as sb:
        requests = {name: _requests(sb, name) for name in VARIANTS}
        quick = {name: _listing(sb.endpoint, name) for name in (EMBEDDED, BARE)}
        times = compare(quick, repeats, _check(50_000))
        seconds, _ = timed(_listing(sb.endpoint, PER_COMPANY))
        times[PER_COMPANY] = [seconds]
        memory = {}
        for name in VARIANTS:
            result = in_fresh_process(_peak_memory, sb.endpoint, name)
            if result["rows"] != 50_000:
                raise AssertionError(f"{name}: {result['rows']} rows, expected 50,000")
            memory[name] = result["rss_growth"]
    return {"times": times, "memory": memory, "requests": requests}


def run(repeats: int = 5) -> dict[str, Any]:
    return {"demo": demo(repeats), "large": large(repeats), "repeats": repeats}


def report(result: dict[str, Any]) -> str:
    d, big = result["demo"], result["large"]
    quick, slow = d[0], d[50]
    speedup = median(slow[PER_COMPANY]) / median(slow[EMBEDDED])
    lines = [
        f"**a. The demo portfolio** ({d['size'][0]:,} connections of {d['size'][1]:,} "
        "companies): requests per listing "
        + ", ".join(f"{name}: {n:,}" for name, n in d["requests"].items()),
        "",
        "No added latency:",
        "",
        timing_table(quick, BARE, "vs bare loop"),
        "",
        "50 ms added latency per request:",
        "",
        timing_table(slow, EMBEDDED, "vs embedded"),
        "",
        f"per_company / embedded with 50 ms: {speedup:.1f}x (target >= 20x)",
        "",
        f"**b. 10,000 companies x 5 connections**: wall time the median of {result['repeats']} "
        "interleaved runs (the per-company walk once); peak RSS growth in a fresh process:",
        "",
    ]
    times, memory = big["times"], big["memory"]
    rows = [
        [
            name,
            f"{big['requests'][name]:,}",
            ms(median(times[name])),
            f"{median(times[name]) / median(times[BARE]):.2f}x",
            f"{memory[name] / MIB:,.0f} MiB",
            f"{memory[name] / memory[BARE]:.2f}x",
        ]
        for name in VARIANTS
    ]
    header = ["variant", "requests", "wall (median)", "vs bare", "peak RSS growth", "vs bare"]
    lines.append(table(header, rows))
    return "\n".join(lines)


def main() -> None:
    main_with_repeats(__doc__, run, report, repeats=5)


if __name__ == "__main__":
    main()
