"""Walking Codat's numbered pages: completely, in server order, concurrently where it helps.

The rule that matters: a listing is never returned short of ``totalResults``. The first page
gives the page count; the rest are fetched concurrently (bounded). Rows seen twice (data moving
during the walk) are dropped by id with a warning; if the rows still fall short of what Codat
says exists, the walk is repeated, and after a few tries an IncompleteListingError is raised.
"""

from __future__ import annotations

import logging
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm.auto import tqdm

from codat_nb.errors import CodatError, IncompleteListingError
from codat_nb.models import CodatWarning

log = logging.getLogger(__name__)

#: fetch(page_number) -> the parsed page JSON (``results``, ``totalResults``, ...)
PageFetcher = Callable[[int], dict[str, Any]]

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


def page_params(
    page: int, page_size: int, query: str | None, order_by: str | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"page": page, "pageSize": page_size}
    if query is not None:
        params["query"] = query
    if order_by is not None:
        params["orderBy"] = order_by
    return params


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


def _dedupe(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    seen: set[Any] = set()
    unique = []
    for row in rows:
        key = row.get("id")
        if key in seen:
            continue
        seen.add(key)
        unique.append(row)
    return unique, len(rows) - len(unique)


def _run_in_order(
    executor: ThreadPoolExecutor | None, fetch: PageFetcher, numbers: range, bar: tqdm
) -> list[dict[str, Any]]:
    """Fetch pages (concurrently when given an executor) and return them in page order."""
    pages = []
    if executor is None:  # one worker: the calling thread is cheaper than a pool
        for n in numbers:
            pages.append(fetch(n))
            bar.update(1)
        return pages
    futures = [executor.submit(fetch, n) for n in numbers]
    for future in futures:
        pages.append(future.result())
        bar.update(1)
    return pages


def collect(
    fetch: PageFetcher,
    *,
    what: str,
    page_size: int,
    limit: int | None,
    concurrency: int,
    progress: bool | None,
) -> list[dict[str, Any]]:
    """Every row (or the first ``limit``) as raw wire dicts, in server order, duplicate-free."""
    last_short = None
    for walk in range(1, MAX_WALKS + 1):
        rows, duplicates, expected = _walk_once(
            fetch, what, page_size, limit, concurrency, progress
        )
        if len(rows) >= expected:
            if duplicates:
                warnings.warn(
                    f"{duplicates} row(s) of {what} appeared on more than one page (the data "
                    "changed during the listing) and were dropped by id",
                    CodatWarning,
                    stacklevel=3,
                )
            return rows if limit is None else rows[:limit]
        last_short = (len(rows), expected, duplicates)
        if walk < MAX_WALKS:
            warnings.warn(
                f"{duplicates} row(s) of {what} appeared on more than one page and "
                f"{expected - len(rows)} were missed (the data changed during the listing); "
                "listed again",
                CodatWarning,
                stacklevel=3,
            )
            log.info("listing %s again (walk %d of %d)", what, walk + 1, MAX_WALKS)
    got, expected, duplicates = last_short
    raise IncompleteListingError(
        f"listing {what} returned {got} distinct rows but Codat reported {expected} "
        f"({duplicates} duplicates across pages) in each of {MAX_WALKS} attempts; the data kept "
        "changing during the walk, so no result is returned rather than a partial one"
    )


def _walk_once(
    fetch: PageFetcher,
    what: str,
    page_size: int,
    limit: int | None,
    concurrency: int,
    progress: bool | None,
) -> tuple[list[dict[str, Any]], int, int]:
    """One pass over the pages: (distinct rows, duplicates dropped, rows Codat says exist)."""
    first = _checked(fetch(1), 1, what)
    page_size = _served_page_size(first, page_size)
    total = first["totalResults"]
    wanted = total if limit is None else min(limit, total)
    pages = [first]
    n_pages = max(1, math.ceil(wanted / page_size))
    if n_pages > 1:

        def checked_fetch(number: int) -> dict[str, Any]:
            return _checked(fetch(number), number, what)

        workers = min(concurrency, n_pages - 1)
        executor = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codat_nb-page")
            if workers > 1
            else None
        )
        bar = progress_bar(n_pages, progress, what, "page")
        bar.update(1)
        try:
            pages += _run_in_order(executor, checked_fetch, range(2, n_pages + 1), bar)
            # Rows added during the walk push others onto pages past the planned end.
            while limit is None:
                grown = max(p["totalResults"] for p in pages)
                more = math.ceil(grown / page_size)
                if more <= len(pages):
                    break
                bar.total = more
                pages += _run_in_order(
                    executor, checked_fetch, range(len(pages) + 1, more + 1), bar
                )
        finally:
            # On KeyboardInterrupt or an error: drop queued pages, let running ones finish alone.
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
            bar.close()
    # The largest total any page reported, not the last: rows deleted mid-walk make later
    # pages report less while rows slid off unfetched pages, so the short walk is noticed.
    largest_total = max(p["totalResults"] for p in pages)
    expected = largest_total if limit is None else min(limit, largest_total)
    rows, duplicates = _dedupe([row for page in pages for row in page["results"]])
    return rows, duplicates, expected


def iterate(
    fetch: PageFetcher, *, what: str, page_size: int, limit: int | None
) -> Iterator[dict[str, Any]]:
    """Rows one page at a time (lazily); raises at the end if the walk came back short."""
    seen: set[Any] = set()
    duplicates = 0
    yielded = 0
    largest_total = 0
    number = 1
    while True:
        page = _checked(fetch(number), number, what)
        largest_total = max(largest_total, page["totalResults"])
        page_size = _served_page_size(page, page_size)
        for row in page["results"]:
            key = row.get("id")
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            yield row
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        if not page["results"] or number >= math.ceil(largest_total / page_size):
            break
        number += 1
    if duplicates:
        warnings.warn(
            f"{duplicates} row(s) of {what} appeared on more than one page and were skipped",
            CodatWarning,
            stacklevel=2,
        )
    expected = largest_total if limit is None else min(limit, largest_total)
    if yielded < expected:
        raise IncompleteListingError(
            f"listing {what} yielded {yielded} distinct rows but Codat reported {expected}; "
            "the data changed during the walk, so some rows were missed"
        )
