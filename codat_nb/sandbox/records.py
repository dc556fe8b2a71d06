"""The sandbox's records, and the one place they change.

Companies and their connections are kept as the exact wire dicts Codat would send, never changed
in place (a change replaces the dict), so readers can hold rows without copying. Five methods
change them: ``add_company``, ``put_company``, ``remove_company``, ``put_connection``,
``remove_connection``;
each applies the change, moves the state version (the page caches' key), forgets the company's
cached wire form and publishes a ``Change`` (``changes.py``) through ``_changed``. Nothing else
writes, so a listener hears of every change, whatever caused it. One re-entrant lock makes every
operation atomic under the threaded server.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from codat_nb.sandbox.changes import Change, ChangeFeed, ChangeKind
from codat_nb.sandbox.rules import CompanyNotFound, ConnectionNotFound
from codat_nb.sandbox.shapes import LINKED, in_wire_order
from codat_nb.wire.dates import as_instant
from codat_nb.wire.schema import COMPANY

Row = dict[str, Any]


@dataclass
class _Company:
    details: Row  # the wire dict without dataConnections (lastSync: derived if synced)
    connections: OrderedDict[str, Row] = field(default_factory=OrderedDict)
    wire_cache: Row | None = None
    had_connections: bool = False  # once true, stays true: Codat's queries remember deletions


class Records:
    """The companies and connections of one sandbox, in the order they were added."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.feed = ChangeFeed()
        self.version = 0  # moves on every change
        self._companies: OrderedDict[str, _Company] = OrderedDict()
        self._linked = (-1, 0)  # (version, companies with a Linked connection)

    # ----- reading (callers hold ``lock`` for a consistent view) --------------------------
    def company_ids(self) -> list[str]:
        with self.lock:
            return list(self._companies)

    def company_count(self) -> int:
        return len(self._companies)

    def details(self, company_id: str) -> Row:
        """The company's stored details (without ``dataConnections``); CompanyNotFound."""
        return self._company(company_id).details

    def connection(self, company_id: str, connection_id: str) -> Row:
        """The stored row; CompanyNotFound or ConnectionNotFound."""
        row = self._company(company_id).connections.get(connection_id)
        if row is None:
            raise ConnectionNotFound(connection_id)
        return row

    def connections(self, company_id: str) -> list[Row]:
        """A company's stored rows in server order; CompanyNotFound."""
        return list(self._company(company_id).connections.values())

    def company_wire(self, company_id: str) -> Row:
        """The company as the API sends it (its ``dataConnections`` embedded, ``lastSync`` the
        latest of theirs), built once per change of the company."""
        return _wire(self._company(company_id))

    def companies_wire(self) -> list[Row]:
        return [_wire(company) for company in self._companies.values()]

    def emptied(self, company_id: str) -> bool:
        """True when the company had connections and every one of them was deleted (Codat's
        "companies with no connections" query leaves such companies out)."""
        company = self._company(company_id)
        return company.had_connections and not company.connections

    def linked_companies(self) -> int:
        """Companies with a Linked connection (counted once per state version)."""
        with self.lock:
            if self._linked[0] != self.version:
                linked = sum(
                    any(row["status"] == LINKED for row in company.connections.values())
                    for company in self._companies.values()
                )
                self._linked = (self.version, linked)
            return self._linked[1]

    def state(self) -> list[tuple[Row, list[Row]]]:
        """Every record, as (company details, its connection rows)."""
        with self.lock:
            return [(c.details, list(c.connections.values())) for c in self._companies.values()]

    # ----- the one place records change ----------------------------------------------------
    def add_company(self, details: Row, at: datetime) -> None:
        with self.lock:
            company = _Company(details)
            self._companies[details["id"]] = company
            self._changed(ChangeKind.COMPANY_CREATED, company, at)

    def put_company(self, details: Row, at: datetime) -> None:
        """Store ``details`` in place of the company's (same id, its connections kept)."""
        with self.lock:
            company = self._company(details["id"])
            company.details = details
            self._changed(ChangeKind.COMPANY_CHANGED, company, at)

    def remove_company(self, company_id: str, at: datetime) -> None:
        """Delete the company and its connections (each published first, then the company)."""
        with self.lock:
            company = self._company(company_id)
            for connection_id in list(company.connections):
                self.remove_connection(company_id, connection_id, at)
            del self._companies[company_id]
            self._changed(ChangeKind.COMPANY_DELETED, company, at)

    def put_connection(self, company_id: str, row: Row, at: datetime) -> Row:
        """Store ``row`` (in wire order) as a new connection, or in place of the one with its
        id; returns the stored row."""
        with self.lock:
            company = self._company(company_id)
            stored = in_wire_order(row)
            previous = company.connections.get(stored["id"])
            company.connections[stored["id"]] = stored
            company.had_connections = True
            if previous is None:
                self._changed(ChangeKind.CONNECTION_CREATED, company, at, stored)
            else:
                self._changed(ChangeKind.CONNECTION_CHANGED, company, at, stored, previous)
            return stored

    def remove_connection(self, company_id: str, connection_id: str, at: datetime) -> None:
        with self.lock:
            row = self.connection(company_id, connection_id)
            company = self._companies[company_id]
            del company.connections[connection_id]
            self._changed(ChangeKind.CONNECTION_DELETED, company, at, row)

    def load(self, companies: Iterable[tuple[Mapping[str, Any], list[Row]]], at: datetime) -> None:
        """Add ready-made (company details, connection rows) pairs, each record a change."""
        with self.lock:
            for details, rows in companies:
                self.add_company(dict(details), at)
                for row in rows:
                    self.put_connection(details["id"], row, at)

    def _changed(
        self,
        kind: ChangeKind,
        company: _Company,
        at: datetime,
        connection: Row | None = None,
        previous: Row | None = None,
    ) -> None:
        """What every change does once applied: the version moves, the company's wire form is
        rebuilt when next asked for, and the listeners hear of it."""
        self.version += 1
        company.wire_cache = None
        if self.feed.heard:
            self.feed.publish(Change(kind, at, company.details, connection, previous))

    def _company(self, company_id: str) -> _Company:
        company = self._companies.get(company_id)
        if company is None:
            raise CompanyNotFound(company_id)
        return company


def _wire(company: _Company) -> Row:
    if company.wire_cache is None:
        wire = dict(company.details)
        syncs = [c["lastSync"] for c in company.connections.values() if c.get("lastSync")]
        if syncs:
            wire["lastSync"] = max(syncs, key=_instant)
        wire["dataConnections"] = list(company.connections.values())
        company.wire_cache = {k: wire[k] for k in COMPANY.wire_names if k in wire} | wire
    return company.wire_cache


def _instant(text: str) -> datetime:
    """A stored timestamp as an instant, for ordering (stored ones always parse)."""
    instant = as_instant(text)
    if instant is None:
        raise ValueError(f"not a Codat timestamp: {text!r}")
    return instant
