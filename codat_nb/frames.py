"""Raw wire dicts -> DataFrames with a fixed schema: the promise analysts code against.

Columns, names and dtypes come from ``wire.schema``. Built column by column with vectorised
conversions, never a pydantic model per row, so a 10,000-row listing costs little more than
``pd.DataFrame(raw_dicts)``. Every frame, empty or full, has the same columns in the same order
with the same dtypes:

* dates: ``datetime64[us, UTC]``. Offsets are converted to UTC. Codat also sends *unqualified*
  local times (no ``Z``, no offset) and does not say which zone they are in; they are treated as
  UTC, which may be off by the business's UTC offset.
* ``category`` columns (status, source type, platform name and key): the known values first,
  then any value Codat sent that this version does not know, so nothing is ever dropped.
* ids and other text: pandas' ``str`` dtype; missing text is NA.
* derived: ``error_count`` (int) and ``latest_error`` (the message of the most recent data
  connection error, by ``erroredOnUtc``, or NA); ``connection_count`` for companies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from codat_nb.wire import schema as s
from codat_nb.wire.dates import parse_codat_datetime
from codat_nb.wire.models import known_or_warn
from codat_nb.wire.rows import check_rows, dates

Row = dict[str, Any]


def _text(values: Sequence[Any]) -> pd.Series:
    series: pd.Series = pd.Series(values, dtype="str")
    return series


def _category(field: s.Field, values: Sequence[Any]) -> pd.Series:
    known = field.known_categories
    known_set = set(known)
    extra = sorted(set(values) - known_set - {None})
    if field.kind == s.ENUM:  # platforms come and go; a new status or source type is news
        for value in extra:
            known_or_warn(field.label, value, known)
    dtype = pd.CategoricalDtype([*known, *extra])
    series: pd.Series = pd.Series(pd.Categorical(values, dtype=dtype))
    return series


def _column(schema: s.Schema, field: s.Field, values: list[Any], what: str) -> pd.Series:
    if field.dtype == s.CATEGORY:
        return _category(field, values)
    if field.dtype == s.UTC_DATETIME:
        return dates(schema, field, values, what)
    series: pd.Series = pd.Series(values, dtype=field.dtype)
    return series


def _latest_error(errors: list[Row]) -> Any:
    def when(item: Row) -> float:
        stamp = item.get("erroredOnUtc")
        if not stamp:
            return float("-inf")
        moment = parse_codat_datetime(stamp)
        return moment.timestamp() if moment.tzinfo else pd.Timestamp(moment, tz="UTC").timestamp()

    latest = max(errors, key=when)
    return latest.get("errorMessage") or latest.get("statusText")


#: The rows' values of each column, by wire name (what the gate read).
Values = dict[str, list[Any]]
#: Columns computed from others: name -> (dtype, (rows, values) -> the column's values).
Derived = dict[str, tuple[str, Callable[[list[Row], Values], list[Any]]]]

CONNECTION_DERIVED: Derived = {
    "error_count": (
        s.INT64,
        lambda rows, values: [len(e) if e else 0 for e in values["dataConnectionErrors"]],
    ),
    "latest_error": (
        s.STR,
        lambda rows, values: [
            _latest_error(e) if e else None for e in values["dataConnectionErrors"]
        ],
    ),
}
COMPANY_DERIVED: Derived = {
    "connection_count": (
        s.INT64,
        lambda rows, values: [len(r.get("dataConnections") or ()) for r in rows],
    ),
}

CONNECTION_COLUMNS = s.CONNECTION.frame_columns(tuple(CONNECTION_DERIVED))
COMPANY_COLUMNS = s.COMPANY.frame_columns(tuple(COMPANY_DERIVED))


def frame(
    schema: s.Schema,
    derived: Derived,
    rows: Iterable[Row],
    what: str = "a listing",
    *,
    checked: bool = False,
    values: Values | None = None,
) -> pd.DataFrame:
    """A DataFrame of ``schema``'s columns (and ``derived`` ones) from raw wire dicts, checked
    by the same gate as every other reading (``wire.rows``) unless the caller already did
    (``checked``; dates are parsed here either way). ``values``: the checked rows' values by
    wire name, as the gate returned them (used with ``checked``), so the rows are not read again."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not checked:
        values = check_rows(schema, rows, what, parse_dates=False)
    elif values is None:
        values = {f.wire: [r.get(f.wire) for r in rows] for f in schema.columns}
    columns = {f.column_name: _column(schema, f, values[f.wire], what) for f in schema.columns}
    for name, (dtype, compute) in derived.items():
        columns[name] = pd.Series(compute(rows, values), dtype=dtype)
    result: pd.DataFrame = pd.DataFrame(columns, columns=list(schema.frame_columns(tuple(derived))))
    return result


def connections_frame(
    connections: Iterable[Row],
    what: str = "a listing",
    *,
    checked: bool = False,
    values: dict[str, list[Any]] | None = None,
) -> pd.DataFrame:
    """A DataFrame of CONNECTION_COLUMNS from raw Connection wire dicts (camelCase)."""
    return frame(
        s.CONNECTION, CONNECTION_DERIVED, connections, what, checked=checked, values=values
    )


def joined_values(parts: list[Any] | None, rows: int) -> dict[str, list[Any]] | None:
    """The gate's values of several pages (``check_rows``'s, page by page) as those of their
    first ``rows`` rows; None when there are none to join. The pages' lists are let go as they
    are joined (no second copy of every column at once)."""
    if not parts:
        return None
    joined: dict[str, list[Any]] = {}
    for name in list(parts[0]):
        column: list[Any] = []
        for part in parts:
            column += part.pop(name)
        joined[name] = column if len(column) == rows else column[:rows]
    return joined


def companies_frame(
    companies: Iterable[Row], what: str = "a listing", *, checked: bool = False
) -> pd.DataFrame:
    """A DataFrame of COMPANY_COLUMNS from raw Company wire dicts."""
    return frame(s.COMPANY, COMPANY_DERIVED, companies, what, checked=checked)


def portfolio_frame(
    parts: Iterable[tuple[str, str | None, list[Row]]],
    what: str = "the portfolio",
    *,
    checked: bool = False,
) -> pd.DataFrame:
    """Connections of many companies, ``(company_id, company_name, rows)`` each, in one frame."""
    ids: list[str] = []
    names: list[str | None] = []
    rows: list[Row] = []
    for company_id, company_name, company_rows in parts:
        ids += [company_id] * len(company_rows)
        names += [company_name] * len(company_rows)
        rows += company_rows
    result = connections_frame(rows, what, checked=checked)
    result.insert(0, "company_name", _text(names))
    result.insert(0, "company_id", _text(ids))
    return result
