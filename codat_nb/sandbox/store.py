"""The sandbox's operations and rules: companies, connections, the status machine and ids.

Nothing here knows about HTTP (the moto split): the app parses requests, calls these methods and
renders what they return. The records live in ``records.py``, which is the only code that
changes them and tells the listeners (``subscribe``); how they are shown is ``views.py``; what
is refused is ``rules.py``; how a new record looks is ``shapes.py``. Each operation runs under
the records' re-entrant lock, so it is atomic under the threaded server.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from codat_nb.platforms import PARTNER_EXPENSE_KEY, PLATFORMS, Platform
from codat_nb.sandbox import rules
from codat_nb.sandbox.changes import Listener
from codat_nb.sandbox.clock import Clock
from codat_nb.sandbox.links import OneTimeLinks, company_path, connection_path
from codat_nb.sandbox.records import Records, Row
from codat_nb.sandbox.rules import CompanyLimitReached, RuleViolation
from codat_nb.sandbox.shapes import (
    DEAUTHORIZED,
    LINKED,
    PENDING,
    UNLINKED,
    access_error,
    company_details,
    connection_wire,
    new_uuid,
    resolved,
    stamp,
)
from codat_nb.sandbox.views import PageRequest, PageResult, Views


class Store:
    """Thread-safe state of one sandbox. Python-side helpers return copies of wire dicts."""

    def __init__(self, base_url: str, clock: Clock, id_seed: str, links: OneTimeLinks):
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.links = links
        self._rng = random.Random(f"ids:{id_seed}")
        self._records = Records()
        self._lock = self._records.lock
        self._views = Views(self._records, links)
        self._requests = 0
        self._restricted: set[str] = set()
        self.account_expired = False

    # ----- bookkeeping -------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        """API requests handled so far (every status, faults included; link pages excluded)."""
        with self._lock:
            return self._requests

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with a ``Change`` for every record created, changed or deleted
        from now on, whatever causes it (``changes.py`` says what a listener may do); returns
        the call that unsubscribes it."""
        return self._records.feed.subscribe(listener)

    def locked(self) -> threading.RLock:
        """The store's lock, to make several operations one atomic change (``with``)."""
        return self._lock

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a request could change, in comparable form (for "changed nothing" tests)."""
        with self._lock:
            return (
                self.clock.now(),
                self._rng.getstate(),
                json.dumps(self._records.state(), sort_keys=True),
                self.links.redeemed(),
            )

    # ----- the account: what this key may do ---------------------------------------------
    def expire_account(self) -> None:
        """The account expires: every API request answers 402 Payment Required from now on."""
        self.account_expired = True

    def restrict(self, company_id: str) -> None:
        """This key loses access to one company: every request for it answers 403."""
        with self._lock:
            self._records.details(company_id)
            self._restricted.add(company_id)

    def is_restricted(self, company_id: str) -> bool:
        with self._lock:
            return company_id in self._restricted

    def active_connected_companies(self) -> int:
        """Companies with a Linked connection: what Codat's daily quota formula counts."""
        return self._records.linked_companies()

    # ----- link URLs ---------------------------------------------------------------------
    def link_url(self, company_id: str, connection_id: str) -> str:
        """A connection's stored link URL: Codat's shape, on the sandbox's host."""
        return self.base_url + connection_path(company_id, connection_id)

    def company_redirect(self, company_id: str) -> str:
        """A company's stored ``redirect``: Codat's company link shape, on the sandbox's host."""
        return self.base_url + company_path(company_id)

    # ----- companies ---------------------------------------------------------------------
    def company_ids(self) -> list[str]:
        return self._records.company_ids()

    def list_companies_wire(self) -> list[Row]:
        with self._lock:
            return [self._views.company(wire) for wire in self._records.companies_wire()]

    def get_company_wire(self, company_id: str) -> Row:
        with self._lock:
            return self._views.company(self._records.company_wire(company_id))

    def create_company(
        self,
        name: object,
        description: object = None,
        tags: object = None,
        limit: int | None = None,
    ) -> Row:
        """A new company; CompanyLimitReached if the account already holds ``limit``.

        As Codat documents, characters the ``name`` pattern forbids are removed, not refused.
        """
        kept_name = rules.company_name(name)
        kept_description = rules.company_description(description)
        kept_tags = rules.company_tags(tags)
        with self._lock:
            if limit is not None and self._records.company_count() >= limit:
                raise CompanyLimitReached()
            company_id = new_uuid(self._rng)
            at = self.clock.tick()
            details = company_details(
                company_id=company_id,
                name=kept_name,
                description=kept_description,
                redirect=self.company_redirect(company_id),
                created=stamp(at),
                tags=kept_tags,
            )
            self._records.add_company(details, at)
            return self.get_company_wire(company_id)

    def delete_company(self, company_id: str) -> None:
        """Delete a company and its connections (the clock does not move)."""
        self._records.remove_company(company_id, self.clock.now())

    def page_companies(
        self,
        page: int,
        page_size: int,
        query: str | None,
        order_by: str | None,
        tags: str | None,
        served: int | None = None,
    ) -> PageResult:
        """One page of companies; ``served`` caps the rows of the page (``views.page_of``)."""
        asked = PageRequest(page, page_size, query, order_by, served)
        with self._lock:
            return self._views.companies_page(asked, tags)

    # ----- connections -------------------------------------------------------------------
    def connections_wire(self, company_id: str) -> list[Row]:
        """All of a company's connections in server order; KeyError if there is no such company."""
        with self._lock:
            return [self._views.connection(row) for row in self._records.connections(company_id)]

    def get_connection_wire(self, company_id: str, connection_id: str) -> Row:
        with self._lock:
            return self._views.connection(self._records.connection(company_id, connection_id))

    def page_connections(
        self,
        company_id: str,
        page: int,
        page_size: int,
        query: str | None,
        order_by: str | None,
        served: int | None = None,
    ) -> PageResult:
        """One page of a company's connections; ``served`` caps its rows (``views.page_of``)."""
        asked = PageRequest(page, page_size, query, order_by, served)
        with self._lock:
            return self._views.connections_page(company_id, asked)

    def create_connection(self, company_id: str, platform_key: object) -> Row:
        """A new connection awaiting the customer's authorization (PendingAuth, with a linkUrl)."""
        platform = rules.platform(platform_key)
        if platform.key == PARTNER_EXPENSE_KEY:
            raise RuleViolation(
                "platformKey",
                "partner expense connections are created with POST "
                "/companies/{companyId}/sync/expenses/connections/partnerExpense",
                "KnownPlatform",
            )
        return self._add_connection(company_id, platform, PENDING)

    def create_partner_expense_connection(self, company_id: str) -> Row:
        """The expense-side connection: Linked at once, sourceType Expense, key dfxm."""
        return self._add_connection(company_id, PLATFORMS[PARTNER_EXPENSE_KEY], LINKED)

    def _add_connection(self, company_id: str, platform: Platform, status: str) -> Row:
        with self._lock:
            self._records.details(company_id)  # no id is drawn for a company that is not there
            connection_id = new_uuid(self._rng)
            source_id = new_uuid(self._rng)
            at = self.clock.tick()
            row = connection_wire(
                connection_id=connection_id,
                platform=platform,
                source_id=source_id,
                link_url=self.link_url(company_id, connection_id),
                status=status,
                created=stamp(at),
            )
            return self._views.connection(self._records.put_connection(company_id, row, at))

    def unlink(self, company_id: str, connection_id: str) -> Row:
        """Linked -> Unlinked (data kept). Unlinked stays Unlinked; other statuses are refused."""
        with self._lock:
            row = self._records.connection(company_id, connection_id)
            if row["status"] == UNLINKED:
                return self._views.connection(row)
            rules.require_linked(row, "can be unlinked")
            return self._change(company_id, row, self.clock.tick(), {"status": UNLINKED})

    def link(self, company_id: str, connection_id: str) -> Row:
        """What the customer finishing the flow at linkUrl does: Linked, lastSync now, Active
        errors Resolved."""
        with self._lock:
            row = self._records.connection(company_id, connection_id)
            if row["status"] == LINKED:
                return self._views.connection(row)
            at = self.clock.tick()
            changes: dict[str, Any] = {"status": LINKED, "lastSync": stamp(at)}
            if row.get("dataConnectionErrors"):
                changes["dataConnectionErrors"] = resolved(row["dataConnectionErrors"], stamp(at))
            return self._change(company_id, row, at, changes)

    def sync(self, company_id: str, connection_id: str) -> Row:
        """A Linked connection syncs: its lastSync becomes now (RuleViolation otherwise)."""
        with self._lock:
            row = self._records.connection(company_id, connection_id)
            rules.require_linked(row, "syncs")
            at = self.clock.tick()
            return self._change(company_id, row, at, {"lastSync": stamp(at)})

    def deauthorize(
        self,
        company_id: str,
        connection_id: str,
        message: str = "The platform revoked access: the refresh token has expired.",
        status_code: str = "401",
        status_text: str = "Unauthorized",
    ) -> Row:
        """Simulate the platform revoking access: Deauthorized plus an Active error entry.

        Only a Linked connection has access to revoke; anything else raises RuleViolation,
        so a test cannot build a status history Codat would never show.
        """
        with self._lock:
            row = self._records.connection(company_id, connection_id)
            rules.require_linked(row, "can be deauthorized")
            error = (status_code, status_text, message)
            return self._add_error(company_id, row, error, {"status": DEAUTHORIZED})

    def fail_link(
        self,
        company_id: str,
        connection_id: str,
        message: str = "User cancelled",
        status_code: str = "403",
        status_text: str = "User cancelled linking",
    ) -> Row:
        """Simulate the customer's link flow failing (cancelled, or refused by the platform):
        the status stays, an Active error entry says why (Codat's ``connection.failed``
        example). A Linked connection has no flow to fail: RuleViolation."""
        with self._lock:
            row = self._records.connection(company_id, connection_id)
            if row["status"] == LINKED:
                raise RuleViolation("status", "is Linked: there is no link flow to fail", "Linked")
            return self._add_error(company_id, row, (status_code, status_text, message), {})

    def _add_error(
        self, company_id: str, row: Row, error: tuple[str, str, str], changes: Row
    ) -> Row:
        """Store ``row`` with ``changes`` and one more Active error entry, written now."""
        at = self.clock.tick()
        entry = access_error(*error, stamp(at))
        errors = [*(row.get("dataConnectionErrors") or []), entry]
        return self._change(company_id, row, at, {**changes, "dataConnectionErrors": errors})

    def _change(self, company_id: str, row: Row, at: datetime, changes: Row) -> Row:
        """Store ``row`` with ``changes``, written at ``at``; the row as shown."""
        stored = self._records.put_connection(company_id, {**row, **changes}, at)
        return self._views.connection(stored)

    def delete_connection(self, company_id: str, connection_id: str) -> None:
        with self._lock:
            self._records.connection(company_id, connection_id)  # the clock moves only if found
            self._records.remove_connection(company_id, connection_id, self.clock.tick())

    # ----- bulk loading (seed, scale) ----------------------------------------------------
    def ingest(self, companies: Iterable[tuple[Mapping[str, Any], list[Row]]]) -> None:
        """Add ready-made (company details, connection rows) pairs without moving the clock."""
        self._records.load(companies, self.clock.now())

    def load_connections(self, company_id: str, rows: Iterable[Row]) -> None:
        """Add ready-made connection rows to a company without moving the clock."""
        with self._lock:
            at = self.clock.now()
            for row in rows:
                self._records.put_connection(company_id, row, at)
