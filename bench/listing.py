"""Benchmark 1: 10,000 connections of one company into a DataFrame, against both official SDKs.

Variants, all over the same sandbox (in a child process), interleaved:
* codat_nb with default arguments (page 1 of 5,000, then pages 2 of 4,999 and 3 of 4,998
  together: their overlaps check the boundaries), with ``consistency="verified"`` (a second
  walk, compared) and with pages of 100;
* the bare loop: ``requests`` + ``resp.json()`` + one ``pd.DataFrame`` of the raw dicts,
  sequential, over the same pages of 5,000 (and over pages of 100);
* Codat's current SDK, ``codat-platform`` 6.0.0 (``connections.list``, pages of 100, rows
  dumped into a DataFrame), and the SDK of this exact API, ``codat-sync-for-expenses-version-1``
  0.5.0 (``list_connections``, pages of 100).

Part a: no added latency. Part b: 50 ms per request, as a distant server (SDKs with pages of
100 make 100 round trips; codat_nb's defaults make 2, as the bare loop). Targets: with 50 ms,
codat_nb's defaults within 1.15x of the bare loop (issue 21) and >= 20x faster than the
codat-platform loop (issue 12); with none, within 1.5x of the bare loop and ahead of
codat-platform. Requests per listing are counted for each codat_nb variant.

    python -m bench.listing [--repeats 5] [--latency-repeats N] [--in-process] [--no-sdk]
                            [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from typing import Any

import pandas as pd
from codat_platform import CodatPlatform
from codat_platform.models import operations as platform_operations
from codat_platform.models import shared as platform_shared
from codat_platform.utils import retries as platform_retries
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

ROWS, SDK_PAGE = 10_000, 100
LATENCY_MS = 50
CODAT_NB = "codat_nb defaults (pages of 5,000)"
VERIFIED = 'codat_nb consistency="verified"'
CODAT_NB_100 = "codat_nb page_size=100 (4 workers)"
BARE = "bare loop, pages of 5,000"
BARE_100 = "bare loop, pages of 100"
PLATFORM = "codat-platform 6.0.0 loop (pages of 100)"
OLD_SDK = "SDK 0.5.0 loop (pages of 100)"
SDK_NO_RETRIES = retries.RetryConfig("none", retries.BackoffStrategy(1, 1, 1, 1), False)
PLATFORM_NO_RETRIES = platform_retries.RetryConfig(
    "none", platform_retries.BackoffStrategy(1, 1, 1, 1), False
)


def old_sdk_listing(sdk: CodatSyncExpenses, company_id: str) -> pd.DataFrame:
    """What a user of SDK 0.5.0 writes: loop the pages, then a DataFrame of the models."""
    results: list[Any] = []
    page = 1
    while True:
        response = sdk.connections.list_connections(
            operations.ListConnectionsRequest(company_id=company_id, page=page, page_size=SDK_PAGE)
        )
        results += response.connections.results
        if page * SDK_PAGE >= response.connections.total_results:
            return pd.DataFrame(results)
        page += 1


def platform_listing(sdk: CodatPlatform, company_id: str) -> pd.DataFrame:
    """What a user of codat-platform writes: loop the pages, dump each row, one DataFrame."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = sdk.connections.list(
            request=platform_operations.ListConnectionsRequest(
                company_id=company_id, page=page, page_size=SDK_PAGE
            )
        )
        rows += [row.model_dump() for row in body.results or []]
        if page * SDK_PAGE >= body.total_results:
            return pd.DataFrame(rows)
        page += 1


def variants(endpoint: Any, *, with_sdk: bool, part: str) -> tuple[dict[str, Any], list[Any]]:
    company_id = endpoint.company_ids[0]
    session = session_for(endpoint)
    client = client_for(endpoint)
    found = {
        CODAT_NB: lambda: client.connections.list(company_id, progress=False),
        VERIFIED: lambda: client.connections.list(
            company_id, progress=False, consistency="verified"
        ),
        BARE: lambda: baseline_listing(session, endpoint.url, company_id, 5000),
    }
    if part == "a":
        found[CODAT_NB_100] = lambda: client.connections.list(
            company_id, page_size=100, progress=False
        )
        found[BARE_100] = lambda: baseline_listing(session, endpoint.url, company_id, 100)
    closers: list[Any] = [session, client]
    if with_sdk:
        platform = CodatPlatform(
            security=platform_shared.Security(auth_header=endpoint.auth_header),
            server_url=endpoint.url,
            retry_config=PLATFORM_NO_RETRIES,
        )
        found[PLATFORM] = lambda: platform_listing(platform, company_id)
        if part == "a":
            old = CodatSyncExpenses(
                security=shared.Security(auth_header=endpoint.auth_header),
                server_url=endpoint.url,
                retry_config=SDK_NO_RETRIES,
            )
            found[OLD_SDK] = lambda: old_sdk_listing(old, company_id)
    return found, closers


def checker(requests: dict[str, int]) -> Any:
    """A result check that also notes what each codat_nb listing cost (``attrs``)."""

    def check(name: str, frame: pd.DataFrame) -> None:
        if len(frame) != ROWS or frame["id"].nunique() != ROWS:
            raise AssertionError(f"{name} returned {len(frame)} rows, expected {ROWS} distinct")
        if "requests" in frame.attrs:
            requests[name] = frame.attrs["requests"]

    return check


def run(
    repeats: int = 5,
    in_process: bool = False,
    with_sdk: bool = True,
    latency_repeats: int | None = None,
) -> dict[str, Any]:
    server = LocalSandbox if in_process else RemoteSandbox
    requests: dict[str, int] = {BARE: 2, BARE_100: 100}
    result: dict[str, Any] = {"repeats": repeats, "in_process": in_process, "requests": requests}
    with server((ROWS,)) as sb:
        for part, latency in (("a", 0), ("b", LATENCY_MS)):
            sb.set_faults(latency_ms=latency)
            found, closers = variants(sb.endpoint, with_sdk=with_sdk, part=part)
            times = repeats if part == "a" else latency_repeats or max(3, repeats // 2)
            try:
                result[part] = compare(found, times, checker(requests))
            finally:
                for item in closers:
                    item.close()
    return result


def report(result: dict[str, Any]) -> str:
    where = "in-process sandbox" if result["in_process"] else "sandbox in a child process"
    a, b = result["a"], result["b"]
    lines = [
        f"**a. No added latency** ({where}, median of {result['repeats']} runs):",
        "",
        timing_table(a, BARE, "vs bare loop (pages of 5,000)"),
    ]
    if PLATFORM in a:
        lines += [
            "",
            f"codat-platform / codat_nb defaults: {median(a[PLATFORM]) / median(a[CODAT_NB]):.1f}x;"
            f" SDK 0.5.0 / codat_nb defaults: {median(a[OLD_SDK]) / median(a[CODAT_NB]):.1f}x",
        ]
    lines += [
        "",
        f"**b. {LATENCY_MS} ms added latency per request** (median of "
        f"{len(next(iter(b.values())))} runs):",
        "",
        timing_table(b, CODAT_NB, "vs codat_nb defaults"),
    ]
    lines += [
        "",
        f"codat_nb defaults / bare loop: {median(b[CODAT_NB]) / median(b[BARE]):.2f}x (target <= "
        f"1.15x; fastest runs {min(b[CODAT_NB]) / min(b[BARE]):.2f}x, the least disturbed by other "
        f"load); verified / defaults: {median(b[VERIFIED]) / median(b[CODAT_NB]):.2f}x",
    ]
    if PLATFORM in b:
        lines += [
            "",
            f"codat-platform / codat_nb defaults: {median(b[PLATFORM]) / median(b[CODAT_NB]):.1f}x"
            " (target >= 20x)",
        ]
    cost = result["requests"]
    lines += ["", "Requests per listing: " + "; ".join(f"{k}: {v}" for k, v in cost.items())]
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
    parser.add_argument("--no-sdk", action="store_true", help="skip the (slow) SDK variants")
    parser.add_argument("--profile", action="store_true", help="cProfile codat_nb instead")
    parser.add_argument(
        "--latency-repeats", type=int, help="runs with 50 ms (default: half of --repeats, >= 3)"
    )
    args = parser.parse_args()
    if args.profile:
        profile(args.in_process)
        return
    print(report(run(args.repeats, args.in_process, not args.no_sdk, args.latency_repeats)))


if __name__ == "__main__":
    main()
