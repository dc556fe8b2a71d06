"""The sandbox's state and rules: companies, connections, the status machine and ids.

Nothing here knows about HTTP (the moto split): the app parses requests, calls these methods and
renders what they return. Every record is kept as the exact wire dict Codat would send and is
never mutated in place (a change replaces the dict), so readers can hold rows without copying.
One re-entrant lock makes every operation atomic under the threaded server.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from codat_nb.platforms import PARTNER_EXPENSE_KEY, PLATFORMS, is_platform_key
from codat_nb.query import compile_order, compile_query, compile_tags_filter, order_rows
from codat_nb.sandbox.clock import Clock
from codat_nb.sandbox.links import OneTimeLinks, company_path, connection_path
from codat_nb.wire.dates import as_instant, format_codat_datetime
from codat_nb.wire.schema import COMPANY, CONNECTION, Schema

#: Codat's ``name`` pattern ``^[A-Za-z0-9\s\-',&@.,?!\s]+$``: ASCII letters and digits, these
#: symbols and .NET's ``\s``, which is Python's ``str.isspace`` without U+001C..U+001F.
COMPANY_NAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-',&@.?!"
)
_NOT_DOTNET_SPACE = frozenset("\x1c\x1d\x1e\x1f")
#: The sandbox's own bounds (Codat documents none): longer is refused rather than stored.
MAX_NAME_LENGTH, MAX_DESCRIPTION_LENGTH = 255, 2_000
UNLINKED, LINKED, PENDING, DEAUTHORIZED = "Unlinked", "Linked", "PendingAuth", "Deauthorized"
_QUERY_CACHE_SIZE = 32


class CompanyNotFound(KeyError):
    def __init__(self, company_id: str):
        super().__init__(company_id)
        self.company_id = company_id

    def __str__(self) -> str:
        return f"No company was found with ID {self.company_id}"


class ConnectionNotFound(KeyError):
    def __init__(self, connection_id: str):
        super().__init__(connection_id)
        self.connection_id = connection_id

    def __str__(self) -> str:
        return f"Data connection {self.connection_id} not found"


class CompanyLimitReached(Exception):
    """Creating a company would take the account over its company limit."""


class RuleViolation(ValueError):
    """A request the rules refuse; names the field, the reason and the validator."""

    def __init__(self, item_id: str, message: str, validator: str):
        super().__init__(f"{item_id}: {message}")
        self.item_id, self.message, self.validator = item_id, message, validator


@dataclass
class _Company:
    details: dict[str, Any]  # the wire dict without dataConnections (lastSync: derived if synced)
    connections: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    wire_cache: dict[str, Any] | None = None


@dataclass(frozen=True)
class PageResult:
    results: list[dict[str, Any]]
    total: int


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def stamp(value: datetime) -> str:
    return format_codat_datetime(value)


class Store:
    """Thread-safe state of one sandbox. Python-side helpers return copies of wire dicts."""

    def __init__(self, base_url: str, clock: Clock, id_seed: str, links: OneTimeLinks):
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.links = links
        self._rng = random.Random(f"ids:{id_seed}")
        self._lock = threading.RLock()
        self._companies: OrderedDict[str, _Company] = OrderedDict()
        self._version = 0
        self._page_cache: OrderedDict[tuple, list[dict[str, Any]]] = OrderedDict()
        self._requests = 0
        self._active = (-1, 0)  # (state version, active connected companies)
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

    # ----- the account: what this key may do ---------------------------------------------
    def expire_account(self) -> None:
        """The account expires: every API request answers 402 Payment Required from now on."""
        self.account_expired = True

    def restrict(self, company_id: str) -> None:
        """This key loses access to one company: every request for it answers 403."""
        with self._lock:
            self._company(company_id)
            self._restricted.add(company_id)

    def is_restricted(self, company_id: str) -> bool:
        with self._lock:
            return company_id in self._restricted

    def active_connected_companies(self) -> int:
        """Companies with a Linked connection: what Codat's daily quota formula counts."""
        with self._lock:
            if self._active[0] != self._version:
                active = sum(
                    any(row["status"] == LINKED for row in company.connections.values())
                    for company in self._companies.values()
                )
                self._active = (self._version, active)
            return self._active[1]

    def locked(self) -> threading.RLock:
        """The store's lock, to make several operations one atomic change (``with``)."""
        return self._lock

    def snapshot(self) -> tuple:
        """Everything a request could change, in comparable form (for "changed nothing" tests)."""
        with self._lock:
            state = [(c.details, list(c.connections.values())) for c in self._companies.values()]
            return (
                self.clock.now(),
                self._rng.getstate(),
                json.dumps(state, sort_keys=True),
                self.links.redeemed(),
            )

    def _changed(self, company: _Company | None = None) -> None:
        self._version += 1
        if company is not None:
            company.wire_cache = None

    def _company(self, company_id: str) -> _Company:
        company = self._companies.get(company_id)
        if company is None:
            raise CompanyNotFound(company_id)
        return company

    def _connection(self, company_id: str, connection_id: str) -> tuple[_Company, dict]:
        company = self._company(company_id)
        row = company.connections.get(connection_id)
        if row is None:
            raise ConnectionNotFound(connection_id)
        return company, row

    def link_url(self, company_id: str, connection_id: str) -> str:
        """A connection's stored link URL: Codat's shape, on the sandbox's host."""
        return self.base_url + connection_path(company_id, connection_id)

    def company_redirect(self, company_id: str) -> str:
        """A company's stored ``redirect``: Codat's company link shape, on the sandbox's host."""
        return self.base_url + company_path(company_id)

    def _show(self, row: dict[str, Any]) -> dict[str, Any]:
        """A connection as the API shows it now, as a copy the caller may change."""
        return copy.deepcopy(self._linked(row))

    def _show_company(self, wire: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(self._linked_company(wire))

    def _linked(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with a fresh one-time link when those are on (else ``row`` itself); rows are
        never changed in place, so sharing the rest is safe for rendering."""
        if not self.links.enabled():
            return row
        return {**row, "linkUrl": self.links.connection_url(row["linkUrl"])}

    def _linked_page(
        self, result: PageResult, linked: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> PageResult:
        if not self.links.enabled():
            return result  # cached rows as they are: the cheap path for large pages
        return PageResult([linked(row) for row in result.results], result.total)

    def _linked_company(self, wire: dict[str, Any]) -> dict[str, Any]:
        if not self.links.enabled():
            return wire
        return {
            **wire,
            "redirect": self.links.company_url(wire["redirect"]),
            "dataConnections": [self._linked(row) for row in wire["dataConnections"]],
        }

    # ----- companies ---------------------------------------------------------------------
    def company_ids(self) -> list[str]:
        with self._lock:
            return list(self._companies)

    def _company_wire(self, company: _Company) -> dict[str, Any]:
        if company.wire_cache is None:
            wire = dict(company.details)
            syncs = [c["lastSync"] for c in company.connections.values() if c.get("lastSync")]
            if syncs:
                wire["lastSync"] = max(syncs, key=as_instant)
            wire["dataConnections"] = list(company.connections.values())
            company.wire_cache = {k: wire[k] for k in COMPANY.wire_names if k in wire} | wire
        return company.wire_cache

    def list_companies_wire(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._show_company(self._company_wire(c)) for c in self._companies.values()]

    def get_company_wire(self, company_id: str) -> dict[str, Any]:
        with self._lock:
            return self._show_company(self._company_wire(self._company(company_id)))

    def create_company(
        self,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """A new company; CompanyLimitReached if the account already holds ``limit``.

        As Codat documents, characters the ``name`` pattern forbids are removed, not refused.
        """
        name = company_name(name)
        _check_company(description, tags)
        with self._lock:
            if limit is not None and len(self._companies) >= limit:
                raise CompanyLimitReached()
            company_id = new_uuid(self._rng)
            details: dict[str, Any] = {"id": company_id, "name": name}
            if description is not None:
                details["description"] = description
            details["redirect"] = self.company_redirect(company_id)
            details["created"] = stamp(self.clock.tick())
            details["products"] = ["expenses"]
            if tags:
                details["tags"] = dict(tags)
            details["ownerUserIds"] = []  # owners are set in Codat's portal, never by the API
            details["referenceSubsidiaryCompanies"] = []
            company = _Company(details)
            self._companies[company_id] = company
            self._changed(company)
            return self._show_company(self._company_wire(company))

    def delete_company(self, company_id: str) -> None:
        with self._lock:
            self._company(company_id)
            del self._companies[company_id]
            self._changed()

    def page_companies(
        self,
        page: int,
        page_size: int,
        query: str | None,
        order_by: str | None,
        tags: str | None,
        served: int | None = None,
    ) -> PageResult:
        """One page of companies; ``served`` caps the rows of the page (see ``_page``)."""
        with self._lock:
            key = ("companies", self._version, query, order_by, tags)
            rows = self._cached(
                key,
                lambda: [self._company_wire(c) for c in self._companies.values()],
                query,
                order_by,
                COMPANY,
                compile_tags_filter(tags) if tags is not None else None,
                arrays=True,  # dataConnections.status=PendingAuth, as Codat's guide shows
            )
            return self._linked_page(_page(rows, page, page_size, served), self._linked_company)

    # ----- connections -------------------------------------------------------------------
    def connections_wire(self, company_id: str) -> list[dict[str, Any]]:
        """All of a company's connections in server order; KeyError if there is no such company."""
        with self._lock:
            return [self._show(row) for row in self._company(company_id).connections.values()]

    def get_connection_wire(self, company_id: str, connection_id: str) -> dict[str, Any]:
        with self._lock:
            return self._show(self._connection(company_id, connection_id)[1])

    def page_connections(
        self,
        company_id: str,
        page: int,
        page_size: int,
        query: str | None,
        order_by: str | None,
        served: int | None = None,
    ) -> PageResult:
        """One page of a company's connections; ``served`` caps its rows (see ``_page``)."""
        with self._lock:
            company = self._company(company_id)
            key = ("connections", company_id, self._version, query, order_by)
            rows = self._cached(
                key,
                lambda: list(company.connections.values()),
                query,
                order_by,
                CONNECTION,
            )
            return self._linked_page(_page(rows, page, page_size, served), self._linked)

    def _cached(
        self,
        key: tuple,
        source: Callable[[], list[dict[str, Any]]],
        query: str | None,
        order_by: str | None,
        schema: Schema,
        extra: Callable[[Mapping[str, Any]], bool] | None = None,
        arrays: bool = False,
    ) -> list[dict[str, Any]]:
        """Filtered, ordered rows, memoised per state version so walking pages costs a slice."""
        rows = self._page_cache.get(key)
        if rows is not None:
            self._page_cache.move_to_end(key)
            return rows
        predicate = compile_query(query, schema, arrays=arrays) if query is not None else None
        ordering = compile_order(order_by, schema) if order_by is not None else None
        rows = source()
        if extra is not None:
            rows = [row for row in rows if extra(row)]
        if predicate is not None:
            rows = [row for row in rows if predicate(row)]
        if ordering is not None:
            rows = order_rows(rows, ordering)
        self._page_cache[key] = rows
        while len(self._page_cache) > _QUERY_CACHE_SIZE:
            self._page_cache.popitem(last=False)
        return rows

    def _platform(self, platform_key: object) -> Any:
        if not is_platform_key(platform_key):
            raise RuleViolation(
                "platformKey",
                f"must be exactly four lowercase letters (e.g. 'gbol'), got {platform_key!r}",
                "PlatformKeyFormat",
            )
        platform = PLATFORMS.get(platform_key)  # type: ignore[arg-type]
        if platform is None:
            raise RuleViolation(
                "platformKey", f"{platform_key!r} is not a known platform key", "KnownPlatform"
            )
        return platform

    def create_connection(self, company_id: str, platform_key: object) -> dict[str, Any]:
        """A new connection awaiting the customer's authorization (PendingAuth, with a linkUrl)."""
        platform = self._platform(platform_key)
        if platform.key == PARTNER_EXPENSE_KEY:
            raise RuleViolation(
                "platformKey",
                "partner expense connections are created with POST "
                "/companies/{companyId}/sync/expenses/connections/partnerExpense",
                "KnownPlatform",
            )
        with self._lock:
            return self._add_connection(company_id, platform, PENDING)

    def create_partner_expense_connection(self, company_id: str) -> dict[str, Any]:
        """The expense-side connection: Linked at once, sourceType Expense, key dfxm."""
        with self._lock:
            return self._add_connection(company_id, PLATFORMS[PARTNER_EXPENSE_KEY], LINKED)

    def _add_connection(self, company_id: str, platform: Any, status: str) -> dict[str, Any]:
        company = self._company(company_id)
        connection_id = new_uuid(self._rng)
        row = connection_wire(
            connection_id=connection_id,
            platform=platform,
            source_id=new_uuid(self._rng),
            link_url=self.link_url(company_id, connection_id),
            status=status,
            created=stamp(self.clock.tick()),
        )
        company.connections[connection_id] = row
        self._changed(company)
        return self._show(row)

    def _replace(self, company: _Company, row: dict[str, Any], **changes: Any) -> dict[str, Any]:
        new = {**row, **changes}
        company.connections[row["id"]] = _in_wire_order(new)
        self._changed(company)
        return company.connections[row["id"]]

    def unlink(self, company_id: str, connection_id: str) -> dict[str, Any]:
        """Linked -> Unlinked (data kept). Unlinked stays Unlinked; other statuses are refused."""
        with self._lock:
            company, row = self._connection(company_id, connection_id)
            if row["status"] == UNLINKED:
                return self._show(row)
            _require_linked(row, "can be unlinked")
            self.clock.tick()
            return self._show(self._replace(company, row, status=UNLINKED))

    def link(self, company_id: str, connection_id: str) -> dict[str, Any]:
        """What the customer finishing the flow at linkUrl does: Linked, lastSync now."""
        with self._lock:
            company, row = self._connection(company_id, connection_id)
            if row["status"] == LINKED:
                return self._show(row)
            now = stamp(self.clock.tick())
            changes: dict[str, Any] = {"status": LINKED, "lastSync": now}
            if row.get("dataConnectionErrors"):
                changes["dataConnectionErrors"] = [
                    {**e, "status": "Resolved", "resolvedOnUtc": now}
                    if e.get("status") == "Active"
                    else e
                    for e in row["dataConnectionErrors"]
                ]
            return self._show(self._replace(company, row, **changes))

    def sync(self, company_id: str, connection_id: str) -> dict[str, Any]:
        """A Linked connection syncs: its lastSync becomes now (RuleViolation otherwise)."""
        with self._lock:
            company, row = self._connection(company_id, connection_id)
            _require_linked(row, "syncs")
            return self._show(self._replace(company, row, lastSync=stamp(self.clock.tick())))

    def deauthorize(
        self,
        company_id: str,
        connection_id: str,
        message: str = "The platform revoked access: the refresh token has expired.",
        status_code: str = "401",
        status_text: str = "Unauthorized",
    ) -> dict[str, Any]:
        """Simulate the platform revoking access: Deauthorized plus an Active error entry.

        Only a Linked connection has access to revoke; anything else raises RuleViolation,
        so a test cannot build a status history Codat would never show.
        """
        with self._lock:
            company, row = self._connection(company_id, connection_id)
            _require_linked(row, "can be deauthorized")
            error = {
                "statusCode": status_code,
                "statusText": status_text,
                "errorMessage": message,
                "erroredOnUtc": stamp(self.clock.tick()),
                "status": "Active",
            }
            errors = [*(row.get("dataConnectionErrors") or []), error]
            return self._show(
                self._replace(company, row, status=DEAUTHORIZED, dataConnectionErrors=errors)
            )

    def delete_connection(self, company_id: str, connection_id: str) -> None:
        with self._lock:
            company, _ = self._connection(company_id, connection_id)
            del company.connections[connection_id]
            self.clock.tick()
            self._changed(company)

    # ----- bulk loading (seed, scale) ----------------------------------------------------
    def ingest(self, companies: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        """Load ready-made (company details, connection rows) pairs without moving the clock."""
        with self._lock:
            for details, rows in companies:
                company = _Company(dict(details))
                company.connections.update((row["id"], _in_wire_order(row)) for row in rows)
                self._companies[details["id"]] = company
            self._changed()


def _require_linked(row: dict[str, Any], action: str) -> None:
    """RuleViolation unless ``row`` is Linked: only a Linked connection ``action``."""
    if row["status"] != LINKED:
        raise RuleViolation(
            "status",
            f"only a Linked connection {action}; this one is {row['status']}",
            "ConnectionStatus",
        )


def _in_wire_order(row: dict[str, Any]) -> dict[str, Any]:
    """The row's fields in the schema's order; an explicit ``null`` is kept (Codat sends both
    a null and a missing optional field)."""
    return {k: row[k] for k in CONNECTION.wire_names if k in row}


@cache
def integration_id(platform_key: str) -> str:
    """Codat's integration id is fixed per platform; derive it so it is stable across seeds."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://api.codat.io/integrations/{platform_key}"))


def connection_wire(
    *,
    connection_id: str,
    platform: Any,
    source_id: str,
    link_url: str,
    status: str,
    created: str,
    last_sync: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Connection as the API sends it for a new row: optional fields left out, not null."""
    row: dict[str, Any] = {
        "id": connection_id,
        "integrationId": integration_id(platform.key),
        "integrationKey": platform.key,
        "sourceId": source_id,
        "platformName": platform.name,
        "linkUrl": link_url,
        "status": status,
        "lastSync": last_sync,
        "created": created,
        "sourceType": platform.source_type,
        "dataConnectionErrors": errors or None,
    }
    return _in_wire_order({k: v for k, v in row.items() if v is not None})


def allowed_in_name(ch: str) -> bool:
    return ch in COMPANY_NAME_CHARS or (ch.isspace() and ch not in _NOT_DOTNET_SPACE)


def company_name(name: object) -> str:
    """The name Codat creates: forbidden characters removed (its example: ``Company
    (Codat[1])`` becomes ``Company Codat1``); RuleViolation when it is not a string, too long,
    or nothing but blanks is left."""
    if not isinstance(name, str):
        raise RuleViolation("name", "a company name (a string) is required", "Required")
    if len(name) > MAX_NAME_LENGTH:
        raise RuleViolation(
            "name", f"at most {MAX_NAME_LENGTH} characters, got {len(name)}", "MaxLength"
        )
    kept = "".join(ch for ch in name if allowed_in_name(ch))
    if not kept.strip():
        raise RuleViolation(
            "name",
            "needs a letter, digit or one of - ' , & @ . ? ! (other characters are removed)",
            "Pattern",
        )
    return kept


def _check_company(description: object, tags: object) -> None:
    if description is not None and not isinstance(description, str):
        raise RuleViolation("description", "must be a string", "Type")
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise RuleViolation(
            "description",
            f"at most {MAX_DESCRIPTION_LENGTH} characters, got {len(description)}",
            "MaxLength",
        )
    if tags is None:
        return
    if not isinstance(tags, dict):
        raise RuleViolation("tags", "must be an object of string values", "Type")
    if len(tags) > 10:
        raise RuleViolation("tags", f"at most 10 tags are allowed, got {len(tags)}", "MaxItems")
    for key, value in tags.items():
        if not 1 <= len(key) <= 27:
            raise RuleViolation(f"tags.{key}", "tag names are 1 to 27 characters", "Length")
        if not isinstance(value, str) or len(value) > 100:
            raise RuleViolation(f"tags.{key}", "tag values are strings of at most 100", "Length")


def _page(
    rows: list[dict[str, Any]], page: int, page_size: int, served: int | None = None
) -> PageResult:
    """Page ``page`` of ``page_size`` rows. ``served`` (the ``max_page_size`` knob) serves at
    most that many of them, as Codat's PagingInfo maximum of 2,000 would: the page starts where
    ``page_size`` says and the rest of it is never sent."""
    start = (page - 1) * page_size
    count = page_size if served is None else min(page_size, served)
    return PageResult(rows[start : start + count], len(rows))
