"""A listing call's life: where its pages come from, what it costs, and resuming it.

Every page a call fetches is kept in the call's ``PageCache`` as it arrives (by whichever
worker fetched it). A call that ends early (Codat's quota, Ctrl-C, an error after retries) is
left on the client as ``client.unfinished``; ``client.unfinished.resume()`` runs the same call
again over the same cache, so no page it already had is fetched again. Rows of kept pages are as
they were when fetched; the page boundaries are verified as in any listing.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from codat_nb.exceptions import CodatError, CodatWarning, QuotaExceededError
from codat_nb.query import compile_query

T = TypeVar("T")
Page = dict[str, Any]


class PageCache:
    """The pages one call has fetched, by endpoint and query string (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[tuple, Page] = {}
        self.reused = 0

    def get(self, key: tuple) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self.reused += 1
            return page

    def has(self, key: tuple) -> bool:
        with self._lock:
            return key in self._pages

    def put(self, key: tuple, page: Page) -> None:
        with self._lock:
            self._pages[key] = page

    def forget(self, what: str) -> None:
        """Drop one endpoint's pages (they were found inconsistent: walk afresh)."""
        with self._lock:
            self._pages = {k: v for k, v in self._pages.items() if k[0] != what}

    def __len__(self) -> int:
        with self._lock:
            return len(self._pages)


def checked_page(page: Any, number: int, what: str) -> Page:
    if (
        not isinstance(page, dict)
        or not isinstance(page.get("results"), list)
        or not isinstance(page.get("totalResults"), int)
        or isinstance(page.get("totalResults"), bool)
        or page["totalResults"] < 0
    ):
        raise CodatError(f"page {number} of {what} is not a Codat page (no results/totalResults)")
    return page


@dataclass
class Source:
    """One endpoint's pages for one call: cached, checked, and retried page by page."""

    fetch: Callable[[dict[str, Any]], Any]  # one HTTP GET with these query parameters
    what: str
    cache: PageCache = field(default_factory=PageCache)
    #: the client's last X-Rate-Limit-* headers (``.remaining``, ``.reset``), if any
    rate_limit: Callable[[], Any] = lambda: None

    def _key(self, params: dict[str, Any]) -> tuple:
        return (self.what, tuple(sorted(params.items())))

    def cached(self, params: dict[str, Any]) -> bool:
        return self.cache.has(self._key(params))

    def page(self, params: dict[str, Any]) -> Page:
        """A page, from the cache when this call already has it."""
        page = self.cache.get(self._key(params))
        if page is None:
            page = self.fresh(params)
            self.cache.put(self._key(params), page)
        return page

    def fresh(self, params: dict[str, Any]) -> Page:
        """A page from the server (the transport retries it alone; the others stay kept)."""
        return checked_page(self.fetch(params), params["page"], self.what)


def keep_matching(
    rows: list[dict[str, Any]], query: str | None, schema: Any, what: str, arrays: bool = False
) -> list[dict[str, Any]]:
    """The rows that satisfy ``query`` (the shared engine's reading of it); any other row is
    dropped with a CodatWarning saying the server did not apply the filter (Codat's querying
    guide says the language may not work on some listings)."""
    if query is None:
        return rows
    matches = compile_query(query, schema, arrays=arrays)
    kept = [row for row in rows if matches(row)]
    if len(kept) < len(rows):
        warnings.warn(
            f"{len(rows) - len(kept)} row(s) of {what} do not satisfy the query {query!r}: "
            "the server did not apply the filter, so they were dropped here",
            CodatWarning,
            stacklevel=4,
        )
    return kept


def cost(tally: Tally, cache: PageCache, server_time: Any) -> dict[str, Any]:
    """What a listing cost and when it ended, for ``df.attrs``: ``requests`` (HTTP requests
    this call made, retries and boundary checks included), ``pages_reused`` (pages a resumed
    call did not fetch again) and ``server_time`` (the server's clock, from its Date header)."""
    return {"requests": tally.count, "pages_reused": cache.reused, "server_time": server_time}


class Tally:
    """Requests made on behalf of one call (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


@dataclass
class Unfinished(Generic[T]):
    """A listing call that ended early, ready to ``resume()`` without refetching its pages."""

    description: str
    call: Callable[[PageCache, Tally], T]
    cache: PageCache
    listings: Listings

    def resume(self) -> T:
        """Run the call again; the pages it already had are not fetched again."""
        return self.listings.run_call(self)

    def __repr__(self) -> str:
        return f"<Unfinished listing: {self.description} ({len(self.cache)} pages kept)>"


class Listings:
    """Runs listing calls and keeps the last one that did not finish (``client.unfinished``)."""

    def __init__(self) -> None:
        self.unfinished: Unfinished | None = None

    def run(self, description: str, call: Callable[[PageCache, Tally], T]) -> T:
        return self.run_call(Unfinished(description, call, PageCache(), self))

    def run_call(self, call: Unfinished[T]) -> T:
        tally = Tally()
        try:
            result = call.call(call.cache, tally)
        except BaseException as exc:
            self.unfinished = call
            if isinstance(exc, QuotaExceededError):
                exc.requests_made = tally.count
            raise
        if self.unfinished is call:
            self.unfinished = None
        return result
