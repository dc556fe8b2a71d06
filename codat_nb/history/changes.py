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
from codat_nb.history.encoding import NAT, from_micros

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


#: A snapshot's members as ``found`` compares them: int64 columns, NAT for no ``last_sync``.
MEMBER_COLUMNS = ("connection", "state", "status", "last_sync")


def members(db: Database, snapshot: int | None, *, fingerprints: bool = False) -> pd.DataFrame:
    """The members of ``snapshot`` (MEMBER_COLUMNS; none for None), with their states'
    ``fingerprint`` if asked (what the writer compares a new snapshot's values with)."""
    columns = [*MEMBER_COLUMNS, *(["fingerprint"] if fingerprints else [])]
    rows = db.rows(
        f"SELECT m.connection, m.state, m.status, coalesce(m.last_sync, {NAT})"
        + (", s.fingerprint FROM member AS m JOIN state AS s ON s.id = m.state" if fingerprints
           else " FROM member AS m")
        + " WHERE m.snapshot = ?",
        (snapshot,),
    )  # fmt: skip
    table = np.array(rows, dtype=np.int64).reshape(-1, len(columns))
    frame: pd.DataFrame = pd.DataFrame(table, columns=columns)
    return frame


def found(before: pd.DataFrame, after: pd.DataFrame, linked: int) -> pd.DataFrame:
    """What changed from the members ``before`` to ``after`` (MEMBER_COLUMNS; ``linked`` is
    Linked's status id): one row per change, ``kind`` a position in CHANGE_KINDS, -1 for no
    status, sorted by kind and connection.

    Computed here rather than in SQL: both snapshots' members are at hand when a snapshot is
    recorded, and a join of two snapshots in SQL left PostgreSQL's planner, before its
    statistics knew the new rows, free to compare every member with every other one."""
    at = pd.Index(before["connection"]).get_indexer(after["connection"])
    seen = at >= 0
    old_status = np.where(seen, before["status"].to_numpy()[at], -1)
    old_sync = np.where(seen, before["last_sync"].to_numpy()[at], NAT)
    status, sync = after["status"].to_numpy(), after["last_sync"].to_numpy()
    kind = np.full(len(after), -1)
    kind[~seen] = _APPEARED
    kind[seen & (old_status != status)] = _STATUS_CHANGED
    stalled = seen & (old_status == status) & (status == linked)
    kind[stalled & ((sync == NAT) | (sync <= old_sync))] = _STALLED
    kept = kind >= 0
    gone = pd.Index(after["connection"]).get_indexer(before["connection"]) < 0
    rows = pd.concat(
        [
            pd.DataFrame({"kind": kind[kept], "connection": after["connection"].to_numpy()[kept],
                          "from_status": old_status[kept], "to_status": status[kept],
                          "state": after["state"].to_numpy()[kept], "last_sync": sync[kept]}),
            pd.DataFrame({"kind": _DISAPPEARED, "connection": before["connection"][gone],
                          "from_status": before["status"][gone], "to_status": -1,
                          "state": before["state"][gone], "last_sync": before["last_sync"][gone]}),
        ],
        ignore_index=True,
    )  # fmt: skip
    changed: pd.DataFrame = rows.astype(np.int64).sort_values(["kind", "connection"])
    return changed


def store_changes(db: Database, snapshot: int, changed: pd.DataFrame) -> None:
    """Store ``found``'s rows as ``snapshot``'s changes."""
    values = {
        column: [None if v == none else v for v in changed[column].tolist()]
        for column, none in (("from_status", -1), ("to_status", -1), ("last_sync", NAT))
    }
    db.insert(
        "change",
        ("snapshot", "kind", "connection", "from_status", "to_status", "state", "last_sync"),
        zip(
            [snapshot] * len(changed), changed["kind"].tolist(), changed["connection"].tolist(),
            values["from_status"], values["to_status"], changed["state"].tolist(),
            values["last_sync"], strict=True,
        ),
    )  # fmt: skip


def linked_status(db: Database) -> int:
    """The id of the status Linked (documented statuses are stored when a history is made)."""
    return int(db.value("SELECT id FROM status WHERE name = 'Linked'"))


def newly_deauthorized(db: Database, snapshot: int) -> int:
    """Connections that became (or appeared) Deauthorized in ``snapshot`` (since the one
    before it)."""
    return int(db.value(_NEWLY_DEAUTHORIZED, (snapshot,)))


def change_counts(changed: pd.DataFrame) -> dict[str, int]:
    """How many of ``found``'s rows are of each kind the snapshot counts."""
    counts = changed["kind"].value_counts()
    return {kind: int(counts.get(CHANGE_KINDS.index(kind), 0)) for kind in COUNTED}


def _lookup(db: Database, table: str, columns: tuple[str, ...], ids: Any) -> pd.DataFrame:
    """``columns`` of ``table``'s rows with these ids (indexed by id)."""
    wanted = pd.unique(pd.Series(ids).dropna().to_numpy(dtype=np.int64)).tolist()
    found = db.matching(table, "id", wanted, columns)
    looked_up = pd.DataFrame(found, columns=["id", *columns], dtype=object)
    index = pd.Index(looked_up.pop("id").to_numpy(dtype=np.int64))  # joins on int64: fast
    by_id: pd.DataFrame = looked_up.set_axis(index)
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
    """The stored changes of the snapshots taken in (since, until], named (CHANGE_COLUMNS), in
    no order and with plain dtypes (text and status names as objects, a status None for none):
    ``event_changes.merge`` sorts them with the events and gives the columns their dtypes
    (doing both here too cost 0.4 s for a month)."""
    found = db.rows(_CHANGE_ROWS, {"since": since, "until": until})
    rows = pd.DataFrame(np.array(found, dtype=np.int64).reshape(-1, len(_ROW_COLUMNS)),
                        columns=list(_ROW_COLUMNS))  # fmt: skip
    rows = _named(db, rows)
    statuses = db.rows("SELECT id, name FROM status")
    name_of = np.full(max((key for key, _ in statuses), default=0) + 2, None, dtype=object)
    for key, name in statuses:
        name_of[key + 1] = name  # status -1 (none) picks the None at 0
    named = ("company_id", "company_name", "connection_id", "platform_name", "latest_error")
    data = {column: rows[column] for column in named}
    kinds = pd.Categorical.from_codes(
        rows["change"].to_numpy(dtype=np.int64), categories=pd.Index(CHANGE_KINDS)
    )
    data["change"] = pd.Series(kinds)
    for column in ("from_status", "to_status"):
        data[column] = pd.Series(name_of[rows[column].to_numpy(dtype=np.int64) + 1])
    for column in ("from_at", "to_at", "last_sync"):
        data[column] = from_micros(rows[column].to_numpy(dtype=np.int64))
    frame: pd.DataFrame = pd.DataFrame(data, columns=list(CHANGE_COLUMNS))
    return frame
