"""Codat's date strings: three shapes (``...Z``, ``...+01:00``, unqualified local time), up to
seven fractional digits. One place parses them for models, frames and the query engine.

Unqualified times are local to the business, whose zone the API does not give: models keep them
naive (nothing lost), while frames and query comparisons read them as UTC (documented in README).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Final

import pandas as pd

DATETIME_DTYPE: Final = "datetime64[us, UTC]"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_codat_datetime(value: str) -> datetime:
    """Parse any of Codat's date shapes; fractions beyond microseconds are truncated.

    Whatever the DataFrames' parser (pandas, ISO 8601) accepts is accepted here too, so a model
    and a frame never disagree about a date.
    """
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        parsed: datetime = pd.Timestamp(pd.to_datetime(text, format="ISO8601")).to_pydatetime()
        return parsed
    except (ValueError, TypeError, OverflowError):
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None


def format_codat_datetime(value: datetime) -> str:
    """Render a datetime as Codat does: UTC with ``Z`` when aware, bare when unqualified."""
    if value.tzinfo is not None and value.utcoffset() is not None and not value.utcoffset():
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


@lru_cache(maxsize=262_144)
def as_instant(text: str) -> datetime | None:
    """A Codat date string as an aware UTC datetime (unqualified read as UTC), or None."""
    try:
        value = parse_codat_datetime(text)
        if pd.isna(value):  # pandas reads "", "NaN" and "NaT" as NaT: not a date
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # an offset beyond year 1 or 9999 in UTC
        return None


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
    result: pd.Series = parsed.astype(DATETIME_DTYPE)
    return result


def _parses(value: Any) -> bool:
    try:
        parse_codat_datetime(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def utc_moment(value: object, name: str, *, naive_is_utc: bool) -> pd.Timestamp:
    """A caller's date-time argument ``name`` (datetime, Timestamp or ISO string) in UTC.

    One check for every function that takes a moment. A time without a zone is read as UTC
    when ``naive_is_utc``; otherwise it is refused, since it would shift silently by the
    machine's offset (a snapshot recorded at the wrong time is a wrong answer, not an error).
    """
    if not isinstance(value, (str, datetime)):
        kind = "datetime" if naive_is_utc else "timezone-aware datetime"
        raise TypeError(
            f"{name} must be a {kind}, Timestamp or ISO string, not {type(value).__name__}"
        )
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a date-time") from None
    if pd.isna(stamp):
        raise ValueError(f"{name} must be a date-time, not NaT")
    if stamp.tzinfo is None and not naive_is_utc:
        raise ValueError(
            f"{name}={value!r} has no time zone; give one (e.g. '2026-11-01T09:00:00Z' or "
            "pd.Timestamp(..., tz='UTC')) so the time cannot shift"
        )
    utc: pd.Timestamp = stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
    return utc
