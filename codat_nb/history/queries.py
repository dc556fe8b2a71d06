"""Reading a history: snapshots, one portfolio as it was, changes between snapshots, trends.

Changes are found between consecutive snapshots, so a connection that went Linked ->
Deauthorized -> Linked between two weekly reports shows both steps instead of nothing. The same
SQL counts them when a snapshot is recorded and lists them in ``changes()``, so the two always
agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from codat_nb.frames import CONNECTION_COLUMNS
from codat_nb.history.backend import Database
from codat_nb.history.encoding import KNOWN_CATEGORIES, NAT, category, from_micros
from codat_nb.history.interning import COMPANY_PLACEHOLDER, CONNECTION_PLACEHOLDER, INTERNED
from codat_nb.wire.schema import CONNECTION_STATUSES

#: Kinds of change, in the order ``changes()`` sorts them within a snapshot.
CHANGE_KINDS = ("status_changed", "appeared", "disappeared", "stalled")
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
SNAPSHOT_COLUMNS = ("taken_at", "connections", "companies", *COUNTED, "source")
#: Columns ``status_over_time`` can group by (counted when each snapshot is recorded).
BY_COLUMNS = ("platform_name", "integration_key", "source_type")
MISSING = "<missing>"

_STATUS_CHANGED, _APPEARED, _DISAPPEARED, _STALLED = range(len(CHANGE_KINDS))

# Consecutive snapshot pairs whose later member falls in (:since, :until], and what changed
# between the two (``change`` is a position in CHANGE_KINDS).
_PAIRS = f"""
ordered AS (
    SELECT id, taken_at,
           lag(id) OVER (ORDER BY taken_at) AS prev_id,
           lag(taken_at) OVER (ORDER BY taken_at) AS prev_at
    FROM snapshot
),
pairs AS (
    SELECT prev_id, id AS cur_id, prev_at, taken_at AS cur_at FROM ordered
    WHERE prev_id IS NOT NULL AND taken_at > :since AND taken_at <= :until
),
linked AS (SELECT id FROM status WHERE name = 'Linked'),
found AS (
    SELECT p.prev_at, p.cur_at, b.connection, a.status AS from_status, b.status AS to_status,
           b.state, b.last_sync,
           CASE WHEN a.connection IS NULL THEN {_APPEARED}
                WHEN a.status != b.status THEN {_STATUS_CHANGED}
                ELSE {_STALLED} END AS change
    FROM pairs AS p
    JOIN member AS b ON b.snapshot = p.cur_id
    LEFT JOIN member AS a ON a.snapshot = p.prev_id AND a.connection = b.connection
    WHERE a.connection IS NULL
       OR a.status != b.status
       OR (a.status = (SELECT id FROM linked) AND b.status = a.status
           AND (b.last_sync IS NULL OR b.last_sync <= a.last_sync))
    UNION ALL
    SELECT p.prev_at, p.cur_at, a.connection, a.status, NULL, a.state, a.last_sync, {_DISAPPEARED}
    FROM pairs AS p
    JOIN member AS a ON a.snapshot = p.prev_id
    WHERE NOT EXISTS (
        SELECT 1 FROM member AS b WHERE b.snapshot = p.cur_id AND b.connection = a.connection
    )
)
"""


def _joins(*columns: str) -> str:
    """Joins that turn ``state``'s text ids back into text (``t_<column>.value``)."""
    return " ".join(f"LEFT JOIN text AS t_{c} ON t_{c}.id = s.{c}" for c in columns)


_CHANGES = f"""
WITH {_PAIRS}
SELECT co.company_id, t_company_name.value, c.connection_id, t_platform_name.value, f.change,
       fs.name, ts.name, f.prev_at, f.cur_at, coalesce(f.last_sync, {NAT}), t_latest_error.value
FROM found AS f
JOIN connection AS c ON c.id = f.connection
JOIN company AS co ON co.id = c.company
JOIN state AS s ON s.id = f.state
{_joins("company_name", "platform_name", "latest_error")}
LEFT JOIN status AS fs ON fs.id = f.from_status
LEFT JOIN status AS ts ON ts.id = f.to_status
ORDER BY f.cur_at, f.change, t_company_name.value NULLS FIRST, co.company_id, c.connection_id
"""

_CHANGE_COUNTS = f"WITH {_PAIRS} SELECT change, count(*) FROM found GROUP BY change"

# A link URL is stored as is, or as a template (``interning.expand`` in SQL).
_LINK_URL = (
    f"coalesce(s.link_url, replace(replace(t_link.value, '{COMPANY_PLACEHOLDER}', co.company_id), "
    f"'{CONNECTION_PLACEHOLDER}', c.connection_id))"
)
_PORTFOLIO = f"""
SELECT co.company_id, t_company_name.value, c.connection_id, t_platform_name.value,
       t_integration_key.value, t_source_type.value, st.name, coalesce(s.created, {NAT}),
       coalesce(m.last_sync, {NAT}), s.error_count, t_latest_error.value, {_LINK_URL},
       t_integration_id.value, s.source_id, s.data_connection_errors, s.connection_info
FROM member AS m
JOIN connection AS c ON c.id = m.connection
JOIN company AS co ON co.id = c.company
JOIN state AS s ON s.id = m.state
JOIN status AS st ON st.id = m.status
{_joins(*INTERNED, "link")}
WHERE m.snapshot = ?
ORDER BY c.company, m.connection
"""
#: The order ``_PORTFOLIO`` selects in: ``list_all()``'s columns (``id`` is the connection id).
_PORTFOLIO_ORDER = ("company_id", "company_name", *CONNECTION_COLUMNS)


def timestamp(value: int) -> pd.Timestamp:
    """Stored microseconds as a UTC Timestamp."""
    return pd.Timestamp(value, unit="us", tz="UTC")


def snapshot_summary(db: Database, at: int) -> dict[str, Any] | None:
    """The snapshot taken at ``at`` (µs) as ``Recorded``'s fields (without ``new``), or None."""
    row = db.row(
        f"SELECT {', '.join(SNAPSHOT_COLUMNS)}, "
        "(SELECT max(taken_at) FROM snapshot AS p WHERE p.taken_at < s.taken_at) "
        "FROM snapshot AS s WHERE taken_at = ?",
        (at,),
    )
    if row is None:
        return None
    fields = dict(zip(SNAPSHOT_COLUMNS, row[:-1], strict=True))
    fields["deauthorized"] = 0 if row[-1] is None else newly_deauthorized(db, row[-1], at)
    fields["taken_at"] = timestamp(fields["taken_at"])
    fields["previous"] = None if row[-1] is None else timestamp(row[-1])
    return fields


_NEWLY_DEAUTHORIZED = f"""
WITH {_PAIRS}
SELECT count(*) FROM found
WHERE change IN ({_STATUS_CHANGED}, {_APPEARED})
  AND to_status = (SELECT id FROM status WHERE name = 'Deauthorized')
"""


def newly_deauthorized(db: Database, since: int, until: int) -> int:
    """Connections that became (or appeared) Deauthorized in the snapshots in (since, until]."""
    return int(db.value(_NEWLY_DEAUTHORIZED, {"since": since, "until": until}))


def change_counts(db: Database, since: int, until: int) -> dict[str, int]:
    counts = dict(db.rows(_CHANGE_COUNTS, {"since": since, "until": until}))
    return {kind: counts.get(CHANGE_KINDS.index(kind), 0) for kind in COUNTED}


def snapshots(db: Database) -> pd.DataFrame:
    rows = db.rows(f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM snapshot ORDER BY taken_at")
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(SNAPSHOT_COLUMNS)
    data = {"taken_at": from_micros(columns[0])}
    for name, values in zip(SNAPSHOT_COLUMNS[1:-1], columns[1:-1], strict=True):
        data[name] = pd.Series(values, dtype="int64")
    data["source"] = pd.Series(columns[-1], dtype="str")
    return pd.DataFrame(data, columns=list(SNAPSHOT_COLUMNS))


def snapshot_at_or_before(db: Database, at: int) -> tuple[int, int] | None:
    """(id, taken_at) of the latest snapshot taken at or before ``at``."""
    found = db.row(
        "SELECT id, taken_at FROM snapshot WHERE taken_at <= ? ORDER BY taken_at DESC LIMIT 1",
        (at,),
    )
    return None if found is None else (int(found[0]), int(found[1]))


def first_taken_at(db: Database) -> int | None:
    found = db.value("SELECT min(taken_at) FROM snapshot")
    return None if found is None else int(found)


def latest_taken_at(db: Database) -> int:
    """The latest snapshot's time (0 when there is none)."""
    return int(db.value("SELECT coalesce(max(taken_at), 0) FROM snapshot"))


def portfolio_columns(db: Database, snapshot: int) -> dict[str, tuple[Any, ...]]:
    rows = db.rows(_PORTFOLIO, (snapshot,))
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_PORTFOLIO_ORDER)
    return dict(zip(_PORTFOLIO_ORDER, columns, strict=True))


def changes(db: Database, since: int, until: int) -> pd.DataFrame:
    rows = db.rows(_CHANGES, {"since": since, "until": until})
    c = list(zip(*rows, strict=True)) if rows else [()] * len(CHANGE_COLUMNS)
    statuses = category("status", [*c[5], *c[6]]).dtype
    data = {
        "company_id": pd.Series(c[0], dtype="str"),
        "company_name": pd.Series(c[1], dtype="str"),
        "connection_id": pd.Series(c[2], dtype="str"),
        "platform_name": category("platform_name", list(c[3])),
        "change": pd.Series(
            pd.Categorical.from_codes(np.asarray(c[4], dtype=np.int64), CHANGE_KINDS)
        ),
        # One set of categories for both, so from and to statuses compare and group alike.
        "from_status": pd.Series(pd.Categorical(c[5], dtype=statuses)),
        "to_status": pd.Series(pd.Categorical(c[6], dtype=statuses)),
        "from_at": from_micros(c[7]),
        "to_at": from_micros(c[8]),
        "last_sync": from_micros(c[9]),
        "latest_error": pd.Series(c[10], dtype="str"),
    }
    return pd.DataFrame(data, columns=list(CHANGE_COLUMNS))


def _ordered(column: str, values: set[Any]) -> list[Any]:
    """Values as a category of ``column`` orders them: documented first, then the rest."""
    known = KNOWN_CATEGORIES.get(column, ())
    return [v for v in known if v in values] + sorted(values - set(known))


def status_over_time(db: Database, by: str | None) -> pd.DataFrame:
    times = pd.DatetimeIndex(
        from_micros([t for (t,) in db.rows("SELECT taken_at FROM snapshot ORDER BY taken_at")]),
        name="taken_at",
    )
    keys = ["taken_at", *([by] if by else [])]
    rows = db.rows(  # the sum cast: PostgreSQL sums BIGINTs as NUMERIC
        f"SELECT s.taken_at, {', '.join(f't.{k}' for k in keys[1:] + ['status'])}, "
        "CAST(sum(t.connections) AS BIGINT) FROM tally AS t JOIN snapshot AS s "
        f"ON s.id = t.snapshot GROUP BY {', '.join(f'{i + 1}' for i in range(len(keys) + 1))}"
    )
    long = pd.DataFrame(rows, columns=[*keys, "status", "connections"])
    long["taken_at"] = from_micros(long["taken_at"].to_numpy(dtype=np.int64)).to_numpy()
    # Every documented status is a column, even at zero, so the shape does not depend on data.
    statuses = [*CONNECTION_STATUSES, *sorted(set(long["status"]) - set(CONNECTION_STATUSES))]
    if by:
        long[by] = long[by].fillna(MISSING)
        groups = _ordered(by, set(long[by]) - {MISSING})
        groups += [MISSING] if MISSING in set(long[by]) else []
        index = pd.MultiIndex.from_product([times, groups], names=keys)
    else:
        index = times
    table = long.set_index([*keys, "status"])["connections"].unstack("status")
    table = table.reindex(index=index, columns=statuses).fillna(0).astype("int64")
    table.columns.name = "status"
    return table
