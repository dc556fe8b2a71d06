"""Companies: enough to explore a portfolio and to create or remove test companies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from codat_nb import paging
from codat_nb.arguments import ListingArgs, check_id, check_idempotency_key, check_text
from codat_nb.frames import companies_frame
from codat_nb.wire.models import Company, parse_model

if TYPE_CHECKING:
    from codat_nb.transport import Transport


class CompaniesAPI:
    """``client.companies``: list, get, create and delete companies."""

    def __init__(self, transport: Transport, max_concurrency: int) -> None:
        self._transport = transport
        self._max_concurrency = max_concurrency

    def __repr__(self) -> str:
        return f"<CompaniesAPI of {self._transport.base_url}>"

    def _fetch(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._transport.request("GET", "/companies", params=params)

    def rows(
        self,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
        concurrency: int | None = None,
        progress: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Every company as a raw wire dict, in server order (for frames and portfolio views)."""
        args = ListingArgs.check(
            query=query,
            order_by=order_by,
            page_size=page_size,
            limit=limit,
            concurrency=concurrency,
            progress=progress,
            max_concurrency=self._max_concurrency,
        )
        return paging.collect(self._fetch, args, "companies")

    def list(
        self,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
        concurrency: int | None = None,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Every company as a DataFrame of ``COMPANY_COLUMNS`` (all pages)."""
        return companies_frame(
            self.rows(query, order_by, page_size, limit, concurrency=concurrency, progress=progress)
        )

    def iter(
        self,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Iterator[Company]:
        """Companies as models, fetched lazily one page at a time (arguments checked now)."""
        args = ListingArgs.check(query=query, order_by=order_by, page_size=page_size, limit=limit)
        return (
            parse_model(Company, row, "Company")
            for row in paging.iterate(self._fetch, args, "companies")
        )

    def get(self, company_id: str) -> Company:
        company_id = check_id("company_id", company_id)
        return parse_model(
            Company, self._transport.request("GET", f"/companies/{company_id}"), "Company"
        )

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
        return parse_model(Company, answer, "Company")

    def delete(self, company_id: str) -> None:
        """Delete a company and all its connections (irreversible). Read first, as
        ``connections.delete`` does, so a retried DELETE never reports an unknown id deleted."""
        path = f"/companies/{check_id('company_id', company_id)}"
        self._transport.request("GET", path)
        self._transport.request("DELETE", path)
