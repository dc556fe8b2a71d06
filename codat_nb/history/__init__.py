"""Connection status history: ``list_all()`` snapshots in SQLite or PostgreSQL, and what changed.

Codat keeps no history an analyst can query; each ``list_all()`` is a single moment. Record one
snapshot a day (``codat-nb snapshot --db PATH_OR_URL`` from a scheduled job, or
``History.record`` in a notebook) and ask which customers lost access this week, how long
connections sat in ``PendingAuth`` and whether ``Deauthorized`` is rising::

    from codat_nb.history import History

    with History("connections.sqlite") as history:  # or "postgresql://user@host/db"
        history.record(client.connections.list_all())
        history.changes(since="2026-11-01T00:00:00Z")

An SQLite file is the default (nothing to install); a PostgreSQL database is the team backend
(``pip install "codat-nb[postgres]"``), with the same API, results and guarantees. The tables
are described in ``codat_nb.history.schema``; the two backends in ``sqlite`` and ``postgres``.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import pandas as pd

from codat_nb.history import changes, event_changes, event_log, queries, schema, writer
from codat_nb.history.backend import (
    CommitFailed,
    Database,
    HistoryError,
    UnstorableText,
)
from codat_nb.history.changes import CHANGE_KINDS
from codat_nb.history.encoding import (
    check_portfolio,
    micros,
    portfolio_frame,
    stored_values,
    unstorable,
    utc_time,
)
from codat_nb.history.event_log import Event
from codat_nb.history.queries import BY_COLUMNS
from codat_nb.history.writer import Recorded

__all__ = [
    "CHANGE_KINDS", "Event", "History", "HistoryError", "Recorded", "RecordingUncertain",
]  # fmt: skip

#: A moment: a zone-aware datetime, Timestamp or ISO string, or a date alone (00:00 UTC).
Moment = datetime | date | pd.Timestamp | str
T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _window(
    since: Moment | None, until: Moment | None, *, open_since: bool = False
) -> tuple[int | None, int | None]:
    """``since`` and ``until`` in µs (None: no bound; ``since`` only with ``open_since``),
    checked as every method checks them."""
    start = None if since is None and open_since else micros(utc_time(since, "since"))
    end = None if until is None else micros(utc_time(until, "until"))
    if start is not None and end is not None and end < start:
        raise ValueError(f"until ({until!r}) is before since ({since!r})")
    return start, end


class RecordingUncertain(HistoryError):
    """The database failed while committing a snapshot and could not be asked afterwards
    whether it was stored. ``summary`` is the snapshot as it would have been recorded (its
    ``deauthorized`` count is what an alert needs: recording again later is safe)."""

    def __init__(self, message: str, summary: Recorded) -> None:
        super().__init__(message)
        self.summary = summary


def _open(target: str | os.PathLike[str], timeout: float) -> Database:
    if isinstance(target, str) and _URL.match(target):
        from codat_nb.history import postgres

        if not postgres.is_url(target):
            raise ValueError(
                f"{postgres.redacted(target)} is not a history location: give a file path "
                "(SQLite) or a postgresql:// URL"
            )
        return postgres.PostgresDatabase(target, timeout)
    from codat_nb.history.sqlite import SQLiteDatabase

    return SQLiteDatabase(Path(target), timeout)


class History:
    """Snapshots of a Codat portfolio over time, in an SQLite file or a PostgreSQL database.

    ``target`` is a file path (SQLite: a new path or an empty file becomes a history) or a
    ``postgresql://user@host:port/database`` URL (an empty database or schema becomes one).
    An older history is upgraded; anything else raises HistoryError. A history this user may
    only read opens read-only: every query works, ``record`` is refused. ``timeout`` is how
    long a write waits for another writer.
    """

    def __init__(self, target: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not isinstance(target, (str, os.PathLike)):
            raise TypeError(
                f"target must be a file path or a postgresql:// URL, not {type(target).__name__}"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        self._db = _open(target, float(timeout))
        #: The file (SQLite), or None (PostgreSQL).
        self.path = getattr(self._db, "path", None)
        #: Where the history is, as messages name it (a URL without its password).
        self.location = self._db.location
        self._lock = threading.Lock()  # one connection: one caller at a time
        self._checked: Hashable = None  # the history's stamp when check() last passed
        try:
            schema.prepare(self._db)
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"History({self.location!r}{', read-only' if self.read_only else ''})"

    @property
    def read_only(self) -> bool:
        """True when this user may read but not write the history (known up front for a
        file; a PostgreSQL role's privileges show when it records)."""
        return self._db.read_only

    def close(self) -> None:
        """Close the file or connection; safe to call twice."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _read(self, work: Callable[[], T]) -> T:
        with self._lock:
            return self._db.read("read", work)

    def check(self) -> None:
        """Raise HistoryError if the history is damaged (every page of an SQLite file is read:
        ``PRAGMA quick_check``), saying how to recover. ``record`` checks before writing,
        unless this check passed and nothing was written since (the daily job checks before
        it lists, so a damaged file costs no API calls and is checked once)."""
        with self._lock:
            damage, stamp = self._db.read("check", lambda: (self._db.damage(), self._db.stamp()))
        if damage is not None:
            raise HistoryError(self._damaged(damage))
        self._checked = stamp

    def _damaged(self, damage: str) -> str:
        return f"{self.location} is damaged ({damage}); nothing was written. {self._db.recovery()}"

    def record(
        self, portfolio: pd.DataFrame, at: Moment | None = None, *, source: str | None = None
    ) -> Recorded:
        """Append one snapshot of a ``list_all()`` frame, in one transaction; a summary of it.

        ``at`` defaults to the server's time when the listing ended
        (``portfolio.attrs["server_time"]``). Recording the same ``at`` again changes nothing.
        ``source`` says where the portfolio was listed from (e.g. ``client.base_url``); a
        snapshot from another source than the latest one is refused. A damaged history is
        refused before anything is written.
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

        def work() -> Recorded:
            checked, self._checked, stamp = self._checked, None, self._db.stamp()
            unchanged = stamp is not None and stamp == checked  # since check() passed
            damage = None if unchanged else self._db.damage()
            if damage is not None:
                raise HistoryError(self._damaged(damage))
            return writer.record(self._db, stored, taken_at, source)

        try:
            with self._lock:
                return self._db.write("record a snapshot in", work)
        except CommitFailed as failed:
            return self._settle(failed)
        except (UnicodeEncodeError, UnstorableText):  # rolled back; say which value
            where = unstorable(portfolio, nul=not self._db.stores_nul)
            raise HistoryError(
                f"nothing recorded in {self.location}: {where} holds text that cannot be stored "
                "(a lone surrogate, not valid Unicode; or, in PostgreSQL, a NUL character)"
            ) from None

    def _settle(self, failed: CommitFailed) -> Recorded:
        """COMMIT reported an error: was the snapshot stored? (SQLite reports a checkpoint
        that failed after the commit; a PostgreSQL connection can drop after the server
        committed.) Stored: it is recorded, with a warning. Not: the error. Unknown: say so."""
        summary: Recorded = failed.result
        at = micros(summary.taken_at)
        try:
            with self._lock:
                found = self._db.read("look up", lambda: queries.snapshot_summary(self._db, at))
        except HistoryError as error:
            raise RecordingUncertain(
                f"{failed.error}; whether the snapshot at {summary.taken_at.isoformat()} was "
                f"recorded is not known ({error}); recording it again is safe",
                summary,
            ) from failed
        if found is None or found["connections"] != summary.connections:
            raise failed.error from failed.__cause__
        warning = f"the snapshot is recorded, but committing it reported: {failed.error}"
        warnings.warn(warning, RuntimeWarning, stacklevel=3)
        return replace(summary, warning=warning)

    def snapshots(self) -> pd.DataFrame:
        """One row per snapshot, oldest first: ``taken_at``, connection and company counts,
        the changes since the previous snapshot (``appeared``, ``disappeared``,
        ``status_changed``, ``stalled``) and ``source``."""
        return self._read(lambda: queries.snapshots(self._db))

    def at(self, when: Moment) -> pd.DataFrame:
        """The portfolio as the latest snapshot taken at or before ``when`` saw it.

        Same columns and dtypes as ``list_all()``; ``attrs["server_time"]`` is the snapshot's
        time, so the frame can be analysed (``analysis.stale(df, now=...)``) like a fresh one.
        """
        moment = micros(utc_time(when, "when"))

        def work() -> tuple[tuple[int, int] | None, Any]:
            found = queries.snapshot_at_or_before(self._db, moment)
            if found is None:
                return None, queries.first_taken_at(self._db)
            return found, queries.portfolio_columns(self._db, found[0])

        found, columns = self._read(work)
        if found is None:
            raise ValueError(
                f"no snapshot at or before {queries.timestamp(moment).isoformat()}; "
                + (
                    "the history is empty"
                    if columns is None
                    else f"the first is at {queries.timestamp(columns).isoformat()}"
                )
            )
        frame = portfolio_frame(columns)
        frame.attrs["server_time"] = queries.timestamp(found[1])
        return frame

    def changes(self, since: Moment, until: Moment | None = None) -> pd.DataFrame:
        """What changed after ``since`` (up to ``until``): between consecutive snapshots, and
        as webhook events said.

        One row per change: ``change`` is ``status_changed``, ``appeared``, ``disappeared`` or
        ``stalled`` (Linked in both snapshots, ``last_sync`` did not move), with
        ``from_status``/``to_status``; ``from_at`` and ``to_at`` are the snapshots it happened
        between (NaT: none yet on that side). Where an event shows the change, ``at`` is when
        it happened (the event's ``generatedDate``) and ``event_id`` the event: ``seen_by``
        says ``both`` (a snapshot change and its event are one row), ``snapshot`` or ``event``
        (a step between snapshots, or a change after the latest snapshot: included when
        ``until`` is None or after it). Snapshots win: an event never changes what a snapshot
        says; ``disagreements()`` lists where they differ. Sorted by ``at`` (else ``to_at``),
        change, company name and id.
        """
        start, end = _window(since, until)
        assert start is not None  # not open_since: None was refused

        def work() -> pd.DataFrame:
            last = end if end is not None else queries.latest_taken_at(self._db)
            return event_changes.merge(self._db, changes.changes(self._db, start, last), start, end)

        return self._read(work)

    def disagreements(self, since: Moment, until: Moment | None = None) -> pd.DataFrame:
        """Where a snapshot taken after ``since`` (up to ``until``) contradicts the webhook
        events before it: the connection's status in the snapshot (``snapshot_status``, which
        stands) and in its last event since the snapshot before (``event_status``, with
        ``event_type``, ``event_id``, ``event_at``). Missed events are normal (a receiver down
        longer than Codat retries); so is an event generated while the listing was under way."""
        start, end = _window(since, until)
        assert start is not None  # not open_since: None was refused
        return self._read(lambda: event_changes.disagreements(self._db, start, end))

    def status_over_time(self, by: str | None = None) -> pd.DataFrame:
        """Connections per status (columns) per snapshot (rows, ``taken_at``).

        ``by`` (``platform_name``, ``integration_key`` or ``source_type``) adds it as a second
        index level. Every documented status is a column, even at zero.
        """
        if by is not None and by not in BY_COLUMNS:
            raise ValueError(f"by must be None or one of {', '.join(BY_COLUMNS)}; got {by!r}")
        return self._read(lambda: queries.status_over_time(self._db, by))

    # ----- webhook events (``codat-nb listen``) --------------------------------------------

    def record_events(self, events: Sequence[Event]) -> list[bool]:
        """Store webhook events (``event_log.from_webhook`` makes them) in one transaction;
        for each, whether it was new. An event whose ``webhook-id`` or event id is stored
        already is skipped: Codat delivers at least once. Raises HistoryError (nothing stored)
        when the history cannot be written."""
        batch = list(events)
        if not all(isinstance(e, Event) for e in batch):
            raise TypeError("events must be codat_nb.history.Event objects")
        try:
            with self._lock:
                return self._db.write("record events in", lambda: event_log.store(self._db, batch))
        except CommitFailed as failed:  # stored or not, unknown: the sender's retry settles it
            raise failed.error from failed.__cause__

    def events(
        self,
        since: Moment | None = None,
        until: Moment | None = None,
        *,
        company_id: str | None = None,
        event_type: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Webhook events generated from ``since`` to ``until`` (both included; None: no
        bound), of one company and of one or more event types if asked, oldest first.

        Columns: ``event_id`` (the body's ``id``), ``event_type``, ``generated_at`` (Codat's
        time), ``received_at`` (the receiver's), ``company_id``, ``company_name``,
        ``connection_id``, ``status``, ``platform_name``, ``integration_key``, ``source_type``
        (the connection's, as the event carried it), ``message_id`` (``webhook-id``) and
        ``payload`` (the event's payload, a dict).
        """
        start, end = _window(since, until, open_since=True)
        if company_id is not None and not isinstance(company_id, str):
            raise TypeError(f"company_id must be a string, not {type(company_id).__name__}")
        types = [event_type] if isinstance(event_type, str) else event_type
        if types is not None and (
            not isinstance(types, (list, tuple, set)) or not all(isinstance(t, str) for t in types)
        ):
            raise TypeError(f"event_type must be a string or a list of strings, not {event_type!r}")
        return self._read(
            lambda: event_log.read(self._db, start, end, company_id, None if types is None
                                   else list(types))
        )  # fmt: skip

    def last_event_at(self) -> pd.Timestamp | None:
        """When the latest webhook event was received, or None if none was."""
        found = self._read(lambda: event_log.last_received(self._db))
        return None if found is None else queries.timestamp(found)
