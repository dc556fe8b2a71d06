"""Benchmark 5: connection status history, 100,000 connections x 30 daily snapshots.

The portfolio is listed once from a sandbox in a child process (100 companies of 1,000
connections, ``list_all``), then evolved day by day in this process, the way a book moves:
each day 0.5% of connections change status (Linked -> Deauthorized with an error,
PendingAuth/Deauthorized/Unlinked -> Linked), 0.2% are created (PendingAuth), 0.1% deleted,
and 90% of Linked connections sync (``last_sync`` moves). Each day is recorded in a
``History`` file. Measured against listing the same portfolio over loopback (median of the
listing repeats):

* ``record()``: the first snapshot (everything is new; into fresh files, ``repeats`` + 1 times)
  and the 29 daily ones (median, range);
* ``changes()`` between the last two snapshots, and over all 30 (median of the repeats);
* ``at()`` of the latest snapshot and ``status_over_time()`` over all 30;
* the file size after each snapshot (WAL checkpointed, outside the timings) and per table.

    python -m bench.history [--repeats 3]
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import client_for, main_with_repeats, ms, table, timed
from bench.server import RemoteSandbox
from codat_nb.history import History

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
    rng = np.random.default_rng(2026)
    records, sizes, day = [], [], portfolio
    with tempfile.TemporaryDirectory() as folder:
        firsts = []  # the first snapshot, into fresh files: one run is too few to judge by
        for n in range(repeats):
            with History(Path(folder) / f"first-{n}.sqlite") as fresh:
                firsts.append(timed(lambda fresh=fresh: fresh.record(portfolio))[0])
        path = Path(folder) / "history.sqlite"
        with History(path) as history:
            for n in range(DAYS):
                if n:
                    day = next_day(day, rng)
                seconds, summary = timed(lambda day=day: history.record(day))
                if not summary.new or summary.connections != len(day):
                    raise AssertionError(f"day {n}: {summary}")
                records.append((seconds, summary))
                sizes.append(_file_size(path))
            times = history.snapshots()["taken_at"]
            last_pair, everything, at_latest, trend = [], [], [], []
            for _ in range(repeats):
                last_pair.append(timed(lambda: history.changes(since=times.iloc[-2]))[0])
                everything.append(timed(lambda: history.changes(since=times.iloc[0]))[0])
                at_latest.append(timed(lambda: history.at(times.iloc[-1]))[0])
                trend.append(timed(lambda: history.status_over_time())[0])
            pair_rows = len(history.changes(since=times.iloc[-2]))
            all_rows = len(history.changes(since=times.iloc[0]))
        per_table = _table_sizes(path)
    return {
        "repeats": repeats,
        "listing": [seconds for seconds, _ in listings[1:]],
        "firsts": firsts + [records[0][0]],
        "records": records,
        "sizes": sizes,
        "per_table": per_table,
        "last_pair": last_pair,
        "everything": everything,
        "at_latest": at_latest,
        "trend": trend,
        "pair_rows": pair_rows,
        "all_rows": all_rows,
        "connections": [summary.connections for _, summary in records],
    }


def report(result: dict[str, Any]) -> str:
    med = statistics.median
    listing = med(result["listing"])
    daily = [seconds for seconds, _ in result["records"][1:]]
    sizes = result["sizes"]
    per_day = (sizes[-1] - sizes[0]) / (len(sizes) - 1)
    last = result["records"][-1][1]

    def row(name: str, values: list[float], note: str = "") -> list[str]:
        return [
            name,
            ms(med(values)),
            f"{ms(min(values))} - {ms(max(values))}",
            f"{med(values) / listing:.2f}x",
            note,
        ]

    timings = table(
        ["operation", "median", "min - max", "vs listing", ""],
        [
            row(f"list_all() over loopback ({ROWS:,} connections)", result["listing"]),
            row(
                "record(): the first snapshot (all new)",
                result["firsts"],
                f"{len(result['firsts'])} fresh files",
            ),
            row(f"record(): a daily snapshot ({len(daily)} days)", daily),
            row(
                "changes(): the last two snapshots",
                result["last_pair"],
                f"{result['pair_rows']:,} rows",
            ),
            row(
                f"changes(): all {DAYS} snapshots",
                result["everything"],
                f"{result['all_rows']:,} rows",
            ),
            row("at(): the latest snapshot", result["at_latest"], f"{last.connections:,} rows"),
            row(f"status_over_time(): {DAYS} snapshots", result["trend"]),
        ],
    )
    total = sum(result["per_table"].values())
    storage = table(
        ["table", "size", "share"],
        [
            [name, f"{size / MB:,.1f} MB", f"{size / total:.0%}"]
            for name, size in sorted(result["per_table"].items(), key=lambda kv: -kv[1])
        ],
    )
    member_bytes = result["per_table"].get("member", 0) / sum(result["connections"])
    return "\n".join(
        [
            f"{ROWS:,} connections ({COMPANIES} companies of {PER_COMPANY:,}), {DAYS} daily "
            f"snapshots; listing: median of {len(result['listing'])} `list_all()` runs against "
            f"the sandbox in a child process; history queries: median of {result['repeats']}.",
            "",
            timings,
            "",
            f"File size: {sizes[0] / MB:,.1f} MB after the first snapshot, "
            f"{sizes[-1] / MB:,.1f} MB after {DAYS}: **{per_day / MB:,.2f} MB per daily "
            f"snapshot** ({per_day / ROWS:,.0f} bytes per connection). Storing every row again "
            f"each day would cost about the first snapshot's size per day "
            f"({sizes[0] * DAYS / MB:,.0f} MB for {DAYS} days).",
            "",
            f"Where the bytes are after {DAYS} snapshots (``dbstat``, indexes counted with their "
            f"table; ``member`` is {member_bytes:,.1f} bytes per connection per snapshot):",
            "",
            storage,
            "",
            f"Last day: {last}.",
        ]
    )


def main() -> None:
    main_with_repeats(__doc__, run, report, repeats=3)


if __name__ == "__main__":
    main()
