"""Recording one snapshot: what changed since the previous one decides what is written.

A connection whose values (all but ``last_sync``) hash the same as in the previous snapshot
points at the state stored then; only new and changed connections add a ``state`` row. Every
connection adds one small ``member`` row (state, status, ``last_sync``). Keys are assigned here,
under the write lock, so rows go in in bulk (``Database.insert``) and nothing is read back. The
first snapshot fills ``connection``, ``state`` and ``member`` inside ``Database.bulk_load``
(PostgreSQL builds their indexes once the rows are in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from codat_nb.history import changes, queries
from codat_nb.history.backend import Database
from codat_nb.history.encoding import fingerprints, micros, sql_values
from codat_nb.history.interning import STORED_STATE_COLUMNS, state_values

TALLY_COLUMNS = ("status", "platform_name", "integration_key", "source_type")
#: The tables a first snapshot fills from empty (``Database.bulk_load``).
FILLED_IN_BULK = ("connection", "state", "member")


@dataclass(frozen=True)
class Recorded:
    """What ``History.record`` did: the snapshot's counts and its changes since the previous."""

    taken_at: pd.Timestamp
    previous: pd.Timestamp | None
    connections: int
    companies: int
    appeared: int
    disappeared: int
    status_changed: int
    stalled: int
    source: str | None  # where the listing came from, if the recorder said
    deauthorized: int  # connections that became (or appeared) Deauthorized since the previous
    new: bool  # False: a snapshot at this time was already recorded, so nothing was written
    #: Set when the snapshot is stored but something failed as it was committed (what failed).
    warning: str | None = None

    def __str__(self) -> str:
        head = f"{'recorded' if self.new else 'already recorded'} {self.taken_at.isoformat()}: "
        head += f"{self.connections:,} connections of {self.companies:,} companies"
        if self.previous is None:
            return head + " (the first snapshot)"
        return head + (
            f"; since {self.previous.isoformat()}: {self.status_changed:,} changed status, "
            f"{self.appeared:,} appeared, {self.disappeared:,} disappeared, "
            f"{self.stalled:,} stalled (Linked, no new sync)"
        )


def _next_id(db: Database, table: str) -> int:
    return int(db.value(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))


def _keys_of(db: Database, table: str, column: str, values: pd.Series) -> np.ndarray:
    """The key of each value in ``table`` (value ``column``, key ``id``); new values are added."""
    codes, uniques = pd.factorize(values)
    known = dict(db.rows(f"SELECT {column}, id FROM {table}"))
    new = [v for v in uniques if v not in known]
    first = _next_id(db, table)
    added = [(first + n, value) for n, value in enumerate(new)]
    db.insert(table, ("id", column), added)
    known.update((value, key) for key, value in added)
    return np.array([known[v] for v in uniques], dtype=np.int64)[codes]


def _connection_keys(db: Database, companies: np.ndarray, connection_ids: pd.Series) -> np.ndarray:
    rows = db.rows("SELECT company, connection_id, id FROM connection")
    company, connection_id, key = zip(*rows, strict=True) if rows else ((), (), ())
    known = pd.DataFrame(
        {
            "company": np.array(company, dtype=np.int64),
            "connection_id": pd.array(connection_id, dtype="str"),
            "key": np.array(key, dtype=np.int64),
        }
    )
    wanted = pd.DataFrame({"company": companies, "connection_id": connection_ids.astype("str")})
    if len(known):
        keys = wanted.merge(known, how="left", on=["company", "connection_id"])["key"]
    else:  # the first snapshot: nothing to look up
        keys = pd.Series(np.nan, index=wanted.index)
    new = keys.isna().to_numpy()
    first = _next_id(db, "connection")
    fresh = np.arange(first, first + new.sum(), dtype=np.int64)
    db.insert(
        "connection",
        ("id", "company", "connection_id"),
        zip(
            fresh.tolist(),
            companies[new].tolist(),
            wanted["connection_id"][new].tolist(),
            strict=True,
        ),
    )
    result = keys.to_numpy(dtype=np.float64, na_value=np.nan).copy()
    result[new] = fresh
    ids: np.ndarray = result.astype(np.int64)
    return ids


def _state_keys(
    db: Database, before: pd.DataFrame, connections: np.ndarray, stored: pd.DataFrame
) -> np.ndarray:
    """Reuse the previous snapshot's state where the fingerprint matches; insert the others."""
    prints = fingerprints(stored)
    before = before[["connection", "state", "fingerprint"]]
    now = pd.DataFrame({"connection": connections, "new_print": prints})
    matched = now.merge(before, how="left", on="connection")
    changed = (matched["fingerprint"] != matched["new_print"]).to_numpy()
    keys = matched["state"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
    first = _next_id(db, "state")
    fresh = np.arange(first, first + changed.sum(), dtype=np.int64)
    keys[changed] = fresh
    columns = [fresh.tolist(), connections[changed].tolist(), prints[changed].tolist()]
    columns += state_values(db, stored.loc[changed]).values()
    names = ("id", "connection", "fingerprint", *STORED_STATE_COLUMNS)
    db.insert("state", names, zip(*columns, strict=True))
    ids: np.ndarray = keys.astype(np.int64)
    return ids


def _tally(db: Database, snapshot: int, stored: pd.DataFrame) -> None:
    counts = stored.groupby(list(TALLY_COLUMNS), dropna=False, observed=True).size()
    rows = [
        (snapshot, *(None if pd.isna(v) else v for v in cast(tuple[Any, ...], group)), int(n))
        for group, n in counts.items()
    ]
    db.insert("tally", ("snapshot", *TALLY_COLUMNS, "connections"), rows)


def _check_source(source: str | None, recorded: str | None) -> None:
    if None not in (source, recorded) and source != recorded:
        raise ValueError(
            f"this portfolio was listed from {source}, but the history's snapshots come from "
            f"{recorded}; a history follows one portfolio: record it in another file"
        )


def _recorded_source(db: Database) -> str | None:
    """The source the history's snapshots name (the latest that names one): a snapshot
    recorded without a source must not open the door to another portfolio."""
    found: str | None = db.value(
        "SELECT source FROM snapshot WHERE source IS NOT NULL ORDER BY taken_at DESC LIMIT 1"
    )
    return found


def _members(
    db: Database,
    snapshot: int,
    connections: np.ndarray,
    states: np.ndarray,
    statuses: np.ndarray,
    last_sync: pd.Series,
) -> None:
    """One ``member`` row per connection of ``snapshot``."""
    order = np.argsort(connections, kind="stable")  # primary-key order: appends, no page splits
    syncs = np.asarray(sql_values(last_sync), dtype=object)[order]
    db.insert(
        "member",
        ("snapshot", "connection", "state", "status", "last_sync"),
        zip(
            [snapshot] * len(order),
            connections[order].tolist(),
            states[order].tolist(),
            statuses[order].tolist(),
            syncs.tolist(),
            strict=True,
        ),
    )


def record(
    db: Database, stored: pd.DataFrame, taken_at: pd.Timestamp, source: str | None
) -> Recorded:
    """Write one snapshot of ``stored`` (``encoding.stored_values``) taken at ``taken_at``.

    Runs inside the caller's write transaction. A snapshot already recorded at ``taken_at`` is
    left as it is. Refused: one older than the latest (a history is appended in time order), and
    one from another source than the latest (its changes would be two portfolios' differences).
    """
    at = micros(taken_at)
    existing = queries.snapshot_summary(db, at)
    if existing is not None:
        _check_source(source, existing["source"] or _recorded_source(db))
        return Recorded(**existing, new=False)
    latest = db.row("SELECT id, taken_at FROM snapshot ORDER BY taken_at DESC LIMIT 1")
    previous, previous_at = latest or (None, None)
    if previous_at is not None and previous_at > at:
        raise ValueError(
            f"a snapshot at {taken_at.isoformat()} is older than the latest one "
            f"({queries.timestamp(previous_at).isoformat()}); a history is recorded in time order"
        )
    _check_source(source, _recorded_source(db))
    before = changes.members(db, previous, fingerprints=True)
    companies = _keys_of(db, "company", "company_id", stored["company_id"])
    with db.bulk_load(FILLED_IN_BULK if previous is None else ()):
        connections = _connection_keys(db, companies, stored["id"])
        states = _state_keys(db, before, connections, stored)
        statuses = _keys_of(db, "status", "name", stored["status"])
        snapshot = _next_id(db, "snapshot")
        db.execute(
            "INSERT INTO snapshot (id, taken_at, connections, companies, appeared, disappeared, "
            "status_changed, stalled, source) VALUES (?, ?, ?, ?, 0, 0, 0, 0, ?)",
            (snapshot, at, len(stored), int(stored["company_id"].nunique()), source),
        )
        _members(db, snapshot, connections, states, statuses, stored["last_sync"])
    _tally(db, snapshot, stored)
    if previous is not None:
        after = {"connection": connections, "state": states, "status": statuses}
        after["last_sync"] = stored["last_sync"].to_numpy(dtype=np.int64)  # NAT: none
        changed = changes.found(before, pd.DataFrame(after), changes.linked_status(db))
        changes.store_changes(db, snapshot, changed)
        counts = changes.change_counts(changed)
        db.execute(
            "UPDATE snapshot SET appeared = ?, disappeared = ?, status_changed = ?, stalled = ? "
            "WHERE id = ?",
            (*(counts[k] for k in changes.COUNTED), snapshot),
        )
    summary = queries.snapshot_summary(db, at)
    assert summary is not None  # written just above, in this transaction
    return Recorded(**summary, new=True)
