"""The whole portfolio, every connection of every company, at the fewest requests.

Every company ``GET /companies`` returns carries its ``dataConnections``, so the default
(``embedded``) strategy reads the portfolio from the companies listing alone: N companies cost
``ceil(N / page size)`` requests, where walking each company costs at least N + 1 against a
daily quota of ``1,000 x (1 + connected companies)``. Connection ``query`` and ``order_by`` are
then applied here, per company, by the same query engine the sandbox uses, so the result is the
one the per-company walk gives. ``per_company`` remains (and is used by itself, with a warning,
when a server's companies carry no connections); there, a company that cannot be read is
recorded in ``df.attrs["failures"]`` rather than failing the whole listing.
"""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd

from codat_nb import paging
from codat_nb.arguments import ListingArgs, Strategy
from codat_nb.cancel import cancel_scope
from codat_nb.exceptions import CodatError, CodatWarning, QuotaExceededError
from codat_nb.frames import portfolio_frame
from codat_nb.listing import PageCache, Tally, record_cost, require_quota
from codat_nb.query import compile_order, compile_query, order_rows
from codat_nb.sources import collect_companies, connection_pages
from codat_nb.wire.rows import Row, check_rows, embedded_connections
from codat_nb.wire.schema import CONNECTION

if TYPE_CHECKING:
    from codat_nb.transport import Transport

#: One company's connections in a portfolio: (company id, company name, wire rows).
Part = tuple[str, str | None, list[Row]]
FAILURE_COLUMNS = {
    "company_id": "str",
    "company_name": "str",
    "error": "str",
    "status_code": "Int64",
    "correlation_id": "str",
    "message": "str",
}


class FailureTable(pd.DataFrame):
    """A DataFrame that compares as a whole: ``==`` and ``!=`` give one bool (``equals``).

    pandas compares the ``attrs`` of frames it concatenates; a plain DataFrame there makes
    ``pd.concat`` of two portfolios fail ("truth value ... is ambiguous")."""

    @property
    def _constructor(self) -> type[FailureTable]:
        return FailureTable

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        return isinstance(other, pd.DataFrame) and self.equals(other)

    def __ne__(self, other: object) -> bool:  # type: ignore[override]
        return not self.__eq__(other)

    __hash__ = None


def failures_frame(failures: list[tuple[Row, CodatError]]) -> pd.DataFrame:
    """One row per company that could not be read: which, what went wrong, what to quote."""
    data = {
        "company_id": [c.get("id") for c, _ in failures],
        "company_name": [c.get("name") for c, _ in failures],
        "error": [type(e).__name__ for _, e in failures],
        "status_code": [e.status_code for _, e in failures],
        "correlation_id": [e.correlation_id for _, e in failures],
        "message": [e.message for _, e in failures],
    }
    table: pd.DataFrame = FailureTable(
        {k: pd.Series(v, dtype=FAILURE_COLUMNS[k]) for k, v in data.items()}
    )
    return table


def _local(rows: list[Row], args: ListingArgs) -> list[Row]:
    """A company's connections as the server would list them with ``query`` and ``order_by``."""
    if args.query is not None:
        matches = compile_query(args.query, CONNECTION)
        rows = [row for row in rows if matches(row)]
    if args.order_by is not None:
        rows = order_rows(rows, compile_order(args.order_by, CONNECTION))
    return rows


def _per_company(
    transport: Transport,
    companies: list[Row],
    args: ListingArgs,
    cache: PageCache,
    tally: Tally,
    strict: bool,
) -> tuple[list[Part], list[tuple[Row, CodatError]]]:
    """Each company's connections in turn (companies concurrently)."""
    stop = threading.Event()  # set when the walk ends: workers stop at their next request
    one = replace(args, concurrency=1, progress=False)

    def company_rows(company: Row) -> list[Row]:
        with cancel_scope(stop):  # once the listing ends, this company's retries stop too
            return _company_rows(company)

    def _company_rows(company: Row) -> list[Row]:
        source = connection_pages(transport, company["id"], cache, tally)
        gate = partial(check_rows, CONNECTION, what=source.what)
        rows: list[Row] = paging.collect(source, one, prepare=gate)  # gate first, then filter
        return _local(rows, args)  # local: the server may ignore the query

    executor = ThreadPoolExecutor(max_workers=args.concurrency, thread_name_prefix="codat_nb-co")
    bar = paging.progress_bar(len(companies), args.progress, "companies", "company")
    parts: list[Part] = []
    failures: list[tuple[Row, CodatError]] = []
    try:
        futures = [executor.submit(company_rows, company) for company in companies]
        for company, future in zip(companies, futures, strict=True):
            try:
                parts.append((company["id"], company.get("name"), future.result()))
            except QuotaExceededError:
                raise
            except CodatError as exc:
                if strict:
                    raise
                failures.append((company, exc))
            bar.update(1)
    finally:
        stop.set()
        executor.shutdown(wait=False, cancel_futures=True)
        bar.close()
    return parts, failures


@dataclass(frozen=True)
class Plan:
    """What ``list_all`` reads: connections as ``connections`` selects them (applied per
    company), of the companies ``companies`` selects, by ``strategy``; ``strict`` raises on a
    company that cannot be read instead of listing it in ``attrs["failures"]``."""

    connections: ListingArgs
    companies: ListingArgs
    strategy: Strategy = "embedded"
    strict: bool = False


def list_all(transport: Transport, plan: Plan, cache: PageCache, tally: Tally) -> pd.DataFrame:
    """Every connection of every company ``plan`` selects, ``company_id`` and
    ``company_name`` first; built while the companies' page boundaries are checked."""

    def build(rows: list[Row]) -> pd.DataFrame:
        return _portfolio(transport, plan, rows, cache, tally)

    frame = collect_companies(
        transport, plan.companies, cache, tally, connections=False, build=build
    )
    record_cost(tally, cache, transport.last_date(), frame)
    return frame


def _portfolio(
    transport: Transport, plan: Plan, rows: list[Row], cache: PageCache, tally: Tally
) -> pd.DataFrame:
    args, used = plan.connections, plan.strategy
    if used == "embedded" and rows and all("dataConnections" not in c for c in rows):
        warnings.warn(
            "the server's companies carry no dataConnections, so each company's "
            "connections are listed instead (strategy='per_company')",
            CodatWarning,
            stacklevel=6,
        )
        used = "per_company"
    failures: list[tuple[Row, CodatError]] = []
    filtered = args.query is not None or args.order_by is not None
    if used == "embedded":
        if filtered:  # the gate before the filter; else the frame's own gate suffices
            embedded = [row for c in rows for row in embedded_connections(c)]
            check_rows(CONNECTION, embedded, "connections of the companies")
        parts = [(c["id"], c.get("name"), _local(embedded_connections(c), args)) for c in rows]
    else:
        if args.check_quota:
            require_quota(
                transport.rate_limit,
                len(rows),
                f"listing each company's connections needs at least {len(rows)} requests",
                "The embedded strategy needs one request per 5,000 companies; or pass "
                "check_quota=False",
            )
        parts, failures = _per_company(transport, rows, args, cache, tally, plan.strict)
    # Filtered rows passed the gate already (each company's own, or the one above).
    frame = portfolio_frame(parts, checked=filtered or used == "per_company")
    if failures:
        warnings.warn(
            f"{len(failures)} of {len(rows)} companies could not be read and are missing "
            "from the result; see df.attrs['failures']",
            CodatWarning,
            stacklevel=6,
        )
    frame.attrs.update(strategy=used, failures=failures_frame(failures))
    return frame
