"""A ``list_all()`` frame to the values a history stores, and back with ``list_all()``'s dtypes.

Input is checked before anything is written, so a bad frame or time is a clear error and the
file is untouched. Times must say their zone: a naive time would silently shift by the
recording machine's offset. Frames come back exactly as ``codat_nb.frames`` builds them
(categories with the documented values first, tz-aware UTC times, ``str`` text, JSON columns as
Python lists and dicts), but for one thing: link URLs are kept without a one-time password
(``?otp=``, ``?link.otp=``). Codat issues a fresh one with every listing, usable once within a
day, so it is no use later, would make every connection look changed in every snapshot, and is
a credential a history file should not hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from codat_nb import frames
from codat_nb.wire import schema as s
from codat_nb.wire.dates import utc_moment

PORTFOLIO_COLUMNS = ("company_id", "company_name", *frames.CONNECTION_COLUMNS)
TIME_COLUMNS = ("created", "last_sync")
JSON_COLUMNS = ("data_connection_errors", "connection_info")
#: A connection's values stored once per change (ids, status and ``last_sync`` live elsewhere).
STATE_COLUMNS = (
    "company_name",
    "platform_name",
    "integration_key",
    "source_type",
    "created",
    "error_count",
    "latest_error",
    "link_url",
    "integration_id",
    "source_id",
    *JSON_COLUMNS,
)
#: What SQL returns for a NULL time (``coalesce(t, NAT)``): numpy's NaT as an int64.
NAT = int(np.iinfo(np.int64).min)
KNOWN_CATEGORIES = {
    f.column_name: f.known_categories for f in s.CONNECTION.columns if f.dtype == s.CATEGORY
}
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_HINT = "record the frame client.connections.list_all() returns"


def utc_time(value: object, name: str) -> pd.Timestamp:
    """``value`` (datetime, Timestamp or ISO string with a zone; or a date alone, which is
    that day's 00:00 UTC, the day the history's snapshots are dated by) as a UTC Timestamp in
    µs. A time of day without a zone is still refused: it would shift by the machine's offset."""
    day = (
        value.isoformat() if isinstance(value, date) and not isinstance(value, datetime) else value
    )
    if isinstance(day, str) and _DATE_ONLY.fullmatch(day.strip()):
        try:
            return pd.Timestamp(day.strip(), tz="UTC").as_unit("us")
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a date-time") from None
    stamp: pd.Timestamp = utc_moment(value, name, naive_is_utc=False).as_unit("us")
    return stamp


def micros(stamp: pd.Timestamp) -> int:
    """A Timestamp as integer microseconds since the epoch (``Timestamp.value`` is in ns, so
    it overflows outside 1677-2262; µs hold years 1 to 9999)."""
    return int(stamp.as_unit("us").asm8.view("i8"))


def from_micros(values: Sequence[int] | np.ndarray) -> pd.Series:
    """int64 microseconds (``NAT`` for missing) as a ``datetime64[us, UTC]`` Series."""
    array = np.asarray(values, dtype=np.int64).view("datetime64[us]")
    times: pd.Series = pd.Series(pd.DatetimeIndex(array).tz_localize("UTC"))
    return times


def check_portfolio(portfolio: object) -> pd.DataFrame:
    """``portfolio`` if it is a ``list_all()``-shaped frame; else a ValueError naming why."""
    if not isinstance(portfolio, pd.DataFrame):
        raise TypeError(f"portfolio must be a pandas DataFrame, not {type(portfolio).__name__}")
    missing = [c for c in PORTFOLIO_COLUMNS if c not in portfolio.columns]
    if missing:
        raise ValueError(f"portfolio has no column {', '.join(map(repr, missing))}; {_HINT}")
    for column in TIME_COLUMNS:
        dtype = portfolio[column].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            continue
        if pd.api.types.is_datetime64_dtype(dtype):
            raise ValueError(
                f"portfolio[{column!r}] holds naive timestamps (no time zone); if they are UTC, "
                f"use portfolio[{column!r}].dt.tz_localize('UTC')"
            )
        raise ValueError(f"portfolio[{column!r}] must hold tz-aware timestamps, not {dtype}")
    counts = portfolio["error_count"]
    if not pd.api.types.is_integer_dtype(counts.dtype):
        raise ValueError(f"portfolio['error_count'] must hold integers, not {counts.dtype}")
    for column in ("company_id", "id", "status", "error_count"):
        if portfolio[column].isna().any():
            raise ValueError(f"portfolio[{column!r}] has missing values; every row needs one")
    failures = portfolio.attrs.get("failures")
    if isinstance(failures, pd.DataFrame) and len(failures):
        names = ", ".join(failures["company_name"].astype(str).head(3))
        raise ValueError(
            f"this listing is incomplete: {len(failures)} companies could not be read ({names}; "
            "see portfolio.attrs['failures']), and recorded as it is their connections would "
            "show as disappeared; list again (list_all(strict=True) raises instead)"
        )
    duplicated = portfolio.duplicated(["company_id", "id"])
    if duplicated.any():
        ids = ", ".join(portfolio.loc[duplicated, "id"].astype(str).unique()[:3])
        raise ValueError(f"portfolio lists a connection more than once (id {ids}); {_HINT}")
    return portfolio


_ONE_TIME_PASSWORDS = ("otp", "link.otp")


def without_one_time_password(url: Any) -> Any:
    """``url`` without its ``otp``/``link.otp`` query parameters; the rest exactly as it was."""
    if not isinstance(url, str) or "otp=" not in url:
        return url
    address, hash_mark, fragment = url.partition("#")
    path, question_mark, query = address.partition("?")
    if not question_mark:
        return url
    kept = [p for p in query.split("&") if p.partition("=")[0] not in _ONE_TIME_PASSWORDS]
    return path + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment


def _json(value: Any, column: str) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"portfolio[{column!r}] holds a value JSON cannot store: {error}"
        ) from None


def stored_values(portfolio: pd.DataFrame) -> pd.DataFrame:
    """The columns as stored: text as ``str``, times as int µs, JSON as text (categories stay
    categories: hashing them costs one hash per category, not per row)."""
    out = {}
    for column in PORTFOLIO_COLUMNS:
        series = portfolio[column]
        if column in TIME_COLUMNS:
            ints = series.dt.as_unit("us").array.asi8
            out[column] = pd.Series(ints, index=series.index)
        elif column in JSON_COLUMNS:
            present = series.notna()  # most are None: encode only the others
            texts = pd.Series(None, index=series.index, dtype="str")
            texts[present] = [_json(v, column) for v in series[present]]
            out[column] = texts
        elif column == "error_count":
            out[column] = series.astype("int64")
        elif isinstance(series.dtype, pd.CategoricalDtype):
            out[column] = series
        elif column == "link_url":
            urls = series.astype("str")
            with_otp = urls.str.contains("otp=", regex=False, na=False)
            if with_otp.any():
                kept = [without_one_time_password(u) for u in urls[with_otp].tolist()]
                urls[with_otp] = pd.Series(kept, index=urls.index[with_otp], dtype="str")
            out[column] = urls
        else:
            out[column] = series.astype("str")
    stored: pd.DataFrame = pd.DataFrame(out, index=portfolio.index)
    return stored


def unstorable(portfolio: pd.DataFrame, *, nul: bool) -> str:
    """Where a frame holds text that cannot be stored, "column of connection id": text UTF-8
    cannot encode (a lone surrogate), or with ``nul`` a NUL character (PostgreSQL's text)."""
    for column in portfolio.columns:
        for connection_id, value in zip(portfolio["id"], portfolio[column], strict=True):
            if not isinstance(value, str):
                continue
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"{column!r} of connection {connection_id}"
            if nul and "\x00" in value:
                return f"{column!r} of connection {connection_id}"
    return "the portfolio"


def fingerprints(stored: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash per row of the state columns and status: equal values, equal hash.

    (pandas hashes a category as it hashes the same text, so the dtype does not matter.)
    """
    columns = stored[[*STATE_COLUMNS, "status"]]
    hashed = pd.util.hash_pandas_object(columns, index=False, categorize=False)
    return hashed.to_numpy().view(np.int64)


def sql_values(series: pd.Series) -> list[Any]:
    """A column as Python values for the database driver (missing as None)."""
    values: list[Any]
    if series.dtype == np.int64:
        values = series.tolist()
        return [None if v == NAT else v for v in values] if series.name in TIME_COLUMNS else values
    values = series.astype(object).where(series.notna(), None).tolist()
    return values


def category(column: str, values: Sequence[Any]) -> pd.Series:
    """A category column as ``frames`` makes it: documented values first, then others sorted."""
    known = KNOWN_CATEGORIES.get(column, ())
    array = pd.Series(values, dtype=object)
    present = set(pd.unique(array[array.notna()].to_numpy()))  # hashed in C, not a loop
    dtype = pd.CategoricalDtype([*known, *sorted(present - set(known))])
    categories: pd.Series = pd.Series(pd.Categorical(array, dtype=dtype))
    return categories


def portfolio_frame(columns: dict[str, Sequence[Any]]) -> pd.DataFrame:
    """A frame with ``list_all()``'s columns and dtypes from stored column values."""
    template = frames.portfolio_frame([])
    out = {}
    for name in PORTFOLIO_COLUMNS:
        values = columns[name]
        if name in TIME_COLUMNS:
            out[name] = from_micros(values)
        elif name in JSON_COLUMNS:
            out[name] = pd.Series(
                [None if v is None else json.loads(v) for v in values], dtype=object
            )
        elif isinstance(template[name].dtype, pd.CategoricalDtype):
            out[name] = category(name, values)
        else:
            out[name] = pd.Series(values, dtype=template[name].dtype)
    frame: pd.DataFrame = pd.DataFrame(out, columns=list(PORTFOLIO_COLUMNS))
    return frame
