"""Raw wire dicts -> DataFrames with a fixed schema: the promise analysts code against.

Built column by column with vectorised conversions, never a pydantic model per row, so a
10,000-row listing costs little more than ``pd.DataFrame(raw_dicts)``. Every frame, empty or
full, has the same columns in the same order with the same dtypes:

* ``created`` / ``last_sync``: ``datetime64[us, UTC]``. Offsets are converted to UTC.
  Codat also sends *unqualified* local times (no ``Z``, no offset) and does not say which
  zone they are in; they are treated as UTC, which may be off by the business's UTC offset.
* ``status``, ``source_type``, ``platform_name``, ``integration_key``: ``category`` whose
  categories are the known values (statuses, source types, the platform catalogue) followed by
  any value Codat sent that this version does not know, so nothing is ever dropped.
* ids and other text: pandas' ``str`` dtype; missing text is NA.
* ``error_count``: int; ``latest_error``: the message of the most recent data connection
  error (by ``erroredOnUtc``) or NA; the raw error list stays in ``data_connection_errors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from codat_nb.models import CONNECTION_STATUSES, SOURCE_TYPES, known_or_warn, parse_codat_datetime
from codat_nb.platforms import PLATFORMS

CONNECTION_COLUMNS = (
    "id",
    "platform_name",
    "integration_key",
    "source_type",
    "status",
    "created",
    "last_sync",
    "error_count",
    "latest_error",
    "link_url",
    "integration_id",
    "source_id",
    "data_connection_errors",
    "connection_info",
)
COMPANY_COLUMNS = (
    "company_id",
    "company_name",
    "description",
    "created",
    "last_sync",
    "connection_count",
)
PORTFOLIO_COLUMNS = ("company_id", "company_name", *CONNECTION_COLUMNS)

_DATETIME_DTYPE = "datetime64[us, UTC]"
_KNOWN_CATEGORIES = {
    "status": CONNECTION_STATUSES,
    "source_type": SOURCE_TYPES,
    "platform_name": tuple(dict.fromkeys(p.name for p in PLATFORMS.values())),
    "integration_key": tuple(PLATFORMS),
}


_ENUM_KINDS = {"status": "connection status", "source_type": "source type"}


def _text(values: Sequence[Any]) -> pd.Series:
    return pd.Series(values, dtype="str")


def _category(column: str, values: Sequence[Any]) -> pd.Series:
    known = _KNOWN_CATEGORIES[column]
    known_set = set(known)
    extra = sorted({v for v in values if v is not None and v not in known_set})
    if column in _ENUM_KINDS:  # platforms come and go; a new status or source type is news
        for value in extra:
            known_or_warn(_ENUM_KINDS[column], value, known)
    dtype = pd.CategoricalDtype([*known, *extra])
    return pd.Series(pd.Categorical(values, dtype=dtype))


def to_utc_datetimes(column: str, values: Sequence[Any]) -> pd.Series:
    """Parse Codat date strings (``Z``, offset or unqualified-as-UTC) to ``datetime64[us, UTC]``."""
    series = pd.Series(values, dtype=object)
    try:
        try:
            parsed = pd.to_datetime(series, format="ISO8601", utc=True)
        except (pd.errors.OutOfBoundsDatetime, OverflowError):
            # 7-digit fractions make pandas parse at ns, whose range excludes e.g. year 0001.
            trimmed = series.str.replace(r"(\.\d{6})\d+", r"\1", regex=True)
            parsed = pd.to_datetime(trimmed, format="ISO8601", utc=True)
    except (TypeError, ValueError) as exc:
        bad = next((v for v in values if v is not None and not _parses(v)), None)
        raise ValueError(f"column {column!r} holds a value that is not a date: {bad!r}") from exc
    return parsed.astype(_DATETIME_DTYPE)


def _parses(value: Any) -> bool:
    try:
        parse_codat_datetime(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def _latest_error(errors: list[dict[str, Any]]) -> Any:
    def when(item: dict[str, Any]) -> float:
        stamp = item.get("erroredOnUtc")
        if not stamp:
            return float("-inf")
        moment = parse_codat_datetime(stamp)
        return moment.timestamp() if moment.tzinfo else pd.Timestamp(moment, tz="UTC").timestamp()

    latest = max(errors, key=when)
    return latest.get("errorMessage") or latest.get("statusText")


def connections_frame(connections: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame of CONNECTION_COLUMNS from raw Connection wire dicts (camelCase)."""
    rows = connections if isinstance(connections, list) else list(connections)
    errors = [row.get("dataConnectionErrors") for row in rows]
    columns = {
        "id": _text([row.get("id") for row in rows]),
        "platform_name": _category("platform_name", [row.get("platformName") for row in rows]),
        "integration_key": _category(
            "integration_key", [row.get("integrationKey") for row in rows]
        ),
        "source_type": _category("source_type", [row.get("sourceType") for row in rows]),
        "status": _category("status", [row.get("status") for row in rows]),
        "created": to_utc_datetimes("created", [row.get("created") for row in rows]),
        "last_sync": to_utc_datetimes("last_sync", [row.get("lastSync") for row in rows]),
        "error_count": pd.Series([len(e) if e else 0 for e in errors], dtype="int64"),
        "latest_error": _text([_latest_error(e) if e else None for e in errors]),
        "link_url": _text([row.get("linkUrl") for row in rows]),
        "integration_id": _text([row.get("integrationId") for row in rows]),
        "source_id": _text([row.get("sourceId") for row in rows]),
        "data_connection_errors": pd.Series(errors, dtype=object),
        "connection_info": pd.Series([row.get("connectionInfo") for row in rows], dtype=object),
    }
    return pd.DataFrame(columns, columns=list(CONNECTION_COLUMNS))


def companies_frame(companies: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame of COMPANY_COLUMNS from raw Company wire dicts."""
    rows = companies if isinstance(companies, list) else list(companies)
    columns = {
        "company_id": _text([row.get("id") for row in rows]),
        "company_name": _text([row.get("name") for row in rows]),
        "description": _text([row.get("description") for row in rows]),
        "created": to_utc_datetimes("created", [row.get("created") for row in rows]),
        "last_sync": to_utc_datetimes("last_sync", [row.get("lastSync") for row in rows]),
        "connection_count": pd.Series(
            [len(row.get("dataConnections") or ()) for row in rows], dtype="int64"
        ),
    }
    return pd.DataFrame(columns, columns=list(COMPANY_COLUMNS))


def portfolio_frame(
    parts: Iterable[tuple[str, str, list[dict[str, Any]]]],
) -> pd.DataFrame:
    """Connections of many companies, ``(company_id, company_name, rows)`` each, in one frame."""
    ids: list[str] = []
    names: list[str] = []
    rows: list[dict[str, Any]] = []
    for company_id, company_name, company_rows in parts:
        ids += [company_id] * len(company_rows)
        names += [company_name] * len(company_rows)
        rows += company_rows
    frame = connections_frame(rows)
    frame.insert(0, "company_name", _text(names))
    frame.insert(0, "company_id", _text(ids))
    return frame
