"""Benchmark 1: 10,000 connections (one company, 100 pages of 100) into a DataFrame.

codat_nb's ``connections.list`` against the bare baseline (requests + ``resp.json()`` +
``pd.DataFrame`` of the raw dicts, sequential) and the official SDK's page loop (a user's
``list_connections`` page by page, then ``pd.DataFrame`` of its result objects).
Targets (issue 3): codat_nb <= 1.5x the baseline, >= 10x faster than the SDK.

    python -m bench.listing [--repeats 5] [--in-process] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from typing import Any

import pandas as pd
from codatsyncexpenses import CodatSyncExpenses
from codatsyncexpenses.models import operations, shared
from codatsyncexpenses.utils import retries

from bench.common import (
    baseline_listing,
    client_for,
    compare,
    median,
    session_for,
    timing_table,
)
from bench.server import LocalSandbox, RemoteSandbox

ROWS, PAGE_SIZE = 10_000, 100
SDK_NO_RETRIES = retries.RetryConfig("none", retries.BackoffStrategy(1, 1, 1, 1), False)


def sdk_listing(sdk: CodatSyncExpenses, company_id: str) -> pd.DataFrame:
    """What a user of the official SDK writes: loop the pages, then a DataFrame of the models."""
    results: list[Any] = []
    page = 1
    while True:
        response = sdk.connections.list_connections(
            operations.ListConnectionsRequest(company_id=company_id, page=page, page_size=PAGE_SIZE)
        )
        body = response.connections
        results += body.results
        if page * PAGE_SIZE >= body.total_results:
            return pd.DataFrame(results)
        page += 1


def variants(endpoint: Any, *, with_sdk: bool = True) -> tuple[dict[str, Any], list[Any]]:
    company_id = endpoint.company_ids[0]
    session = session_for(endpoint)
    client = client_for(endpoint)
    found = {
        "bare baseline (requests, sequential)": lambda: baseline_listing(
            session, endpoint.url, company_id, PAGE_SIZE
        ),
        "codat_nb concurrency=1": lambda: client.connections.list(
            company_id, page_size=PAGE_SIZE, concurrency=1, progress=False
        ),
        "codat_nb default (4 workers)": lambda: client.connections.list(
            company_id, page_size=PAGE_SIZE, progress=False
        ),
    }
    closers: list[Any] = [session, client]
    if with_sdk:
        sdk = CodatSyncExpenses(
            security=shared.Security(auth_header=endpoint.auth_header),
            server_url=endpoint.url,
            retry_config=SDK_NO_RETRIES,
        )
        found["official SDK page loop"] = lambda: sdk_listing(sdk, company_id)
    return found, closers


def check(name: str, frame: pd.DataFrame) -> None:
    if len(frame) != ROWS or frame["id"].nunique() != ROWS:
        raise AssertionError(f"{name} returned {len(frame)} rows, expected {ROWS} distinct")


def run(repeats: int = 5, in_process: bool = False, with_sdk: bool = True) -> dict[str, Any]:
    server = LocalSandbox if in_process else RemoteSandbox
    with server((ROWS,)) as sb:
        found, closers = variants(sb.endpoint, with_sdk=with_sdk)
        try:
            times = compare(found, repeats, check)
        finally:
            for item in closers:
                item.close()
    return {"times": times, "repeats": repeats, "in_process": in_process}


def report(result: dict[str, Any]) -> str:
    times = result["times"]
    where = "in-process sandbox" if result["in_process"] else "sandbox in a child process"
    lines = [
        f"10,000 connections, 100 pages of 100, {where}, median of {result['repeats']} runs:",
        "",
        timing_table(times, "bare baseline (requests, sequential)", "vs baseline"),
    ]
    sdk = times.get("official SDK page loop")
    if sdk:
        default = median(times["codat_nb default (4 workers)"])
        sequential = median(times["codat_nb concurrency=1"])
        lines += [
            "",
            f"SDK / codat_nb default: {median(sdk) / default:.1f}x; "
            f"SDK / codat_nb concurrency=1: {median(sdk) / sequential:.1f}x",
        ]
    return "\n".join(lines)


def profile(in_process: bool) -> None:
    """cProfile one codat_nb listing (client side only when the sandbox is remote)."""
    server = LocalSandbox if in_process else RemoteSandbox
    with server((ROWS,)) as sb:
        client = client_for(sb.endpoint)
        company_id = sb.endpoint.company_ids[0]
        client.connections.list(company_id, progress=False)
        profiler = cProfile.Profile()
        profiler.enable()
        client.connections.list(company_id, concurrency=1, progress=False)
        profiler.disable()
        client.close()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="sandbox in this process")
    parser.add_argument("--no-sdk", action="store_true", help="skip the (slow) SDK variant")
    parser.add_argument("--profile", action="store_true", help="cProfile codat_nb instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.in_process)
        return
    print(report(run(args.repeats, args.in_process, not args.no_sdk)))


if __name__ == "__main__":
    main()
