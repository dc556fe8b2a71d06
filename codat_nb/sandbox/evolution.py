"""Time travel: what ``sb.advance(days=7)`` makes of a portfolio, as a real one changes.

Over the window, at times spread through it: healthy Linked connections (synced within the two
days before) sync, so their ``lastSync`` moves; a few of them lose access (Deauthorized, with
an Active ``dataConnectionErrors`` entry); some PendingAuth connections get linked by their
customers; a few companies and connections are created, and a few deleted (stale Unlinked and
Deauthorized duplicates, mostly). Stale Linked connections stay stale: their sync is broken.
Rates are per day and per record, so an empty sandbox stays empty and a week changes a few
percent of a book. Every draw comes from a generator seeded with the sandbox's seed and the
window, and events apply in time order through the store's own operations (ids from its
seeded generator, stamps from the clock set to each event's time), so the same seed and the
same calls give the same bytes.
"""

from __future__ import annotations

import functools
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from codat_nb.sandbox.rules import CompanyNotFound, ConnectionNotFound, RuleViolation
from codat_nb.sandbox.seed import (
    ACCOUNTING,
    ACCOUNTING_SHARES,
    ERRORS,
    NAME_HEADS,
    NAME_SUFFIXES,
    NAME_TRADES,
    OTHERS,
)
from codat_nb.sandbox.shapes import DEAUTHORIZED, LINKED, PENDING, UNLINKED
from codat_nb.sandbox.store import Store
from codat_nb.wire.dates import as_instant

#: Chances per record and per day.
LOSES_ACCESS = 0.004  # a healthy Linked connection is deauthorized
GETS_LINKED = 0.03  # a PendingAuth connection's customer finishes the flow
NEW_COMPANY = 0.003  # per existing company: one more company signs up
COMPANY_LEAVES = 0.0005  # a company is deleted
NEW_CONNECTION = 0.002  # a company adds a connection (PendingAuth)
CLEANED_UP = 0.002  # an Unlinked or Deauthorized connection is deleted
#: A Linked connection that synced within this long before the window is healthy.
HEALTHY_WITHIN = timedelta(days=2)


@dataclass(frozen=True)
class Changes:
    """What one ``advance`` changed, by kind of event."""

    start: datetime
    end: datetime
    counts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        happened = ", ".join(f"{n} {kind}" for kind, n in self.counts.items() if n) or "nothing"
        return f"{self.start:%Y-%m-%d %H:%M} -> {self.end:%Y-%m-%d %H:%M} UTC: {happened}"


def advance(store: Store, seed: str, window: timedelta) -> Changes:
    """Move the store's clock on by ``window`` and apply what happened meanwhile."""
    with store.locked():
        start = store.clock.now()
        end = start + window
        rng = random.Random(f"advance:{seed}:{start.isoformat()}:{end.isoformat()}")
        events = _Plan(store, rng, start, window).events()
        done: Counter[str] = Counter()
        for when, _, kind, apply in sorted(events, key=lambda e: (e[0], e[1])):
            store.clock.set(when)
            try:
                apply()
            except (CompanyNotFound, ConnectionNotFound, RuleViolation):
                continue  # an earlier event removed it or changed its status
            done[kind] += 1
        store.clock.set(end)
    kinds = ("synced", "lost access", "linked", "companies created", "companies deleted",
             "connections created", "connections deleted")  # fmt: skip
    return Changes(start, end, {kind: done[kind] for kind in kinds})


Event = tuple[datetime, int, str, Callable[[], Any]]


class _Plan:
    """Draws the window's events from the state at its start."""

    def __init__(self, store: Store, rng: random.Random, start: datetime, window: timedelta):
        self.store, self.rng, self.start, self.window = store, rng, start, window
        self.days = window.total_seconds() / 86_400
        self.planned: list[Event] = []

    def chance(self, per_day: float) -> bool:
        """Whether a per-day chance happens at least once in the window."""
        return self.rng.random() < 1 - math.pow(1 - per_day, self.days)

    def at(self, low: float = 0.0) -> datetime:
        """A whole second in the window, at or after the fraction ``low`` of it."""
        seconds = int(self.window.total_seconds() * (low + (1 - low) * self.rng.random()))
        return self.start + timedelta(seconds=seconds)

    def plan(self, when: datetime, kind: str, apply: Callable[[], Any]) -> None:
        self.planned.append((when, len(self.planned), kind, apply))

    def events(self) -> list[Event]:
        if self.days <= 0:
            return []
        store = self.store
        for company_id in store.company_ids():
            rows = store.connections_wire(company_id)
            for row in rows:
                self.connection(company_id, row)
            if self.chance(NEW_CONNECTION):
                key = self.platform()
                create = functools.partial(store.create_connection, company_id, key)
                self.plan(self.at(), "connections created", create)
            if self.chance(COMPANY_LEAVES):
                delete = functools.partial(store.delete_company, company_id)
                self.plan(self.at(), "companies deleted", delete)
            if self.chance(NEW_COMPANY):
                self.plan(self.at(), "companies created", self.new_company(self.company_name()))
        return self.planned

    def connection(self, company_id: str, row: dict[str, Any]) -> None:
        store, status, connection_id = self.store, row["status"], row["id"]
        if status == LINKED and self.healthy(row):
            # The partner expense side is Codat's own: only platforms revoke access.
            if row["sourceType"] != "Expense" and self.chance(LOSES_ACCESS):
                code, text, message = self.rng.choice(ERRORS)

                def revoke() -> Any:
                    return store.deauthorize(company_id, connection_id, message, code, text)

                self.plan(self.at(), "lost access", revoke)
                return
            when = self.at(low=max(0.0, 1 - 1 / self.days))  # within the window's last day
            self.plan(when, "synced", lambda: store.sync(company_id, connection_id))
        elif status == PENDING and self.chance(GETS_LINKED):
            self.plan(self.at(), "linked", lambda: store.link(company_id, connection_id))
        elif status in (UNLINKED, DEAUTHORIZED) and self.chance(CLEANED_UP):
            self.plan(self.at(), "connections deleted",
                      lambda: store.delete_connection(company_id, connection_id))  # fmt: skip

    def healthy(self, row: dict[str, Any]) -> bool:
        last = as_instant(row["lastSync"]) if row.get("lastSync") else None
        active = any(e.get("status") == "Active" for e in row.get("dataConnectionErrors") or [])
        return last is not None and self.start - last <= HEALTHY_WITHIN and not active

    def platform(self) -> str:
        if self.rng.random() < 0.6:
            return self.rng.choices(ACCOUNTING, weights=ACCOUNTING_SHARES)[0].key
        return self.rng.choice(OTHERS).key

    def company_name(self) -> str:
        rng = self.rng
        return f"{rng.choice(NAME_HEADS)} {rng.choice(NAME_TRADES)} {rng.choice(NAME_SUFFIXES)}"

    def new_company(self, name: str) -> Callable[[], Any]:
        """A sign-up: the company, and usually the accounting connection it was asked for."""
        store, key = self.store, self.rng.choices(ACCOUNTING, weights=ACCOUNTING_SHARES)[0].key
        with_connection = self.rng.random() < 0.7

        def create() -> None:
            company = store.create_company(name.strip())
            if with_connection:
                store.create_connection(company["id"], key)

        return create
