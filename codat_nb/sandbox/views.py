"""What a reader of the store gets: copies of records with fresh one-time link URLs, and pages.

Records are stored with their bare link URLs; with one-time links on, every time one is shown it
carries a fresh OTP (``links.py``), so a row is dressed on the way out, never stored dressed.
Listings are filtered with the query language and ordered once per state version and query
(memoised), so walking a listing page by page costs a slice per page.
"""

from __future__ import annotations

import copy
import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from codat_nb.query import compile_order, compile_query, compile_tags_filter, order_rows
from codat_nb.sandbox.links import OneTimeLinks
from codat_nb.sandbox.records import Records, Row
from codat_nb.wire.schema import COMPANY, CONNECTION, Schema

#: Filtered and ordered listings kept at once (the least recently used is dropped).
QUERY_CACHE_SIZE = 32


@dataclass(frozen=True)
class PageResult:
    results: list[Row]
    total: int


@dataclass(frozen=True)
class PageRequest:
    """Which rows of a listing to serve: Codat's paging, query and order, and at most
    ``served`` of the page's rows (the ``max_page_size`` knob; see ``page_of``)."""

    page: int
    page_size: int
    query: str | None = None
    order_by: str | None = None
    served: int | None = None


class Views:
    """Renders the records for readers; callers hold the records' lock."""

    def __init__(self, records: Records, links: OneTimeLinks):
        self.records, self.links = records, links
        self._listings: OrderedDict[tuple[Any, ...], list[Row]] = OrderedDict()

    def connection(self, row: Row) -> Row:
        """A connection as the API shows it now, as a copy the caller may change."""
        return copy.deepcopy(self._linked(row))

    def company(self, wire: Row) -> Row:
        """A company (its wire form) as the API shows it now, as a copy."""
        return copy.deepcopy(self._linked_company(wire))

    def companies_page(self, asked: PageRequest, tags: str | None) -> PageResult:
        key = ("companies", self.records.version, asked.query, asked.order_by, tags)
        rows = self._listing(
            key,
            self.records.companies_wire,
            asked,
            COMPANY,
            compile_tags_filter(tags) if tags is not None else None,
            arrays=True,  # dataConnections.status=PendingAuth, as Codat's guide shows
            queried=self._company_as_queried,
        )
        return self._linked_page(page_of(rows, asked), self._linked_company)

    def connections_page(self, company_id: str, asked: PageRequest) -> PageResult:
        self.records.details(company_id)  # CompanyNotFound before anything else
        key = ("connections", company_id, self.records.version, asked.query, asked.order_by)
        source = functools.partial(self.records.connections, company_id)
        rows = self._listing(key, source, asked, CONNECTION)
        return self._linked_page(page_of(rows, asked), self._linked)

    def _listing(
        self,
        key: tuple[Any, ...],
        source: Callable[[], list[Row]],
        asked: PageRequest,
        schema: Schema,
        extra: Callable[[Mapping[str, Any]], bool] | None = None,
        arrays: bool = False,
        queried: Callable[[Row], Row] | None = None,
    ) -> list[Row]:
        """Filtered, ordered rows, memoised per state version so walking pages costs a slice;
        ``queried`` gives what the query sees of a row (the row itself by default)."""
        rows = self._listings.get(key)
        if rows is not None:
            self._listings.move_to_end(key)
            return rows
        query, order_by = asked.query, asked.order_by
        predicate = compile_query(query, schema, arrays=arrays) if query is not None else None
        ordering = compile_order(order_by, schema) if order_by is not None else None
        rows = source()
        if extra is not None:
            rows = [row for row in rows if extra(row)]
        if predicate is not None:
            seen = queried or (lambda row: row)
            rows = [row for row in rows if predicate(seen(row))]
        if ordering is not None:
            rows = order_rows(rows, ordering)
        self._listings[key] = rows
        while len(self._listings) > QUERY_CACHE_SIZE:
            self._listings.popitem(last=False)
        return rows

    def _company_as_queried(self, wire: Row) -> Row:
        """A company whose connections were all deleted has, for the query, no
        ``dataConnections`` at all (not an empty list), so no condition on them matches:
        Codat's "companies with no connections" query "will exclude companies that had
        connections but they were deleted" (its querying guide)."""
        if wire["dataConnections"] or not self.records.emptied(wire["id"]):
            return wire
        return {**wire, "dataConnections": None}

    def _linked(self, row: Row) -> Row:
        """``row`` with a fresh one-time link when those are on (else ``row`` itself); rows are
        never changed in place, so sharing the rest is safe for rendering."""
        if not self.links.enabled():
            return row
        return {**row, "linkUrl": self.links.connection_url(row["linkUrl"])}

    def _linked_company(self, wire: Row) -> Row:
        if not self.links.enabled():
            return wire
        return {
            **wire,
            "redirect": self.links.company_url(wire["redirect"]),
            "dataConnections": [self._linked(row) for row in wire["dataConnections"]],
        }

    def _linked_page(self, result: PageResult, linked: Callable[[Row], Row]) -> PageResult:
        if not self.links.enabled():
            return result  # cached rows as they are: the cheap path for large pages
        return PageResult([linked(row) for row in result.results], result.total)


def page_of(rows: list[Row], asked: PageRequest) -> PageResult:
    """Page ``page`` of ``page_size`` rows. ``served`` (the ``max_page_size`` knob) serves at
    most that many of them, as Codat's PagingInfo maximum of 2,000 would: the page starts where
    ``page_size`` says and the rest of it is never sent."""
    start = (asked.page - 1) * asked.page_size
    count = asked.page_size if asked.served is None else min(asked.page_size, asked.served)
    return PageResult(rows[start : start + count], len(rows))
