"""The six Connections operations, plus whole listings as DataFrames (one company or all)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from codat_nb import paging
from codat_nb.arguments import (
    ListingArgs,
    check_id,
    check_idempotency_key,
    check_platform_key,
)
from codat_nb.exceptions import CodatTransportError, CodatWarning, NotFoundError, ServerError
from codat_nb.frames import connections_frame, portfolio_frame
from codat_nb.wire.models import Connection, parse_model

if TYPE_CHECKING:
    from codat_nb.companies import CompaniesAPI
    from codat_nb.transport import Transport


class ConnectionsAPI:
    """``client.connections``: a company's data connections (Sync for Expenses v1)."""

    def __init__(self, transport: Transport, companies: CompaniesAPI, max_concurrency: int) -> None:
        self._transport = transport
        self._companies = companies
        self._max_concurrency = max_concurrency

    def __repr__(self) -> str:
        return f"<ConnectionsAPI of {self._transport.base_url}>"

    def _fetcher(self, company_id: str) -> paging.PageFetcher:
        path = f"/companies/{company_id}/connections"

        def fetch(params: dict[str, Any]) -> dict[str, Any]:
            return self._transport.request("GET", path, params=params)

        return fetch

    def list(
        self,
        company_id: str,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
        concurrency: int | None = None,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Every connection of a company (all pages) as a DataFrame of ``CONNECTION_COLUMNS``.

        ``query`` is Codat's filter language (e.g. ``"status=Linked"``), ``order_by`` a field,
        ``-field`` for descending. ``limit`` is the only way to stop early.
        """
        company_id = check_id("company_id", company_id)
        args = ListingArgs.check(
            query=query,
            order_by=order_by,
            page_size=page_size,
            limit=limit,
            concurrency=concurrency,
            progress=progress,
            max_concurrency=self._max_concurrency,
        )
        what = f"connections of company {company_id}"
        frame = connections_frame(paging.collect(self._fetcher(company_id), args, what))
        return self._stamped(frame)

    def _stamped(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame.attrs["server_time"]``: the server's clock when the listing ended (its Date
        header), so later analysis and history can say "as of" without trusting this machine."""
        frame.attrs["server_time"] = self._transport.last_date()
        return frame

    def iter(
        self,
        company_id: str,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Iterator[Connection]:
        """Connections as models, fetched lazily one page at a time (arguments checked now)."""
        company_id = check_id("company_id", company_id)
        args = ListingArgs.check(query=query, order_by=order_by, page_size=page_size, limit=limit)
        rows = paging.iterate(
            self._fetcher(company_id), args, f"connections of company {company_id}"
        )
        return (parse_model(Connection, row, "Connection") for row in rows)

    @staticmethod
    def _connection_path(company_id: str, connection_id: str) -> str:
        """The one connection's path, both ids checked before anything is sent."""
        company_id = check_id("company_id", company_id)
        connection_id = check_id("connection_id", connection_id)
        return f"/companies/{company_id}/connections/{connection_id}"

    def get(self, company_id: str, connection_id: str) -> Connection:
        body = self._transport.request("GET", self._connection_path(company_id, connection_id))
        return parse_model(Connection, body, "Connection")

    def create(
        self, company_id: str, platform_key: str, *, idempotency_key: str | None = None
    ) -> Connection:
        """A new connection (status PendingAuth); send the customer to its ``link_url``.

        Safe to retry: the call carries an ``Idempotency-Key`` (yours, or a fresh GUID), so a
        lost answer is retried without making a second connection.
        """
        company_id = check_id("company_id", company_id)
        platform_key = check_platform_key(platform_key)
        body = self._transport.request(
            "POST",
            f"/companies/{company_id}/connections",
            json_body={"platformKey": platform_key},
            idempotency_key=check_idempotency_key(idempotency_key),
        )
        return parse_model(Connection, body, "Connection")

    def create_partner_expense(
        self, company_id: str, *, idempotency_key: str | None = None
    ) -> Connection:
        """The company's partner expense connection (created already Linked)."""
        company_id = check_id("company_id", company_id)
        body = self._transport.request(
            "POST",
            f"/companies/{company_id}/sync/expenses/connections/partnerExpense",
            idempotency_key=check_idempotency_key(idempotency_key),
        )
        return parse_model(Connection, body, "Connection")

    def unlink(
        self, company_id: str, connection_id: str, *, idempotency_key: str | None = None
    ) -> Connection:
        """Stop syncing a Linked connection; its data is kept and it can be re-authorised.

        When Codat answers 5xx (a write's 5xx is not retried: Codat replays it for the same
        key), the connection is read back: if it is Unlinked, the unlink happened.
        """
        path = self._connection_path(company_id, connection_id)
        try:
            body = self._transport.request(
                "PATCH",
                path,
                json_body={"status": "Unlinked"},
                idempotency_key=check_idempotency_key(idempotency_key),
            )
        except (ServerError, CodatTransportError):
            current = parse_model(Connection, self._transport.request("GET", path), "Connection")
            if current.status != "Unlinked":
                raise
            return current
        return parse_model(Connection, body, "Connection")

    def delete(self, company_id: str, connection_id: str) -> None:
        """Delete a connection for good (irreversible; later gets raise NotFoundError).

        The connection is read first: a DELETE whose first attempt got no clear answer and
        whose retry finds nothing is then known to have deleted it, never an id that did not
        exist (which raises NotFoundError here, before anything is deleted).
        """
        path = self._connection_path(company_id, connection_id)
        self._transport.request("GET", path)
        self._transport.request("DELETE", path)

    def list_all(
        self,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int = 100,
        concurrency: int | None = None,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """The portfolio view: every connection of every company, ``company_id`` and
        ``company_name`` first. Companies are listed concurrently, each company's pages in turn.
        """
        args = ListingArgs.check(
            query=query,
            order_by=order_by,
            page_size=page_size,
            concurrency=concurrency,
            progress=progress,
            max_concurrency=self._max_concurrency,
        )
        workers, progress = args.concurrency, args.progress
        companies = self._companies.rows(concurrency=workers, progress=progress)
        stop = threading.Event()  # set on interrupt/error: workers quit at their next page
        per_company = replace(args, concurrency=1, progress=False)

        def one_company(company: dict[str, Any]) -> list[dict[str, Any]]:
            fetch_page = self._fetcher(company["id"])
            what = f"connections of company {company['id']}"

            def fetch(params: dict[str, Any]) -> dict[str, Any]:
                if stop.is_set():
                    raise CancelledError(f"listing {what} was abandoned")
                return fetch_page(params)

            try:
                return paging.collect(fetch, per_company, what)
            except NotFoundError:
                warnings.warn(
                    f"company {company['id']} was deleted during the listing; skipped",
                    CodatWarning,
                    stacklevel=2,
                )
                return []

        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codat_nb-company")
        bar = paging.progress_bar(len(companies), progress, "companies", "company")
        try:
            futures = [executor.submit(one_company, company) for company in companies]
            parts = []
            for company, future in zip(companies, futures, strict=True):
                parts.append((company["id"], company.get("name"), future.result()))
                bar.update(1)
        finally:
            stop.set()
            executor.shutdown(wait=False, cancel_futures=True)
            bar.close()
        return self._stamped(portfolio_frame(parts))
