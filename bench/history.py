"""Benchmark 5: connection status history, 100,000 connections x 30 daily snapshots, in an
SQLite file and in PostgreSQL over loopback.

The portfolio is listed once from a sandbox in a child process (100 companies of 1,000
connections, ``list_all``), then evolved day by day in this process, the way a book moves:
each day 0.5% of connections change status (Linked -> Deauthorized with an error,
PendingAuth/Deauthorized/Unlinked -> Linked), 0.2% are created (PendingAuth), 0.1% deleted,
and 90% of Linked connections sync (``last_sync`` moves). The same 30 days (same seed) are
recorded in each backend, as the daily job does: ``check()`` (SQLite: ``PRAGMA quick_check``),
then ``record()``. Measured against listing the same portfolio over loopback (median of the
listing repeats), per backend:

* ``record()``: the first snapshot (everything is new; into fresh histories, ``repeats`` + 1
  times) and the 29 daily ones (median, range); ``check()`` before each daily one;
* ``changes()`` between the last two snapshots, and over all 30 (median of the repeats);
* ``at()`` of the latest snapshot and ``status_over_time()`` over all 30;
* the size after each snapshot (SQLite: the file, WAL checkpointed; PostgreSQL: the tables
  and indexes), outside the timings.

PostgreSQL is a server of its own (``tests/postgres.py``) with its default durability settings
(``fsync``, ``synchronous_commit`` on), reached over TCP on 127.0.0.1.

    python -m bench.history [--repeats 3]
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import client_for, main_with_repeats, ms, table, timed
from bench.server import RemoteSandbox
from codat_nb.history import History
from tests.postgres import PostgresServer

COMPANIES, PER_COMPANY, DAYS = 100, 1_000, 30
ROWS = COMPANIES * PER_COMPANY
MB = 1_000_000
REVOKED = "The platform revoked access: the refresh token has expired."


def next_day(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The portfolio one day later (see the module docstring for the rates)."""
    day = frame.copy()
    now = frame.attrs["server_time"] + pd.Timedelta(days=1)
    n = len(day)
    status = day["status"].astype(str).to_numpy()
    flips = rng.random(n) < 0.005
    lost = flips & (status == "Linked")
    back = flips & (status != "Linked")
    new_status = np.where(lost, "Deauthorized", np.where(back, "Linked", status))
    day["status"] = pd.Categorical(new_status, dtype=frame["status"].dtype)
    day.loc[lost, "error_count"] += 1
    day.loc[lost, "latest_error"] = REVOKED
    syncs = (new_status == "Linked") & ((rng.random(n) < 0.9) | back)
    offsets = pd.to_timedelta(rng.integers(0, 3_600, int(syncs.sum())), unit="s")
    day.loc[syncs, "last_sync"] = (now - offsets).as_unit("us")
    day = day[rng.random(n) >= 0.001]
    created = day.sample(int(n * 0.002), random_state=int(rng.integers(1 << 31))).copy()
    ids = rng.integers(0, 1 << 63, size=(len(created), 2), dtype=np.uint64)
    new_ids = [f"{a:016x}{b:016x}" for a, b in ids]
    created["link_url"] = pd.array(  # a new connection's link names its own id
        [url.replace(old_id, new_id) for url, old_id, new_id in
         zip(created["link_url"], created["id"], new_ids, strict=True)],
        dtype="str",
    )  # fmt: skip
    created["id"] = pd.array(new_ids, dtype="str")
    created["status"] = pd.Categorical(["PendingAuth"] * len(created), dtype=day["status"].dtype)
    created["last_sync"] = pd.Series(pd.NaT, index=created.index, dtype=day["last_sync"].dtype)
    created["created"] = pd.Series(now, index=created.index, dtype=day["created"].dtype)
    result = pd.concat([day, created], ignore_index=True)
    result.attrs["server_time"] = now
    return result


def _file_size(path: Path) -> int:
    """Bytes on disk once the write-ahead log is folded into the file."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def _table_sizes(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT coalesce(i.tbl_name, d.name), sum(d.pgsize) FROM dbstat AS d "
            "LEFT JOIN sqlite_schema AS i ON i.name = d.name GROUP BY 1"
        ).fetchall()
    return dict(rows)


class SQLiteBackend:
    name = "SQLite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fresh(self, name: str) -> str:
        return str(self.folder / f"{name}.sqlite")

    def size(self, target: str) -> int:
        return _file_size(Path(target))

    def tables(self, target: str) -> dict[str, int]:
        return _table_sizes(Path(target))


class PostgresBackend:
    name = "PostgreSQL"

    def __init__(self, server: PostgresServer) -> None:
        self.server = server

    def _admin(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.server.url(), autocommit=True) as admin:
            cursor = admin.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def fresh(self, name: str) -> str:
        self._admin(f"CREATE DATABASE {name}")
        return self.server.url(name)

    def _sizes(self, target: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(target, autocommit=True) as db:
            db.execute("CHECKPOINT")
            return db.execute(
                "SELECT tablename, pg_total_relation_size(quote_ident(tablename)) "
                "FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()

    def size(self, target: str) -> int:
        return sum(size for _, size in self._sizes(target))

    def tables(self, target: str) -> dict[str, int]:
        return dict(self._sizes(target))


def _days(portfolio: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """The 30 days, the same on every call (the same seed)."""
    rng = np.random.default_rng(2026)
    day = portfolio
    for n in range(DAYS):
        if n:
            day = next_day(day, rng)
        yield day


def _record_month(backend: Any, portfolio: pd.DataFrame, repeats: int) -> dict[str, Any]:
    """Everything measured on one backend."""
    firsts = []  # the first snapshot, into fresh histories: one run is too few to judge by
    for n in range(repeats):
        with History(backend.fresh(f"first_{n}")) as fresh:
            firsts.append(timed(lambda fresh=fresh: fresh.record(portfolio))[0])
    target = backend.fresh("history")
    records, checks, sizes = [], [], []
    with History(target) as history:
        for day in _days(portfolio):
            checks.append(timed(history.check)[0])
            seconds, summary = timed(lambda day=day: history.record(day))
            if not summary.new or summary.connections != len(day):
                raise AssertionError(f"{backend.name}: {summary}")
            records.append((seconds, summary))
            sizes.append(backend.size(target))
        result = _queries(history, repeats)
    return {
        "firsts": firsts + [records[0][0]],
        "records": records,
        "checks": checks[1:],
        "sizes": sizes,
        "per_table": backend.tables(target),
        "connections": [summary.connections for _, summary in records],
        **result,
    }


def _queries(history: History, repeats: int) -> dict[str, Any]:
    times = history.snapshots()["taken_at"]
    measured: dict[str, list[float]] = {"last_pair": [], "everything": [], "at_latest": [],
                                        "trend": [], "check": []}  # fmt: skip
    calls: dict[str, Callable[[], Any]] = {
        "last_pair": lambda: history.changes(since=times.iloc[-2]),
        "everything": lambda: history.changes(since=times.iloc[0]),
        "at_latest": lambda: history.at(times.iloc[-1]),
        "trend": history.status_over_time,
        "check": history.check,
    }
    for _ in range(repeats):
        for name, call in calls.items():
            measured[name].append(timed(call)[0])
    return {
        **measured,
        "pair_rows": len(history.changes(since=times.iloc[-2])),
        "all_rows": len(history.changes(since=times.iloc[0])),
        "everything_frame": history.changes(since=times.iloc[0]),
    }


@contextmanager
def _backends() -> Iterator[list[Any]]:
    with tempfile.TemporaryDirectory() as folder, PostgresServer(durable=True) as server:
        yield [SQLiteBackend(Path(folder)), PostgresBackend(server)]


def run(repeats: int = 3) -> dict[str, Any]:
    with RemoteSandbox((PER_COMPANY,) * COMPANIES) as sb, client_for(sb.endpoint) as client:
        listings = [
            timed(lambda: client.connections.list_all(progress=False)) for _ in range(1 + repeats)
        ]
    portfolio = listings[-1][1]
    if len(portfolio) != ROWS or portfolio["id"].nunique() != ROWS:
        raise AssertionError(f"the listing returned {len(portfolio)} rows, expected {ROWS}")
    # Only the time: pd.concat compares attrs, and attrs["failures"] is a DataFrame.
    portfolio.attrs = {"server_time": portfolio.attrs["server_time"]}
    results = {}
    with _backends() as backends:
        for backend in backends:
            results[backend.name] = _record_month(backend, portfolio, repeats)
    frames = [result.pop("everything_frame") for result in results.values()]
    pd.testing.assert_frame_equal(*frames)  # the same answers from both
    return {
        "repeats": repeats,
        "listing": [seconds for seconds, _ in listings[1:]],
        "backends": results,
        "load": _load(),
    }


def _load() -> str:
    with open("/proc/loadavg") as load:
        return " ".join(load.read().split()[:3])


def _timings(result: dict[str, Any], listing: float) -> str:
    med = statistics.median
    daily = [seconds for seconds, _ in result["records"][1:]]
    last = result["records"][-1][1]

    def row(name: str, values: list[float], note: str = "") -> list[str]:
        low, high = ms(min(values)), ms(max(values))
        return [name, ms(med(values)), f"{low} - {high}", f"{med(values) / listing:.2f}x", note]

    return table(
        ["operation", "median", "min - max", "vs listing", ""],
        [
            row("record(): the first snapshot (all new)", result["firsts"],
                f"{len(result['firsts'])} fresh histories"),
            row(f"record(): a daily snapshot ({len(daily)} days)", daily, "after check()"),
            row(f"check() before each daily record ({len(daily)} days)", result["checks"],
                "the file grows to its final size"),
            row(f"check() of the {DAYS}-day history", result["check"]),
            row("changes(): the last two snapshots", result["last_pair"],
                f"{result['pair_rows']:,} rows"),
            row(f"changes(): all {DAYS} snapshots", result["everything"],
                f"{result['all_rows']:,} rows"),
            row("at(): the latest snapshot", result["at_latest"], f"{last.connections:,} rows"),
            row(f"status_over_time(): {DAYS} snapshots", result["trend"]),
        ],
    )  # fmt: skip


def _storage(result: dict[str, Any]) -> str:
    sizes = result["sizes"]
    per_day = (sizes[-1] - sizes[0]) / (len(sizes) - 1)
    total = sum(result["per_table"].values())
    shares = table(
        ["table", "size", "share"],
        [
            [name, f"{size / MB:,.1f} MB", f"{size / total:.0%}"]
            for name, size in sorted(result["per_table"].items(), key=lambda kv: -kv[1])
            if size / total >= 0.005
        ],
    )
    return (
        f"Size: {sizes[0] / MB:,.1f} MB after the first snapshot, {sizes[-1] / MB:,.1f} MB "
        f"after {DAYS}: **{per_day / MB:,.2f} MB per daily snapshot** ({per_day / ROWS:,.0f} "
        f"bytes per connection).\n\n{shares}"
    )


def report(result: dict[str, Any]) -> str:
    med = statistics.median
    listing = med(result["listing"])
    backends = result["backends"]
    parts = [
        f"{ROWS:,} connections ({COMPANIES} companies of {PER_COMPANY:,}), {DAYS} daily "
        f"snapshots; listing: median of {len(result['listing'])} `list_all()` runs against the "
        f"sandbox in a child process: **{ms(listing)}** (min {ms(min(result['listing']))}); "
        f"history queries: median of {result['repeats']}. Load average at the end: "
        f"{result['load']}.",
    ]
    for name, backend in backends.items():
        parts += [f"**{name}**", _timings(backend, listing), _storage(backend)]
    lite, pg = backends["SQLite"], backends["PostgreSQL"]

    def compare(name: str, key: str, daily: bool = False) -> list[str]:
        a = med([s for s, _ in lite[key][1:]] if daily else lite[key])
        b = med([s for s, _ in pg[key][1:]] if daily else pg[key])
        return [name, f"{a / listing:.2f}x", f"{b / listing:.2f}x", f"{b / a:.2f}x"]

    parts.append(
        table(
            ["median vs listing", "SQLite", "PostgreSQL", "PostgreSQL / SQLite"],
            [
                compare("record(): a daily snapshot", "records", daily=True),
                compare("record(): the first snapshot", "firsts"),
                compare(f"changes(): all {DAYS} snapshots", "everything"),
                compare("changes(): the last two snapshots", "last_pair"),
                compare("at(): the latest snapshot", "at_latest"),
            ],
        )
    )
    parts.append(f"Last day: {lite['records'][-1][1]}.")
    return "\n\n".join(parts)


def main() -> None:
    main_with_repeats(__doc__, run, report, repeats=3)


if __name__ == "__main__":
    main()
