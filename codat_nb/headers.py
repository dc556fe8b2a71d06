"""What Codat's response headers say: its rate limits (``X-Rate-Limit-*``) and its clock
(``Date``). A header that does not parse is unknown, never an error: the answer it came with
is still good."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import NamedTuple

import pandas as pd

from codat_nb.exceptions import CodatWarning


class RateLimit(NamedTuple):
    """Codat's X-Rate-Limit-* headers from the most recent response."""

    limit: int | None
    remaining: int | None
    reset: str | None

    @property
    def reset_at(self) -> datetime | None:
        """``reset`` as an aware UTC datetime (None when absent or not a date)."""
        stamp = _utc(self.reset)
        return None if stamp is None else stamp.to_pydatetime()


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _utc(text: str | None) -> pd.Timestamp | None:
    if not text or not any(ch.isdigit() for ch in text):  # pandas reads "now" as our clock
        return None
    try:
        stamp = pd.Timestamp(text)
    except (TypeError, ValueError, OverflowError):
        return None
    if pd.isna(stamp):
        return None
    utc: pd.Timestamp = (
        stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    )
    return utc


def read_rate_limit(headers: Mapping[str, str] | None) -> RateLimit | None:
    """The X-Rate-Limit-* headers, or None when the answer had none."""
    if headers is None or "X-Rate-Limit-Limit" not in headers:
        return None
    return RateLimit(
        _int_or_none(headers.get("X-Rate-Limit-Limit")),
        _int_or_none(headers.get("X-Rate-Limit-Remaining")),
        headers.get("X-Rate-Limit-Reset"),
    )


def server_date(headers: Mapping[str, str] | None) -> pd.Timestamp | None:
    """The ``Date`` header as a UTC Timestamp; None when absent, and None with a CodatWarning
    when it does not parse (a listing's ``server_time`` is then unknown, its rows are not)."""
    text = None if headers is None else headers.get("Date")
    if not text:
        return None
    stamp = _http_date(text)
    if stamp is None:
        warnings.warn(
            f"the server's Date header {text[:60]!r} is not a date, so its time is unknown "
            "(df.attrs['server_time'] is None)",
            CodatWarning,
            stacklevel=2,
        )
    return stamp


def _http_date(text: str) -> pd.Timestamp | None:
    """An HTTP-date (RFC 9110, section 5.6.7: IMF-fixdate or an obsolete form) in UTC; None
    for anything else, which a lenient parser would guess at ("2026", "1/2/3")."""
    try:
        stamp = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return _utc(stamp.isoformat())
