"""Companies: enough to explore a portfolio and to create or remove test companies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd

from codat_nb import paging
from codat_nb.arguments import ListingArgs, check_id, check_idempotency_key, check_text
from codat_nb.frames import companies_frame, portfolio_frame
from codat_nb.listing import (
    Listings,
    PageCache,
    Source,
    Tally,
    cost,
    keep_matching,
    matching_models,
)
from codat_nb.wire.models import Company, parse_model
from codat_nb.wire.rows import check_rows
from codat_nb.wire.schema import COMPANY

if TYPE_CHECKING:
    from codat_nb.transport import Transport


class CompaniesAPI:
    """``client.companies``: list, get, create and delete companies."""

    def __init__(self, transport: Transport, listings: Listings, max_concurrency: int) -> None:
        self._transport = transport
        self._listings = listings
        self._max_concurrency = max_concurrency

    def __repr__(self) -> str:
        return f"<CompaniesAPI of {self._transport.base_url}>"

    def source(self, cache: PageCache, tally: Tally | None = None) -> Source:
        """The companies listing as pages (for ``paging``)."""
        return self._transport.pages("/companies", "companies", cache, tally)

    def args(self, **options: Any) -> ListingArgs:
        """Listing arguments for companies, checked (``query`` may look into
        ``dataConnections``, as Codat documents for this endpoint)."""
        return ListingArgs.check(
            schema=COMPANY, arrays=True, max_concurrency=self._max_concurrency, **options
        )

    def collect(
        self,
        args: ListingArgs,
        cache: PageCache,
        tally: Tally,
        *,
        connections: bool = True,
        build: Callable[[list[dict[str, Any]]], Any] = list,
    ) -> Any:
        """``build(companies)``: every company (as wire dicts) the arguments select, complete and
        consistent, through the gate (``wire.rows``) before the filter; built while the page
        boundaries are checked. ``connections=False`` leaves the embedded connections' own check
        to ``build`` (the portfolio checks them in one pass)."""
        source = self.source(cache, tally)
        shallow = frozenset() if connections else frozenset({"dataConnections"})
        gate = partial(check_rows, COMPANY, what=source.what, shallow=shallow)

        def matching(rows: list[dict[str, Any]]) -> Any:
            keep = keep_matching(
                rows, args.query, COMPANY, source.what, arrays=True, limit=args.limit
            )
            return build([row for row, kept in zip(rows, keep, strict=True) if kept])

        return paging.collect(source, args, prepare=gate, build=matching)

    def list(
        self,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
        limit: int | None = None,
        concurrency: int | None = None,
        progress: bool | None = None,
        check_quota: bool = True,
        with_connections: bool = False,
    ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
        """Every company as a DataFrame of ``COMPANY_COLUMNS``. ``with_connections=True`` also
        returns, from the same requests, the connections each company carries: a pair
        ``(companies, connections)``, the second shaped like ``connections.list_all()``."""
        if not isinstance(with_connections, bool):
            raise TypeError("with_connections must be True or False")
        args = self.args(
            query=query,
            order_by=order_by,
            page_size=page_size,
            limit=limit,
            concurrency=concurrency,
            progress=progress,
            check_quota=check_quota,
        )

        def call(cache: PageCache, tally: Tally) -> Any:
            rows = self.collect(args, cache, tally)
            frame = companies_frame(rows, "companies", checked=True)
            stats = cost(tally, cache, self._transport.last_date())
            frame.attrs.update(stats)
            if not with_connections:
                return frame
            parts = [(c["id"], c.get("name"), c.get("dataConnections") or []) for c in rows]
            connections = portfolio_frame(parts, "connections of the companies", checked=True)
            connections.attrs.update(stats)
            return frame, connections

        return self._listings.run("companies.list()", call)

    def iter(
        self,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
        limit: int | None = None,
    ) -> Iterator[Company]:
        """Companies as models, fetched lazily one page at a time (arguments checked now)."""
        args = self.args(query=query, order_by=order_by, page_size=page_size, limit=limit)
        source = self.source(PageCache())
        return matching_models(Company, paging.iterate(source, args), args, source.what)

    def get(self, company_id: str) -> Company:
        path = f"/companies/{check_id('company_id', company_id)}"
        return parse_model(Company, self._transport.request("GET", path), f"GET {path}")

    def create(
        self, name: str, description: str | None = None, *, idempotency_key: str | None = None
    ) -> Company:
        """A new company; safe to retry (the call carries an ``Idempotency-Key``)."""
        body: dict[str, Any] = {"name": check_text("name", name)}
        description = check_text("description", description, optional=True)
        if description is not None:
            body["description"] = description
        answer = self._transport.request(
            "POST",
            "/companies",
            json_body=body,
            idempotency_key=check_idempotency_key(idempotency_key),
        )
        return parse_model(Company, answer, "POST /companies")

    def delete(self, company_id: str) -> None:
        """Delete a company and all its connections (irreversible). Read first, as
        ``connections.delete`` does, so a retried DELETE never reports an unknown id deleted."""
        path = f"/companies/{check_id('company_id', company_id)}"
        deadline = self._transport.call_deadline()  # one for the read and the delete
        self._transport.request("GET", path, deadline=deadline)
        self._transport.request("DELETE", path, deadline=deadline)
