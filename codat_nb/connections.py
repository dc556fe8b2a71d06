"""The six Connections operations, and a company's connections as a DataFrame.

Listings run through ``client``'s ``Listings`` (so an interrupted one can be resumed) and
``paging.collect`` (complete and consistent, or an error); the portfolio of every company is in
``portfolio.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pandas as pd

from codat_nb import paging, portfolio
from codat_nb.api_base import API
from codat_nb.arguments import (
    ListingArgs,
    check_flag,
    check_id,
    check_idempotency_key,
    check_platform_key,
    check_strategy,
)
from codat_nb.exceptions import CodatTransportError, ServerError
from codat_nb.frames import connections_frame, joined_values
from codat_nb.listing import PageCache, Tally, keep_matching, matching_models, record_cost
from codat_nb.sources import connection_pages
from codat_nb.wire.models import Connection, parse_model
from codat_nb.wire.rows import Row, check_rows
from codat_nb.wire.schema import COMPANY, CONNECTION


class ConnectionsAPI(API):
    """``client.connections``: a company's data connections (Sync for Expenses v1)."""

    _schema = CONNECTION

    def list(
        self,
        company_id: str,
        query: str | None = None,
        order_by: str | None = None,
        *,
        page_size: int | None = None,
        limit: int | None = None,
        concurrency: int | None = None,
        progress: bool | None = None,
        check_quota: bool = True,
        consistency: str = "checked",
    ) -> pd.DataFrame:
        """Every connection of a company as a DataFrame of ``CONNECTION_COLUMNS``: complete and
        consistent (see README, Pagination), or an error.

        ``query`` is Codat's filter language (``"status=Linked"``), checked before sending;
        ``order_by`` a field, ``-field`` for descending. ``page_size`` defaults to the largest
        Codat serves; ``limit`` is the only way to stop early. ``check_quota`` stops a listing
        that would need more requests than Codat's quota has left, before spending them.
        ``consistency="verified"`` walks again until two walks agree: the connections at one
        moment, for twice the requests.
        """
        company_id = check_id("company_id", company_id)
        walking = (concurrency, progress, check_quota, consistency)
        args = self._args(query, order_by, page_size, limit, *walking)

        def call(cache: PageCache, tally: Tally) -> pd.DataFrame:
            source = connection_pages(self._transport, company_id, cache, tally)
            # The gate on each page while the next are read; its values make the frame.
            gate = partial(check_rows, CONNECTION, what=source.what, parse_dates=False)

            def build(rows: list[Row], checked: list[Any] | None) -> pd.DataFrame:
                values = joined_values(checked, len(rows))
                frame = connections_frame(rows, source.what, checked=True, values=values)
                keep = keep_matching(rows, args.query, CONNECTION, source.what, limit=args.limit)
                return frame if all(keep) else frame[keep].reset_index(drop=True)

            frame: pd.DataFrame = paging.collect(source, args, prepare=gate, build=build)
            record_cost(tally, cache, self._transport.last_date(), frame)
            return frame

        return self._listings.run(f"connections.list({company_id!r})", call)

    def iter(
        self,
        company_id: str,
        query: str | None = None,
        order_by: str | None = None,
        *,
        page_size: int | None = None,
        limit: int | None = None,
    ) -> Iterator[Connection]:
        """Connections as models, fetched lazily one page at a time (arguments checked now)."""
        company_id = check_id("company_id", company_id)
        args = self._args(query, order_by, page_size, limit)
        source = connection_pages(self._transport, company_id, PageCache())
        return matching_models(Connection, paging.iterate(source, args), args, source.what)

    @staticmethod
    def _connection_path(company_id: str, connection_id: str) -> str:
        """The one connection's path, both ids checked before anything is sent."""
        company_id = check_id("company_id", company_id)
        connection_id = check_id("connection_id", connection_id)
        return f"/companies/{company_id}/connections/{connection_id}"

    def get(self, company_id: str, connection_id: str) -> Connection:
        return self._read(self._connection_path(company_id, connection_id))

    def _read(self, path: str, deadline: float | None = None) -> Connection:
        body = self._transport.request("GET", path, deadline=deadline)
        return parse_model(Connection, body, f"GET {path}")

    def create(
        self, company_id: str, platform_key: str, *, idempotency_key: str | None = None
    ) -> Connection:
        """A new connection (status PendingAuth); send the customer to its ``link_url``.

        Safe to retry: the call carries an ``Idempotency-Key`` (yours, or a fresh GUID), so a
        lost answer is retried without making a second connection.
        """
        path = f"/companies/{check_id('company_id', company_id)}/connections"
        body = self._transport.request(
            "POST",
            path,
            json_body={"platformKey": check_platform_key(platform_key)},
            idempotency_key=check_idempotency_key(idempotency_key),
        )
        return parse_model(Connection, body, f"POST {path}")

    def create_partner_expense(
        self, company_id: str, *, idempotency_key: str | None = None
    ) -> Connection:
        """The company's partner expense connection (created already Linked)."""
        company_id = check_id("company_id", company_id)
        path = f"/companies/{company_id}/sync/expenses/connections/partnerExpense"
        body = self._transport.request(
            "POST", path, idempotency_key=check_idempotency_key(idempotency_key)
        )
        return parse_model(Connection, body, f"POST {path}")

    def unlink(
        self, company_id: str, connection_id: str, *, idempotency_key: str | None = None
    ) -> Connection:
        """Stop syncing a Linked connection; its data is kept and it can be re-authorised.

        Only a Linked connection can be unlinked: Codat refuses a PendingAuth, Unlinked or
        Deauthorized one (400). The status is not read first (that would cost a request);
        the widgets, which know it, offer Unlink only for Linked connections.

        When Codat answers 5xx (a write's 5xx is not retried: Codat replays it for the same
        key) or no answer comes, the connection is read back: if it is Unlinked, it worked.
        """
        path = self._connection_path(company_id, connection_id)
        deadline = self._transport.call_deadline()  # one for the unlink and its read-back
        try:
            body = self._transport.request(
                "PATCH",
                path,
                json_body={"status": "Unlinked"},
                idempotency_key=check_idempotency_key(idempotency_key),
                deadline=deadline,
            )
        except (ServerError, CodatTransportError):
            current = self._read(path, deadline)
            if current.status != "Unlinked":
                raise
            return current
        return parse_model(Connection, body, f"PATCH {path}")

    def delete(self, company_id: str, connection_id: str) -> None:
        """Delete a connection for good (irreversible; later gets raise NotFoundError).

        The connection is read first: a DELETE whose first attempt got no clear answer and
        whose retry finds nothing is then known to have deleted it, never an id that did not
        exist (which raises NotFoundError here, before anything is deleted).
        """
        self._transport.delete(self._connection_path(company_id, connection_id))

    def list_all(
        self,
        query: str | None = None,
        order_by: str | None = None,
        *,
        company_query: str | None = None,
        strategy: str = "embedded",
        page_size: int | None = None,
        concurrency: int | None = None,
        progress: bool | None = None,
        check_quota: bool = True,
        strict: bool = False,
        consistency: str = "checked",
    ) -> pd.DataFrame:
        """Every connection of every company, ``company_id`` and ``company_name`` first.

        ``strategy="embedded"`` (default) reads the connections each company in ``/companies``
        carries: ``ceil(companies / page size)`` requests. ``"per_company"`` lists each
        company's connections (one request per company at least); the embedded strategy falls
        back to it, saying so, when the server's companies carry no connections. ``query`` and
        ``order_by`` are about connections (applied per company); ``company_query`` filters
        the companies (e.g. ``"dataConnections.status=Deauthorized"``). Companies that could
        not be read are in ``df.attrs["failures"]`` (one warning says how many); ``strict=True``
        raises instead. ``consistency="verified"`` verifies every listing it makes (see
        ``list``). ``df.attrs["requests"]`` says what it cost.
        """
        # no limit: all of them
        walking = (page_size, None, concurrency, progress, check_quota, consistency)
        args = self._args(query, order_by, *walking)
        companies = ListingArgs.check(COMPANY, self._max_concurrency, company_query, None, *walking)
        plan = portfolio.Plan(
            args, companies, check_strategy(strategy), check_flag("strict", strict)
        )
        return self._listings.run(
            "connections.list_all()",
            lambda cache, tally: portfolio.list_all(self._transport, plan, cache, tally),
        )
