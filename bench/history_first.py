"""Benchmark 5b: the first snapshot of 100,000 connections on PostgreSQL, its indexes kept during
the ``COPY`` or set aside and built after (``PostgresDatabase.bulk_load``), interleaved with
the listing it is measured against.

The machine's load changes from one minute to the next, so one run of ``bench.history`` cannot
tell 20% apart. Here each round lists the portfolio from the sandbox in a child process, then
records it into two fresh databases, once each way (the order alternating), and each record is
given against the listing of its own round. "Kept" is the backend with the default
``Database.bulk_load``, which does nothing. Client CPU is this process's; server CPU is the
history connection's server process (``/proc/<pid>/stat``).

    python -m bench.history_first [--repeats 5]
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.common import client_for, main_with_repeats, ms, table, timed
from bench.history import COMPANIES, PER_COMPANY, PostgresBackend, _load
from bench.server import RemoteSandbox
from codat_nb.history import History
from codat_nb.history.backend import Database
from codat_nb.history.postgres import PostgresDatabase
from tests.postgres import PostgresServer

VARIANTS = ("indexes kept", "indexes built after")
_SERVER_PID = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _record_first(backend: PostgresBackend, name: str, portfolio: pd.DataFrame) -> list[float]:
    """Wall, client CPU and server CPU of one first snapshot into a fresh database."""
    import psycopg

    with History(backend.fresh(name)) as history, psycopg.connect(backend.server.url()) as admin:
        found = admin.execute(_SERVER_PID, (name, "codat-nb history")).fetchone()
        pid = int(found[0]) if found else 0
        server, client = _cpu_seconds(pid), time.process_time()
        wall, recorded = timed(lambda: history.record(portfolio))
        measured = [wall, time.process_time() - client, _cpu_seconds(pid) - server]
    if recorded.connections != len(portfolio):
        raise AssertionError(f"{name}: {recorded}")
    return measured


def _first_with(
    kept: bool, backend: PostgresBackend, portfolio: pd.DataFrame, n: int
) -> list[float]:
    """``_record_first`` with the indexes kept (the default ``bulk_load``) or set aside."""
    default = PostgresDatabase.bulk_load
    if kept:
        PostgresDatabase.bulk_load = Database.bulk_load  # type: ignore[method-assign]
    try:
        return _record_first(backend, f"first_{n}_{'kept' if kept else 'after'}", portfolio)
    finally:
        PostgresDatabase.bulk_load = default  # type: ignore[method-assign]


def run(repeats: int = 5) -> dict[str, Any]:
    measured: dict[str, list[list[float]]] = {name: [] for name in VARIANTS}
    listings, load = [], [_load()]
    with (
        RemoteSandbox((PER_COMPANY,) * COMPANIES) as sb,
        client_for(sb.endpoint) as client,
        PostgresServer(durable=True) as server,
    ):
        backend = PostgresBackend(server)
        for n in range(1 + repeats):  # round 0 warms up, and is not counted
            seconds, portfolio = timed(lambda: client.connections.list_all(progress=False))
            order = VARIANTS if n % 2 else VARIANTS[::-1]
            for variant in order:
                result = _first_with(variant == VARIANTS[0], backend, portfolio, n)
                if n:
                    measured[variant].append(result)
            if n:
                listings.append(seconds)
    load.append(_load())
    return {"repeats": repeats, "listing": listings, "measured": measured, "load": load}


def report(result: dict[str, Any]) -> str:
    med = statistics.median
    listing = result["listing"]
    rows = []
    for variant, runs in result["measured"].items():
        wall = [r[0] for r in runs]
        ratios = [r[0] / seconds for r, seconds in zip(runs, listing, strict=True)]
        rows.append([
            variant, ms(med(wall)), f"{ms(min(wall))} - {ms(max(wall))}",
            f"{med(ratios):.2f}x ({min(ratios):.2f}x - {max(ratios):.2f}x)",
            ms(med([r[1] for r in runs])), ms(med([r[2] for r in runs])),
        ])  # fmt: skip
    return (
        f"The first snapshot of {COMPANIES * PER_COMPANY:,} connections on PostgreSQL, "
        f"{result['repeats']} rounds; listing: median {ms(med(listing))} ({ms(min(listing))} - "
        f"{ms(max(listing))}). Load average at the start: {result['load'][0]}; at the end: "
        f"{result['load'][1]}.\n\n"
        + table(
            [
                "record()",
                "median",
                "min - max",
                "vs its round's listing (median, range)",
                "client CPU",
                "server CPU",
            ],
            rows,
        )  # fmt: skip
    )


def main() -> None:
    main_with_repeats(__doc__, run, report, repeats=5)


if __name__ == "__main__":
    main()
