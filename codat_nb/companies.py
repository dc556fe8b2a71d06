"""Companies: enough to explore a portfolio and to create or remove test companies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias

import pandas as pd

from codat_nb import paging
from codat_nb.api_base import API
from codat_nb.arguments import check_flag, check_id, check_idempotency_key, check_text
from codat_nb.frames import companies_frame, portfolio_frame
from codat_nb.listing import PageCache, Tally, matching_models, record_cost
from codat_nb.sources import collect_companies, company_pages
from codat_nb.wire.models import Company, parse_model
from codat_nb.wire.rows import Row, embedded_connections
from codat_nb.wire.schema import COMPANY

#: ``companies.list()``: the companies, or with ``with_connections`` their connections too.
Listed: TypeAlias = pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]


class CompaniesAPI(API):
    """``client.companies``: list, get, create, update, replace and delete companies."""

    _schema = COMPANY

    def list(
        self,
        query: str | None = None,
        order_by: str | None = None,
        *,
        page_size: int | None = None,
        limit: int | None = None,
        concurrency: int | None = None,
        progress: bool | None = None,
        check_quota: bool = True,
        with_connections: bool = False,
        consistency: str = "checked",
    ) -> Listed:
        """Every company as a DataFrame of ``COMPANY_COLUMNS``. ``with_connections=True`` also
        returns, from the same requests, the connections each company carries: a pair
        ``(companies, connections)``, the second shaped like ``connections.list_all()``.
        ``consistency="verified"``: see ``connections.list``."""
        with_connections = check_flag("with_connections", with_connections)
        walking = (concurrency, progress, check_quota, consistency)
        args = self._args(query, order_by, page_size, limit, *walking)

        def call(cache: PageCache, tally: Tally) -> Listed:
            rows: list[Row] = collect_companies(self._transport, args, cache, tally, build=list)
            frame = companies_frame(rows, "companies", checked=True)
            if not with_connections:
                record_cost(tally, cache, self._transport.last_date(), frame)
                return frame
            parts = [(c["id"], c.get("name"), embedded_connections(c)) for c in rows]
            connections = portfolio_frame(parts, "connections of the companies", checked=True)
            record_cost(tally, cache, self._transport.last_date(), frame, connections)
            return frame, connections

        return self._listings.run("companies.list()", call)

    def iter(
        self,
        query: str | None = None,
        order_by: str | None = None,
        *,
        page_size: int | None = None,
        limit: int | None = None,
    ) -> Iterator[Company]:
        """Companies as models, fetched lazily one page at a time (arguments checked now)."""
        args = self._args(query, order_by, page_size, limit)
        source = company_pages(self._transport, PageCache())
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

    def update(
        self,
        company_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Company:
        """Change what is given of a company's name, description and tags (Codat's update
        company, a PATCH: the rest is kept; ``tags={}`` removes them all); safe to retry."""
        body = _company_body(name, description, tags, optional_name=True)
        if not body:
            raise ValueError("update() needs at least one of name, description or tags")
        path = f"/companies/{check_id('company_id', company_id)}"
        answer = self._transport.request(
            "PATCH", path, json_body=body, idempotency_key=check_idempotency_key(idempotency_key)
        )
        return parse_model(Company, answer, f"PATCH {path}")

    def replace(
        self,
        company_id: str,
        name: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> Company:
        """Replace a company's name, description and tags (Codat's replace company, a PUT):
        a description or tags not given are cleared."""
        body = _company_body(name, description, tags, optional_name=False)
        path = f"/companies/{check_id('company_id', company_id)}"
        answer = self._transport.request("PUT", path, json_body=body)
        return parse_model(Company, answer, f"PUT {path}")

    def delete(self, company_id: str) -> None:
        """Delete a company and all its connections (irreversible). Read first, as
        ``connections.delete`` does, so a retried DELETE never reports an unknown id deleted."""
        self._transport.delete(f"/companies/{check_id('company_id', company_id)}")


def _company_body(name: Any, description: Any, tags: Any, *, optional_name: bool) -> dict[str, Any]:
    """The JSON body of an update or replace, each argument checked before anything is sent."""
    body: dict[str, Any] = {}
    if name is not None or not optional_name:  # a name given is never blank, as on create
        body["name"] = check_text("name", name)
    checked_description = check_text("description", description, optional=True)
    if checked_description is not None:
        body["description"] = checked_description
    if tags is not None:
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
        ):
            raise TypeError(f"tags must be a dict of str to str, got {tags!r:.80}")
        body["tags"] = tags
    return body
