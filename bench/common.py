"""Shared by the benchmarks: timing (interleaved repeats, medians), the machine, Markdown."""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from typing import Any

import pandas as pd
import requests

from codat_nb import CodatClient

PACKAGES = ("codat-nb", "pandas", "numpy", "requests", "urllib3", "werkzeug", "pydantic")
SDK_PACKAGE = "codat-sync-for-expenses-version-1"


def connections_url(url: str, company_id: str) -> str:
    return f"{url}/companies/{company_id}/connections"


def client_for(endpoint: Any, **options: Any) -> CodatClient:
    return CodatClient(auth_header=endpoint.auth_header, base_url=endpoint.url, **options)


def session_for(endpoint: Any) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = endpoint.auth_header
    return session


def baseline_listing(
    session: requests.Session, url: str, company_id: str, page_size: int = 100
) -> pd.DataFrame:
    """The bare baseline: walk pages sequentially with requests, one pd.DataFrame of raw dicts."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        response = session.get(
            connections_url(url, company_id), params={"page": page, "pageSize": page_size}
        )
        response.raise_for_status()
        body = response.json()
        rows += body["results"]
        if page * page_size >= body["totalResults"]:
            return pd.DataFrame(rows)
        page += 1


def status_bytes(field: str) -> int:
    """A memory figure from /proc/self/status (``VmRSS`` now, ``VmHWM`` the peak so far)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a new spawned process: no heap kept from an earlier run hides a peak."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(fn, *args).result()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def compare(
    variants: Mapping[str, Callable[[], Any]],
    repeats: int,
    check: Callable[[str, Any], None] | None = None,
) -> dict[str, list[float]]:
    """Run every variant once to warm up, then ``repeats`` rounds, variants interleaved.

    Interleaving keeps drift (thermal, other load) from favouring whichever ran first.
    ``check(name, result)`` validates each warm-up result, so a fast wrong answer cannot win.
    """
    for name, fn in variants.items():
        _, result = timed(fn)
        if check is not None:
            check(name, result)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            seconds, _ = timed(fn)
            times[name].append(seconds)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, str]:
    versions = {name: version(name) for name in (*PACKAGES, SDK_PACKAGE)}
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **versions,
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def timing_table(times: dict[str, list[float]], reference: str, ratio_label: str) -> str:
    """Median, min, max per variant and the median's ratio to the reference variant."""
    ref = median(times[reference])
    rows = [
        [
            name,
            ms(median(values)),
            f"{ms(min(values))} - {ms(max(values))}",
            f"{median(values) / ref:.2f}x",
        ]
        for name, values in times.items()
    ]
    return table(["variant", "median", "min - max", ratio_label], rows)


def main_with_repeats(
    doc: str, run: Callable[[int], Any], report: Callable[[Any], str], repeats: int
) -> None:
    """The command line every single benchmark shares: ``--repeats N``, then the report."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=repeats)
    print(report(run(parser.parse_args().repeats)))
