"""Walking Codat's numbered pages: one lazy walk under every listing, in server order.

``Walk`` fetches page 1, learns the page count (and the page size the server really serves),
then the rest through a bounded window of workers (concurrency 1: strictly lazy, one page per
step), handing pages out in order and stopping at the first empty page. ``collect`` (the eager,
concurrent listing) and ``iterate`` (``iter()``) are both built on it. The rule that matters: a
listing is never returned short of ``totalResults``. Rows seen twice (data moving during the
walk) are dropped by id with a warning; if rows still fall short, ``collect`` walks again and
after a few tries raises ``IncompleteListingError``.
"""

from __future__ import annotations

import logging
import math
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from tqdm.auto import tqdm

from codat_nb.arguments import ListingArgs
from codat_nb.exceptions import CodatError, CodatWarning, IncompleteListingError

log = logging.getLogger(__name__)

Row = dict[str, Any]
#: fetch(query parameters) -> the parsed page JSON (``results``, ``totalResults``, ...)
PageFetcher = Callable[[dict[str, Any]], dict[str, Any]]

MAX_WALKS = 3
PROGRESS_MIN_PAGES = 4


def is_interactive() -> bool:
    """True in a Jupyter kernel or a terminal: where a progress bar is seen, not logged."""
    shell = sys.modules.get("IPython")
    if shell is not None:
        get_ipython = getattr(shell, "get_ipython", None)
        ip = get_ipython() if get_ipython else None
        if ip is not None and type(ip).__name__ == "ZMQInteractiveShell":
            return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress_bar(total: int, progress: bool | None, desc: str, unit: str) -> tqdm:
    show = progress if progress is not None else total >= PROGRESS_MIN_PAGES and is_interactive()
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False)


def _checked(page: Any, number: int, what: str) -> dict[str, Any]:
    if (
        not isinstance(page, dict)
        or not isinstance(page.get("results"), list)
        or not isinstance(page.get("totalResults"), int)
    ):
        raise CodatError(f"page {number} of {what} is not a Codat page (no results/totalResults)")
    return page


def _served_page_size(page: dict[str, Any], requested: int) -> int:
    """The page size the server really used: it may cap what was asked for."""
    served = page.get("pageSize")
    if isinstance(served, int) and not isinstance(served, bool) and 0 < served < requested:
        return served
    return requested


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


class Walk:
    """One pass over a listing's pages. ``rows()`` yields distinct rows lazily; afterwards
    ``expected``, ``distinct`` and ``duplicates`` tell whether the pass was complete."""

    def __init__(self, fetch: PageFetcher, args: ListingArgs, what: str) -> None:
        self.fetch, self.args, self.what = fetch, args, what
        self.largest_total = 0
        self.distinct = 0
        self.duplicates = 0

    @property
    def expected(self) -> int:
        """The rows Codat says exist: the largest total any page reported (capped by limit).

        Not the last page's total: rows deleted mid-walk make later pages report less while
        rows slid off unfetched pages, so a short walk is still noticed.
        """
        limit = self.args.limit
        return self.largest_total if limit is None else min(limit, self.largest_total)

    @property
    def complete(self) -> bool:
        return self.distinct >= self.expected

    def _page_count(self, total: int, page_size: int) -> int:
        limit = self.args.limit
        return max(1, math.ceil((total if limit is None else min(limit, total)) / page_size))

    def pages(self) -> Iterator[dict[str, Any]]:
        """Every page in order; pages past the planned end are fetched while totals grow."""
        args, what = self.args, self.what
        first = _checked(self.fetch(args.params(1)), 1, what)
        args = replace(args, page_size=_served_page_size(first, args.page_size))
        self.largest_total = first["totalResults"]
        last = self._page_count(self.largest_total, args.page_size)
        workers = min(args.concurrency, last - 1)
        bar = progress_bar(last, args.progress, what, "page") if last > 1 else None
        executor = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codat_nb-page")
            if workers > 1
            else None
        )

        def fetch(number: int) -> dict[str, Any]:
            return _checked(self.fetch(args.params(number)), number, what)

        def submit(number: int) -> Future:
            return executor.submit(fetch, number) if executor else _done(fetch(number))

        pending: deque[Future] = deque()
        following = 2
        try:
            page = first
            while True:
                if bar is not None:
                    bar.update(1)
                yield page
                if not page["results"]:
                    return
                self.largest_total = max(self.largest_total, page["totalResults"])
                if args.limit is None:  # rows added during the walk push others further on
                    last = max(last, self._page_count(self.largest_total, args.page_size))
                    if bar is not None and bar.total != last:
                        bar.total = last
                while following <= last and len(pending) < max(workers, 1):
                    pending.append(submit(following))
                    following += 1
                if not pending:
                    return
                page = pending.popleft().result()
        finally:
            # On KeyboardInterrupt or an error: drop queued pages, let running ones finish alone.
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
            if bar is not None:
                bar.close()

    def rows(self) -> Iterator[Row]:
        """Distinct rows (by id) in server order, stopping at ``limit``."""
        seen: set[Any] = set()
        limit = self.args.limit
        for page in self.pages():
            for row in page["results"]:
                key = row.get("id")
                if key in seen:
                    self.duplicates += 1
                    continue
                seen.add(key)
                self.distinct += 1
                yield row
                if limit is not None and self.distinct >= limit:
                    return


def collect(fetch: PageFetcher, args: ListingArgs, what: str) -> list[Row]:
    """Every row (or the first ``limit``) as raw wire dicts, in server order, duplicate-free."""
    for attempt in range(1, MAX_WALKS + 1):
        walk = Walk(fetch, args, what)
        rows = list(walk.rows())
        if walk.complete:
            if walk.duplicates:
                warnings.warn(
                    f"{walk.duplicates} row(s) of {what} appeared on more than one page (the "
                    "data changed during the listing) and were dropped by id",
                    CodatWarning,
                    stacklevel=3,
                )
            return rows
        if attempt < MAX_WALKS:
            warnings.warn(
                f"{walk.duplicates} row(s) of {what} appeared on more than one page and "
                f"{walk.expected - walk.distinct} were missed (the data changed during the "
                "listing); listed again",
                CodatWarning,
                stacklevel=3,
            )
            log.info("listing %s again (walk %d of %d)", what, attempt + 1, MAX_WALKS)
    raise IncompleteListingError(
        f"listing {what} returned {walk.distinct} distinct rows but Codat reported "
        f"{walk.expected} ({walk.duplicates} duplicates across pages) in each of {MAX_WALKS} "
        "attempts; the data kept changing during the walk, so no result is returned rather "
        "than a partial one"
    )


def iterate(fetch: PageFetcher, args: ListingArgs, what: str) -> Iterator[Row]:
    """Rows one page at a time (lazily); raises at the end if the walk came back short."""
    walk = Walk(fetch, replace(args, concurrency=1), what)
    yield from walk.rows()
    if walk.duplicates:
        warnings.warn(
            f"{walk.duplicates} row(s) of {what} appeared on more than one page and were skipped",
            CodatWarning,
            stacklevel=2,
        )
    if not walk.complete:
        raise IncompleteListingError(
            f"listing {what} yielded {walk.distinct} distinct rows but Codat reported "
            f"{walk.expected}; the data changed during the walk, so some rows were missed"
        )
