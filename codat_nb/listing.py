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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd

from codat_nb.exceptions import CodatError, CodatWarning, QuotaExceededError
from codat_nb.headers import RateLimit

if TYPE_CHECKING:
    from codat_nb.arguments import ListingArgs
from codat_nb.query import compile_query
from codat_nb.wire.models import parse_model

T = TypeVar("T")
Page = dict[str, Any]
#: A kept page's key: its listing (``Source.what``) and its query parameters.
PageKey = tuple[str, tuple[tuple[str, Any], ...]]


class PageCache:
    """The pages one call has fetched, by endpoint and query string (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[PageKey, Page] = {}
        self._generations: dict[str, int] = {}
        self.reused = 0

    def get(self, key: PageKey) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self.reused += 1
            return page

    def has(self, key: PageKey) -> bool:
        with self._lock:
            return key in self._pages

    def generation(self, what: str) -> int:
        with self._lock:
            return self._generations.get(what, 0)

    def put(self, key: PageKey, page: Page, generation: int) -> None:
        """Keep a page, unless its endpoint's pages were forgotten since it was asked for (a
        worker finishing late must not bring back a page of the state just thrown away)."""
        with self._lock:
            if self._generations.get(key[0], 0) == generation:
                self._pages[key] = page

    def forget(self, what: str) -> None:
        """Drop one endpoint's pages (they were found inconsistent: walk afresh)."""
        with self._lock:
            self._pages = {k: v for k, v in self._pages.items() if k[0] != what}
            self._generations[what] = self._generations.get(what, 0) + 1

    def keys(self, what: str) -> list[PageKey]:
        """The keys of one endpoint's kept pages."""
        with self._lock:
            return [key for key in self._pages if key[0] == what]

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


def row_id(row: Any) -> object:
    """A wire row's id (None for something that is not a row)."""
    return row.get("id") if isinstance(row, dict) else None


@dataclass
class Source:
    """One endpoint's pages for one call: cached, checked, and retried page by page."""

    fetch: Callable[[dict[str, Any]], Any]  # one HTTP GET with these query parameters
    what: str
    cache: PageCache = field(default_factory=PageCache)
    #: the client's last X-Rate-Limit-* headers (``.remaining``, ``.reset``), if any
    rate_limit: Callable[[], RateLimit | None] = lambda: None
    #: what two verified walks must agree on, row by row (``consistency="verified"``)
    identity: Callable[[Any], object] = row_id

    def _key(self, params: dict[str, Any]) -> PageKey:
        return (self.what, tuple(sorted(params.items())))

    def cached(self, params: dict[str, Any]) -> bool:
        return self.cache.has(self._key(params))

    def cached_pages(self, args: ListingArgs) -> list[tuple[int, int]]:
        """The pages of this listing (``args``) the cache holds, as (page, pageSize)."""
        apart = ("page", "pageSize")
        same = {k: v for k, v in args.params(1).items() if k not in apart}
        pages = []
        for _, items in self.cache.keys(self.what):
            params = dict(items)
            if {k: v for k, v in params.items() if k not in apart} == same:
                pages.append((params["page"], params["pageSize"]))
        return pages

    def page(self, params: dict[str, Any]) -> Page:
        """A page, from the cache when this call already has it."""
        page = self.cache.get(self._key(params))
        if page is None:
            generation = self.cache.generation(self.what)
            page = self.fresh(params)
            self.cache.put(self._key(params), page, generation)
        return page

    def fresh(self, params: dict[str, Any]) -> Page:
        """A page from the server (the transport retries it alone; the others stay kept)."""
        return checked_page(self.fetch(params), params["page"], self.what)


def keep_matching(
    rows: list[dict[str, Any]],
    query: str | None,
    schema: Any,
    what: str,
    arrays: bool = False,
    limit: int | None = None,
) -> list[bool]:
    """Which rows satisfy ``query`` (the shared engine's reading of it). Rows that do not are
    to be dropped, with a CodatWarning saying the server did not apply the filter (Codat's
    querying guide says the language may not work on some listings). Call it on rows that
    passed the gate (``wire.rows``): the filter must not hide a malformed row."""
    if query is None:
        return [True] * len(rows)
    matches = compile_query(query, schema, arrays=arrays)
    kept = [bool(matches(row)) for row in rows]
    _warn_dropped(kept.count(False), query, what, limit, stacklevel=5)
    return kept


def _warn_dropped(dropped: int, query: str, what: str, limit: int | None, stacklevel: int) -> None:
    if not dropped:
        return
    short = (
        f"; limit={limit} counted the rows the server sent, so fewer than {limit} are left"
        if limit is not None
        else ""
    )
    warnings.warn(
        f"{dropped} row(s) of {what} do not satisfy the query {query!r}: the server did "
        f"not apply the filter, so they were dropped here{short}",
        CodatWarning,
        stacklevel=stacklevel,
    )


def matching_models(
    model: type[Any], rows: Iterator[dict[str, Any]], args: Any, what: str
) -> Iterator[Any]:
    """Models of the rows that satisfy ``args.query``: each row through the gate first (the
    model's parsing), so a malformed row is refused rather than filtered away."""
    schema = model.__codat_schema__
    arrays = schema.name == "Company"  # companies may be queried by their connections
    matches = None if args.query is None else compile_query(args.query, schema, arrays=arrays)
    for row in rows:
        parsed = parse_model(model, row, what)
        if matches is None or matches(row):
            yield parsed
        else:
            _warn_dropped(1, args.query, what, args.limit, stacklevel=3)  # the caller's loop


def require_quota(limit: RateLimit | None, needed: int, spending: str, advice: str) -> None:
    """Raise QuotaExceededError, before anything is spent, when ``needed`` requests are more
    than Codat's X-Rate-Limit-Remaining (``limit``: the client's last rate-limit headers)."""
    if limit is None or limit.remaining is None or needed <= limit.remaining:
        return
    raise QuotaExceededError(
        f"{spending} but Codat's X-Rate-Limit-Remaining says {limit.remaining} are left "
        f"(resets {limit.reset}); nothing more was spent. {advice}",
        reset_at=limit.reset_at,
        status_code=429,
    )


def record_cost(
    tally: Tally, cache: PageCache, server_time: pd.Timestamp | None, *frames: pd.DataFrame
) -> None:
    """Put what a listing cost and when it ended in each frame's ``attrs``: ``requests`` (HTTP
    requests this call made, retries and boundary checks included), ``pages_reused`` (pages a
    resumed call did not fetch again) and ``server_time`` (the server's clock, from its Date
    header)."""
    stats = {"requests": tally.count, "pages_reused": cache.reused, "server_time": server_time}
    for frame in frames:
        frame.attrs.update(stats)


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
        self.unfinished: Unfinished[Any] | None = None

    def run(self, description: str, call: Callable[[PageCache, Tally], T]) -> T:
        return self.run_call(Unfinished(description, call, PageCache(), self))

    def run_call(self, call: Unfinished[T]) -> T:
        tally = Tally()
        call.cache.reused = 0  # counted per run: what this run did not fetch again
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
