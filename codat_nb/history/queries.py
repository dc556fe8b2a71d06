"""Reading a history: the snapshots, one portfolio as it was, trends (changes: ``changes``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from codat_nb.frames import CONNECTION_COLUMNS
from codat_nb.history.backend import Database
from codat_nb.history.changes import COUNTED, newly_deauthorized
from codat_nb.history.encoding import KNOWN_CATEGORIES, NAT, from_micros
from codat_nb.history.interning import COMPANY_PLACEHOLDER, CONNECTION_PLACEHOLDER, INTERNED
from codat_nb.wire.schema import CONNECTION_STATUSES

#: Columns ``status_over_time`` can group by (counted when each snapshot is recorded).
BY_COLUMNS = ("platform_name", "integration_key", "source_type")
MISSING = "<missing>"
SNAPSHOT_COLUMNS = ("taken_at", "connections", "companies", *COUNTED, "source")


def _joins(*columns: str) -> str:
    """Joins that turn ``state``'s text ids back into text (``t_<column>.value``)."""
    return " ".join(f"LEFT JOIN text AS t_{c} ON t_{c}.id = s.{c}" for c in columns)


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
    stamp: pd.Timestamp = pd.Timestamp(value, unit="us", tz="UTC")
    return stamp


def snapshot_summary(db: Database, at: int) -> dict[str, Any] | None:
    """The snapshot taken at ``at`` (µs) as ``Recorded``'s fields (without ``new``), or None."""
    row = db.row(
        f"SELECT {', '.join(SNAPSHOT_COLUMNS)}, id, "
        "(SELECT max(taken_at) FROM snapshot AS p WHERE p.taken_at < s.taken_at) "
        "FROM snapshot AS s WHERE taken_at = ?",
        (at,),
    )
    if row is None:
        return None
    *values, snapshot, previous = row
    fields = dict(zip(SNAPSHOT_COLUMNS, values, strict=True))
    fields["deauthorized"] = 0 if previous is None else newly_deauthorized(db, snapshot)
    fields["taken_at"] = timestamp(fields["taken_at"])
    fields["previous"] = None if previous is None else timestamp(previous)
    return fields


def snapshots(db: Database) -> pd.DataFrame:
    rows = db.rows(f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM snapshot ORDER BY taken_at")
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(SNAPSHOT_COLUMNS)
    data = {"taken_at": from_micros(columns[0])}
    for name, values in zip(SNAPSHOT_COLUMNS[1:-1], columns[1:-1], strict=True):
        data[name] = pd.Series(values, dtype="int64")
    data["source"] = pd.Series(columns[-1], dtype="str")
    frame: pd.DataFrame = pd.DataFrame(data, columns=list(SNAPSHOT_COLUMNS))
    return frame


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
    index: pd.Index
    if by:
        long[by] = long[by].fillna(MISSING)
        groups = _ordered(by, set(long[by]) - {MISSING})
        groups += [MISSING] if MISSING in set(long[by]) else []
        index = pd.MultiIndex.from_product([times, groups], names=keys)
    else:
        index = times
    wide = long.set_index([*keys, "status"])["connections"].unstack("status")
    table: pd.DataFrame = wide.reindex(index=index, columns=statuses).fillna(0).astype("int64")
    table.columns.name = "status"
    return table
