"""What changed between consecutive snapshots: found once, when a snapshot is recorded, stored
in ``change``, and read back by ``History.changes()``.

Changes are found between consecutive snapshots, so a connection that went Linked ->
Deauthorized -> Linked between two weekly reports shows both steps instead of nothing. The
snapshot's counts and ``changes()`` read the same stored rows, so the two always agree, and a
month of changes is read, not recomputed (30 pairs of 100,000 members compared row by row cost
3.3x the portfolio's listing). Reading fetches integer keys and text ids, and turns them into
names with pandas: joining every name in SQL cost as much again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from codat_nb.history.backend import Database
from codat_nb.history.encoding import NAT, category, from_micros

#: Kinds of change, in the order ``changes()`` sorts them within a snapshot.
CHANGE_KINDS = ("status_changed", "appeared", "disappeared", "stalled")
#: The counts each snapshot keeps (``snapshot`` columns).
COUNTED = ("appeared", "disappeared", "status_changed", "stalled")
CHANGE_COLUMNS = (
    "company_id",
    "company_name",
    "connection_id",
    "platform_name",
    "change",
    "from_status",
    "to_status",
    "from_at",
    "to_at",
    "last_sync",
    "latest_error",
)
_STATUS_CHANGED, _APPEARED, _DISAPPEARED, _STALLED = range(len(CHANGE_KINDS))

# What changed from snapshot :previous to snapshot :current, stored as ``change`` rows
# (``change`` is a position in CHANGE_KINDS). The ids are parameters, not looked up in the
# query, so both databases read just the two snapshots' members by their primary key.
_STORE_CHANGES = f"""
WITH linked AS (SELECT id FROM status WHERE name = 'Linked'),
found AS (
    SELECT b.connection, a.status AS from_status, b.status AS to_status, b.state, b.last_sync,
           CASE WHEN a.connection IS NULL THEN {_APPEARED}
                WHEN a.status != b.status THEN {_STATUS_CHANGED}
                ELSE {_STALLED} END AS change
    FROM member AS b
    LEFT JOIN member AS a ON a.snapshot = :previous AND a.connection = b.connection
    WHERE b.snapshot = :current
      AND (a.connection IS NULL
           OR a.status != b.status
           OR (a.status = (SELECT id FROM linked) AND b.status = a.status
               AND (b.last_sync IS NULL OR b.last_sync <= a.last_sync)))
    UNION ALL
    SELECT a.connection, a.status, NULL, a.state, a.last_sync, {_DISAPPEARED}
    FROM member AS a
    WHERE a.snapshot = :previous AND NOT EXISTS (
        SELECT 1 FROM member AS b WHERE b.snapshot = :current AND b.connection = a.connection
    )
)
INSERT INTO change (snapshot, kind, connection, from_status, to_status, state, last_sync)
SELECT :current, change, connection, from_status, to_status, state, last_sync FROM found
ORDER BY change, connection
"""

# The stored changes of the pairs whose later snapshot was taken in (:since, :until], as keys
# (the names are looked up once per distinct key): status ids -1 and times NAT for none.
_CHANGE_ROWS = f"""
WITH ordered AS (
    SELECT id, taken_at, lag(taken_at) OVER (ORDER BY taken_at) AS prev_at FROM snapshot
)
SELECT p.prev_at, p.taken_at, f.kind, f.connection, f.state,
       coalesce(f.from_status, -1), coalesce(f.to_status, -1), coalesce(f.last_sync, {NAT})
FROM ordered AS p
JOIN change AS f ON f.snapshot = p.id
WHERE p.prev_at IS NOT NULL AND p.taken_at > :since AND p.taken_at <= :until
"""
_ROW_COLUMNS = (
    "from_at", "to_at", "change", "connection", "state", "from_status", "to_status", "last_sync"
)  # fmt: skip
_NAMED = ("company_name", "platform_name", "latest_error")  # text ids in ``state``

_NEWLY_DEAUTHORIZED = f"""
SELECT count(*) FROM change
WHERE snapshot = ? AND kind IN ({_STATUS_CHANGED}, {_APPEARED})
  AND to_status = (SELECT id FROM status WHERE name = 'Deauthorized')
"""


def store_changes(db: Database, previous: int, current: int) -> None:
    """Find and store what changed from snapshot ``previous`` to ``current`` (its successor)."""
    db.execute(_STORE_CHANGES, {"previous": previous, "current": current})


def newly_deauthorized(db: Database, snapshot: int) -> int:
    """Connections that became (or appeared) Deauthorized in ``snapshot`` (since the one
    before it)."""
    return int(db.value(_NEWLY_DEAUTHORIZED, (snapshot,)))


def change_counts(db: Database, snapshot: int) -> dict[str, int]:
    """How many connections ``snapshot`` found of each kind of change (the kinds it counts)."""
    counts = dict(
        db.rows("SELECT kind, count(*) FROM change WHERE snapshot = ? GROUP BY kind", (snapshot,))
    )
    return {kind: int(counts.get(CHANGE_KINDS.index(kind), 0)) for kind in COUNTED}


def _lookup(db: Database, table: str, columns: tuple[str, ...], ids: Any) -> pd.DataFrame:
    """``columns`` of ``table``'s rows with these ids (indexed by id)."""
    keys = pd.Series(ids, dtype=object).dropna()
    wanted = np.unique(keys.to_numpy(dtype=np.int64)).tolist()
    found = db.matching(table, "id", wanted, columns)
    looked_up: pd.DataFrame = pd.DataFrame(found, columns=["id", *columns], dtype=object)
    by_id: pd.DataFrame = looked_up.set_index("id")
    return by_id


def _named(db: Database, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the company and connection ids and the state's names beside the keys."""
    connections = _lookup(db, "connection", ("company", "connection_id"), rows["connection"])
    states = _lookup(db, "state", _NAMED, rows["state"])
    texts = _lookup(db, "text", ("value",), states.to_numpy().ravel())["value"]
    companies = _lookup(db, "company", ("company_id",), connections["company"])["company_id"]
    connections["company_id"] = connections["company"].map(companies)
    for column in _NAMED:
        states[column] = states[column].map(texts)
    named: pd.DataFrame = rows.join(connections, on="connection").join(states, on="state")
    return named


def changes(db: Database, since: int, until: int) -> pd.DataFrame:
    """The stored changes of the snapshots taken in (since, until], named and sorted: by
    ``to_at``, change, company name (missing first), company id and connection id."""
    found = db.rows(_CHANGE_ROWS, {"since": since, "until": until})
    rows = pd.DataFrame(np.array(found, dtype=np.int64).reshape(-1, len(_ROW_COLUMNS)),
                        columns=list(_ROW_COLUMNS))  # fmt: skip
    rows = _named(db, rows).sort_values(
        ["to_at", "change", "company_name", "company_id", "connection_id"],
        na_position="first",
        kind="stable",
    )
    statuses = dict(db.rows("SELECT id, name FROM status"))
    # One set of categories for both, so from and to statuses compare and group alike.
    names = [statuses.get(code) for code in (*rows["from_status"], *rows["to_status"])]
    status = category("status", names)
    data = {
        "company_id": pd.Series(rows["company_id"].tolist(), dtype="str"),
        "company_name": pd.Series(rows["company_name"].tolist(), dtype="str"),
        "connection_id": pd.Series(rows["connection_id"].tolist(), dtype="str"),
        "platform_name": category("platform_name", rows["platform_name"].tolist()),
        "change": pd.Series(
            pd.Categorical.from_codes(
                rows["change"].to_numpy(dtype=np.int64), categories=pd.Index(CHANGE_KINDS)
            )
        ),
        "from_status": status.iloc[: len(rows)].reset_index(drop=True),
        "to_status": status.iloc[len(rows) :].reset_index(drop=True),
        "from_at": from_micros(rows["from_at"].to_numpy(dtype=np.int64)),
        "to_at": from_micros(rows["to_at"].to_numpy(dtype=np.int64)),
        "last_sync": from_micros(rows["last_sync"].to_numpy(dtype=np.int64)),
        "latest_error": pd.Series(rows["latest_error"].tolist(), dtype="str"),
    }
    frame: pd.DataFrame = pd.DataFrame(data, columns=list(CHANGE_COLUMNS))
    return frame
