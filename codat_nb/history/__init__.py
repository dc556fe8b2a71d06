"""Connection status history: ``list_all()`` snapshots in one SQLite file, and what changed.

Codat keeps no history an analyst can query; each ``list_all()`` is a single moment. Record one
snapshot a day (``codat-nb snapshot --db PATH`` from a scheduled job, or ``History.record`` in a
notebook) and ask which customers lost access this week, how long connections sat in
``PendingAuth`` and whether ``Deauthorized`` is rising::

    from codat_nb.history import History

    with History("connections.sqlite") as history:
        history.record(client.connections.list_all())
        history.changes(since="2026-11-01T00:00:00Z")

The file layout is described in ``codat_nb.history.database``.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path
from types import TracebackType

import pandas as pd

from codat_nb.history import queries, writer
from codat_nb.history.database import (
    DEFAULT_TIMEOUT,
    HistoryError,
    open_database,
    translated,
    write_transaction,
)
from codat_nb.history.encoding import (
    check_portfolio,
    micros,
    portfolio_frame,
    stored_values,
    utc_time,
)
from codat_nb.history.queries import BY_COLUMNS, CHANGE_KINDS
from codat_nb.history.writer import Recorded

__all__ = ["CHANGE_KINDS", "History", "HistoryError", "Recorded"]

Moment = datetime | pd.Timestamp | str


def _unencodable(portfolio: pd.DataFrame) -> str:
    """Where a frame holds text UTF-8 cannot encode: "column of connection id"."""
    for column in portfolio.columns:
        for connection_id, value in zip(portfolio["id"], portfolio[column], strict=True):
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return f"{column!r} of connection {connection_id}"
    return "the portfolio"


class History:
    """Snapshots of a Codat portfolio over time, in the SQLite file at ``path``.

    A new path (or an empty file) becomes a history; an older history file is upgraded. Opening
    anything else raises HistoryError. ``timeout`` is how long a write waits for another writer.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        self.path = Path(path)
        self._db = open_database(self.path, float(timeout))
        self._lock = threading.Lock()  # one sqlite3 connection: one caller at a time

    def __repr__(self) -> str:
        return f"History({str(self.path)!r})"

    def close(self) -> None:
        """Close the file; safe to call twice."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def record(
        self, portfolio: pd.DataFrame, at: Moment | None = None, *, source: str | None = None
    ) -> Recorded:
        """Append one snapshot of a ``list_all()`` frame, in one transaction; a summary of it.

        ``at`` defaults to the server's time when the listing ended
        (``portfolio.attrs["server_time"]``). Recording the same ``at`` again changes nothing.
        ``source`` says where the portfolio was listed from (e.g. ``client.base_url``); a
        snapshot from another source than the latest one is refused.
        """
        portfolio = check_portfolio(portfolio)
        if source is not None and (not isinstance(source, str) or not source.strip()):
            raise ValueError(f"source must be a non-empty string or None, got {source!r}")
        if at is None:
            at = portfolio.attrs.get("server_time")
            if at is None:
                raise ValueError(
                    "no snapshot time: pass at=, or record the frame "
                    "client.connections.list_all() returns (it carries the server's time in "
                    "attrs['server_time'])"
                )
        taken_at = utc_time(at, "at")
        stored = stored_values(portfolio)
        try:
            with self._lock, write_transaction(self._db, self.path, "record a snapshot in"):
                return writer.record(self._db, stored, taken_at, source)
        except UnicodeEncodeError:  # rolled back; say which value cannot be stored
            raise HistoryError(
                f"nothing recorded in {self.path}: {_unencodable(portfolio)} holds text that is "
                "not valid Unicode (a lone surrogate), which SQLite cannot store"
            ) from None

    def snapshots(self) -> pd.DataFrame:
        """One row per snapshot, oldest first: ``taken_at``, connection and company counts,
        the changes since the previous snapshot (``appeared``, ``disappeared``,
        ``status_changed``, ``stalled``) and ``source``."""
        with self._lock, translated(self.path, "read"):
            return queries.snapshots(self._db)

    def at(self, when: Moment) -> pd.DataFrame:
        """The portfolio as the latest snapshot taken at or before ``when`` saw it.

        Same columns and dtypes as ``list_all()``; ``attrs["server_time"]`` is the snapshot's
        time, so the frame can be analysed (``analysis.stale(df, now=...)``) like a fresh one.
        """
        moment = micros(utc_time(when, "when"))
        with self._lock, translated(self.path, "read"):
            found = queries.snapshot_at_or_before(self._db, moment)
            if found is None:
                first = queries.first_taken_at(self._db)
                raise ValueError(
                    f"no snapshot at or before {queries.timestamp(moment).isoformat()}; "
                    + (
                        "the history is empty"
                        if first is None
                        else f"the first is at {queries.timestamp(first).isoformat()}"
                    )
                )
            columns = queries.portfolio_columns(self._db, found[0])
        frame = portfolio_frame(columns)
        frame.attrs["server_time"] = queries.timestamp(found[1])
        return frame

    def changes(self, since: Moment, until: Moment | None = None) -> pd.DataFrame:
        """What changed between consecutive snapshots taken after ``since`` (up to ``until``).

        One row per connection and snapshot pair: ``change`` is ``status_changed``,
        ``appeared``, ``disappeared`` or ``stalled`` (Linked in both snapshots, ``last_sync``
        did not move), with ``from_status``/``to_status`` and the pair's times ``from_at`` and
        ``to_at``. Sorted by ``to_at``, then change, company name and id.
        """
        start = micros(utc_time(since, "since"))
        end = micros(utc_time(until, "until")) if until is not None else None
        if end is not None and end < start:
            raise ValueError(f"until ({until!r}) is before since ({since!r})")
        with self._lock, translated(self.path, "read"):
            last = (
                end
                if end is not None
                else self._db.execute("SELECT coalesce(max(taken_at), 0) FROM snapshot").fetchone()[
                    0
                ]
            )
            return queries.changes(self._db, start, last)

    def status_over_time(self, by: str | None = None) -> pd.DataFrame:
        """Connections per status (columns) per snapshot (rows, ``taken_at``).

        ``by`` (``platform_name``, ``integration_key`` or ``source_type``) adds it as a second
        index level. Every documented status is a column, even at zero.
        """
        if by is not None and by not in BY_COLUMNS:
            raise ValueError(f"by must be None or one of {', '.join(BY_COLUMNS)}; got {by!r}")
        with self._lock, translated(self.path, "read"):
            return queries.status_over_time(self._db, by)
