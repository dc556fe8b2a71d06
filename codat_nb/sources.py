"""Where listings' pages come from: Codat's companies and connections listings as page sources
over the transport.

The user-facing API classes (``companies.py``, ``connections.py``) and the portfolio
(``portfolio.py``) all read pages through these functions, so none of them reaches into another.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from codat_nb import paging
from codat_nb.arguments import ListingArgs
from codat_nb.listing import PageCache, Source, Tally, keep_matching, row_id
from codat_nb.wire.rows import Row, check_rows
from codat_nb.wire.schema import COMPANY

if TYPE_CHECKING:
    from codat_nb.transport import Transport

T = TypeVar("T")


def _pages(
    transport: Transport,
    path: str,
    what: str,
    cache: PageCache,
    tally: Tally | None,
    identity: Callable[[Any], object] = row_id,
) -> Source:
    return Source(
        lambda params: transport.request("GET", path, params=params, tally=tally),
        what,
        cache,
        lambda: transport.rate_limit,
        identity,
    )


def company_identity(row: Any) -> object:
    """What two verified walks of the companies must agree on: each company and the ids of
    the connections it carries (the portfolio is read from them)."""
    embedded = row.get("dataConnections") if isinstance(row, dict) else None
    connections = embedded if isinstance(embedded, list) else []
    return row_id(row), [row_id(connection) for connection in connections]


def company_pages(transport: Transport, cache: PageCache, tally: Tally | None = None) -> Source:
    """``GET /companies`` as pages for ``paging``."""
    return _pages(transport, "/companies", "companies", cache, tally, company_identity)


def connection_pages(
    transport: Transport, company_id: str, cache: PageCache, tally: Tally | None = None
) -> Source:
    """``GET /companies/{company_id}/connections`` as pages for ``paging``."""
    path = f"/companies/{company_id}/connections"
    return _pages(transport, path, f"connections of company {company_id}", cache, tally)


def collect_companies(
    transport: Transport,
    args: ListingArgs,
    cache: PageCache,
    tally: Tally,
    *,
    connections: bool = True,
    build: Callable[[list[Row]], T],
) -> T:
    """``build(companies)``: every company (as wire dicts) the arguments select, complete and
    consistent, through the gate (``wire.rows``) before the filter; built while the page
    boundaries are checked. ``connections=False`` leaves the embedded connections' own check
    to ``build`` (the portfolio checks them in one pass)."""
    source = company_pages(transport, cache, tally)
    shallow = frozenset() if connections else frozenset({"dataConnections"})
    gate = partial(check_rows, COMPANY, what=source.what, shallow=shallow)

    def matching(rows: list[Row], prepared: object) -> T:
        keep = keep_matching(rows, args.query, COMPANY, source.what, arrays=True, limit=args.limit)
        return build([row for row, kept in zip(rows, keep, strict=True) if kept])

    result: T = paging.collect(source, args, prepare=gate, build=matching)
    return result
