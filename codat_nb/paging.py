"""Walking Codat's numbered pages: one lazy walk under every listing, returned only when it is
complete and consistent.

``Walk`` asks for page 1, learns the page count and the page size the server really serves
(it may cap the size it was asked for, saying so or not), then fetches the rest through a
bounded window of workers (concurrency 1: strictly lazy), hands pages out in order and stops at
the first empty page. ``collect`` (eager, concurrent) and ``iterate`` (``iter()``) are built on
it.

Consistent means: the rows are those of one state of the server's listing, no row missing and
none repeated. Offset paging breaks that when rows are added or removed before a page boundary
between two page reads (a row slides across the boundary unseen, while ``totalResults`` may not
change). So after a walk of several pages, each boundary is checked with one small probe: the
rows either side of it must still be the last row of one page and the first of the next. A
listing that fits one page (5,000 rows by default) is a single atomic read and needs no probe.
A walk that came back short, or whose boundaries moved, is walked again (at most ``MAX_WALKS``
times); then ``IncompleteListingError`` is raised rather than a wrong answer returned.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tqdm.auto import tqdm

from codat_nb.arguments import ListingArgs
from codat_nb.cancel import cancel_scope
from codat_nb.exceptions import BadRequestError, CodatWarning, IncompleteListingError
from codat_nb.listing import Page, Source, require_quota
from codat_nb.wire.protocol import MAX_PAGE_SIZE, SCHEMA_MAX_PAGE_SIZE

log = logging.getLogger(__name__)

Row = dict[str, Any]
T = TypeVar("T")
MAX_WALKS = 3
PROGRESS_MIN_PAGES = 4


def is_watched() -> bool:
    """True where a person watches a progress bar: a terminal, or a notebook open in Jupyter
    (whose server names the kernel's session) or VS Code; not nbconvert or papermill runs,
    whose saved output would only say "0%"."""
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None else None
    if ip is not None and type(ip).__name__ == "ZMQInteractiveShell":
        return bool(os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID"))
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress_bar(total: int, progress: bool | None, desc: str, unit: str) -> tqdm[Any]:
    show = progress if progress is not None else total >= PROGRESS_MIN_PAGES and is_watched()
    return tqdm(total=total, desc=f"Listing {desc}", unit=unit, disable=not show, leave=False)


def _served_page_size(page: Page, requested: int) -> int:
    """The page size the server really uses: it may cap what was asked for, saying so in
    ``pageSize`` or not (then page 1 holds fewer rows than asked while more exist)."""
    served = page.get("pageSize")
    size = requested
    if isinstance(served, int) and not isinstance(served, bool) and 0 < served < requested:
        size = served
    rows = len(page["results"])
    if 0 < rows < size and page["totalResults"] > rows:
        size = rows
    if size != requested:
        log.info("the server serves %d rows per page (asked for %d)", size, requested)
    return size


def _done(value: Page) -> Future[Page]:
    future: Future[Page] = Future()
    future.set_result(value)
    return future


Boundary = tuple[int, Any, Any]  # (position of a page's first row, id before it, id from it)


@dataclass(frozen=True)
class _Probe:
    """Pages to read (size, number) that show rows from ``start`` on, covering ``boundaries``."""

    pages: tuple[tuple[int, int], ...]
    start: int
    boundaries: tuple[Boundary, ...]


def _small_probe(boundary: Boundary, largest: int) -> _Probe:
    """The smallest read that shows rows ``position - 1`` and ``position`` together: one page of
    a size up to ``largest`` (what the server serves) that keeps them together, else a row each."""
    position = boundary[0]
    for size in range(2, largest + 1):
        if position % size:
            number = position // size + 1
            return _Probe(((size, number),), (number - 1) * size, (boundary,))
    return _Probe(((1, position), (1, position + 1)), position - 1, (boundary,))


def probe_plan(boundaries: list[Boundary], largest: int) -> list[_Probe]:
    """Few reads that show every boundary: one page of ``largest`` rows checks all the
    boundaries inside it (small pages: many per read), a boundary on its edge gets its own."""
    inside: dict[int, list[Boundary]] = {}
    for boundary in boundaries:
        position = boundary[0]
        if (position - 1) // largest == position // largest:
            inside.setdefault(position // largest + 1, []).append(boundary)
    plan = [
        _Probe(((largest, number),), (number - 1) * largest, tuple(group))
        for number, group in inside.items()
        if len(group) > 1
    ]
    shared = {b for probe in plan for b in probe.boundaries}
    plan += [_small_probe(b, largest) for b in boundaries if b not in shared]
    return plan


def probe_requests(boundaries: int, page_size: int, largest: int) -> int:
    """How many reads ``probe_plan`` makes for the boundaries after pages 1..``boundaries`` of
    ``page_size`` rows, counted arithmetically (a plan for a lying ``totalResults`` of 2**31
    would not fit in memory): a read per ``largest``-row page holding a boundary inside it, one
    per boundary on such a page's edge, and a second for an edge no page size up to
    ``largest`` keeps together."""
    if boundaries <= 0:
        return 0
    step = largest // math.gcd(page_size, largest)  # every step-th boundary is on an edge
    edges = boundaries // step
    keep_together = math.lcm(*range(2, largest + 1)) if largest >= 2 else 1
    unsplittable = boundaries // (keep_together // math.gcd(keep_together, page_size))
    return _pages_with_inner_boundaries(boundaries, page_size, largest) + edges + unsplittable


def _pages_with_inner_boundaries(boundaries: int, page_size: int, largest: int) -> int:
    """How many ``largest``-row pages hold a boundary strictly inside them. Page k does when a
    multiple of ``page_size`` lies in (k * largest, (k + 1) * largest); that repeats every
    ``page_size / gcd`` pages, so one period is counted and multiplied."""
    last = boundaries * page_size  # the last boundary's position

    def inner(k: int) -> bool:
        return ((k + 1) * largest - 1) // page_size > (k * largest) // page_size

    full = last // largest  # pages wholly before the last boundary
    period = page_size // math.gcd(page_size, largest)
    whole, rest = divmod(full, period)
    count = whole * sum(inner(k) for k in range(period)) if whole else 0
    count += sum(inner(k) for k in range(whole * period, full))
    return count + (1 if last % largest else 0)  # the page the last boundary is inside


class Walk:
    """One pass over a listing's pages. ``rows()`` yields distinct rows lazily; afterwards
    ``problem()`` says what, if anything, keeps the pass from being the listing."""

    def __init__(
        self, source: Source, args: ListingArgs, prepare: Callable[[list[Row]], Any] | None = None
    ) -> None:
        self.source, self.args, self.prepare = source, args, prepare
        self.largest_total = 0
        self.distinct = 0
        self.duplicates = 0
        self.empty_page: int | None = None  # a page that came back empty before the end
        self.ragged = False  # a page other than the last held fewer rows than the page size
        self.stop = threading.Event()  # set when the walk ends: its workers retry no more
        self.check_stop = threading.Event()  # set to abandon the boundary check
        self.probe_limit = MAX_PAGE_SIZE
        self.boundaries: list[Boundary] = []

    @property
    def expected(self) -> int:
        """The rows Codat says exist: the largest total any page reported (capped by limit).

        Not the last page's total: rows deleted mid-walk make later pages report less while
        rows slid off unfetched pages, so a short walk is still noticed.
        """
        limit = self.args.limit
        return self.largest_total if limit is None else min(limit, self.largest_total)

    def problem(self) -> str | None:
        """Why this pass is not a complete listing, or None when it is."""
        if self.distinct >= self.expected and not self.ragged:
            return None
        if self.empty_page is not None and self.distinct < self.expected:
            return (
                f"Codat reported {self.expected} rows but page {self.empty_page} was empty "
                f"after {self.distinct}"
            )
        return (
            f"{self.distinct} distinct rows came back where Codat reported {self.expected} "
            f"({self.duplicates} repeated across pages): the data changed during the listing"
        )

    def _page_count(self, total: int, page_size: int) -> int:
        limit = self.args.limit
        return max(1, math.ceil((total if limit is None else min(limit, total)) / page_size))

    def _check_quota(self, args: ListingArgs, last: int) -> None:
        """Stop before spending requests the rest of the walk cannot get."""
        if not args.check_quota:
            return
        kept = sum(1 for n in self.source.cached_pages(args) if 2 <= n <= last)
        pages = last - 1 - kept
        checks = probe_requests(last - 1, args.page_size, self.probe_limit)
        require_quota(
            self.source.rate_limit(),
            pages + checks,
            f"listing {self.source.what} needs {pages + checks} more requests "
            f"({pages} pages and {checks} boundary checks)",
            "client.unfinished.resume() continues once the quota allows, or pass "
            "check_quota=False to spend what is left",
        )

    def pages(self) -> Iterator[Page]:
        """Every page in order; pages past the planned end are fetched while totals grow."""
        args, source = self.args, self.source
        resumed = source.cached(args.params(1))  # its quota headers are yesterday's, perhaps
        with cancel_scope(self.stop):
            first, args = self._first_page(args)
        requested = args.page_size
        args = replace(args, page_size=_served_page_size(first, args.page_size))
        # Probes may be as big as the server allows: its cap if it has shown one.
        self.probe_limit = args.page_size if args.page_size < requested else MAX_PAGE_SIZE
        self.largest_total = first["totalResults"]
        last = self._page_count(self.largest_total, args.page_size)
        if not resumed:
            self._check_quota(args, last)
        workers = min(args.concurrency, last - 1)
        bar = progress_bar(last, args.progress, source.what, "page") if last > 1 else None
        executor = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codat_nb-page")
            if workers > 1
            else None
        )

        def fetch(params: dict[str, Any]) -> Page:
            with cancel_scope(self.stop):
                return source.page(params)

        def submit(number: int) -> Future[Page]:
            params = args.params(number)
            return executor.submit(fetch, params) if executor else _done(fetch(params))

        pending: deque[tuple[int, Future[Page]]] = deque()
        following, number, page = 2, 1, first
        previous: Page | None = None

        def refill() -> None:
            nonlocal following
            while following <= last and len(pending) < max(workers, 1):
                pending.append((following, submit(following)))
                following += 1

        try:
            while True:
                if bar is not None:
                    bar.update(1)
                self._note_boundary(previous, number, page, args.page_size)
                if page["results"]:
                    self.largest_total = max(self.largest_total, page["totalResults"])
                    if args.limit is None:  # rows added during the walk push others further on
                        last = max(last, self._page_count(self.largest_total, args.page_size))
                        if bar is not None and bar.total != last:
                            bar.total = last
                    if executor is not None:
                        refill()  # workers fetch ahead while this page is being used
                yield page
                if not page["results"]:
                    if number < last:
                        self.empty_page = number
                    return
                previous = page
                if executor is None:
                    refill()  # strictly lazy: the next page only once this one was used
                if not pending:
                    return
                number, future = pending.popleft()
                page = future.result()
        finally:
            # On KeyboardInterrupt or an error: drop queued pages; requests in flight finish
            # (and are kept for resume()) but retry no more.
            self.stop.set()
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
            if bar is not None:
                bar.close()

    def _first_page(self, args: ListingArgs) -> tuple[Page, ListingArgs]:
        """Page 1, and the arguments the rest is walked with. A server that refuses pages over
        the 2,000 rows of the ``PagingInfo`` schema (the paging guide says 5,000) is asked
        again with 2,000, once, saying so."""
        try:
            return self.source.page(args.params(1)), args
        except BadRequestError as exc:
            if args.page_size <= SCHEMA_MAX_PAGE_SIZE or "pagesize" not in str(exc).lower():
                raise
        warnings.warn(
            f"Codat refused pages of {args.page_size:,} rows; listing {self.source.what} in "
            f"pages of {SCHEMA_MAX_PAGE_SIZE:,}",
            CodatWarning,
            stacklevel=5,
        )
        args = replace(args, page_size=SCHEMA_MAX_PAGE_SIZE)
        return self.source.page(args.params(1)), args

    def _note_boundary(self, previous: Page | None, number: int, page: Page, size: int) -> None:
        if previous is None or not page["results"]:
            return
        if len(previous["results"]) != size:
            self.ragged = True
            return
        before, after = previous["results"][-1], page["results"][0]
        if isinstance(before, dict) and isinstance(after, dict):
            self.boundaries.append(((number - 1) * size, before.get("id"), after.get("id")))

    def rows(self) -> Iterator[Row]:
        """Distinct rows (by id) in server order, stopping at ``limit``."""
        seen: set[Any] = set()
        limit = self.args.limit
        for page in self.pages():
            results = page["results"]
            if self.prepare is not None:  # while the workers fetch the next pages
                self.prepare(results)
            keys = [row.get("id") if isinstance(row, dict) else None for row in results]
            fresh = set(keys)
            if len(fresh) == len(keys) and fresh.isdisjoint(seen) and None not in fresh:
                seen |= fresh  # the usual page: every row new, checked a page at a time
                kept = results
            else:
                kept = []
                for key, row in zip(keys, results, strict=True):
                    if key is not None and key in seen:
                        self.duplicates += 1
                        continue
                    seen.add(key)
                    kept.append(row)
            if limit is not None and self.distinct + len(kept) >= limit:
                kept = kept[: limit - self.distinct]
                self.distinct += len(kept)
                yield from kept
                return
            self.distinct += len(kept)
            yield from kept

    def boundaries_hold(self) -> bool:
        """Probe each boundary: are the rows either side of it still where this walk saw them?"""
        if not self.boundaries:
            return True

        def holds(probe: _Probe) -> bool:
            seen: list[Any] = []
            for size, number in probe.pages:
                params = replace(self.args, page_size=size, limit=None).params(number)
                rows = self.source.fresh(params)["results"]
                seen += [row.get("id") if isinstance(row, dict) else None for row in rows]
            for boundary in probe.boundaries:
                position, before, after = boundary
                at = position - 1 - probe.start
                if at + 2 > len(seen) and len(probe.boundaries) > 1:
                    # A shorter read than asked for (a cap page 1 did not show): look closer.
                    if not holds(_small_probe(boundary, max(2, len(seen)))):
                        return False
                elif seen[at : at + 2] != [before, after]:
                    return False
            return True

        def checked(probe: _Probe) -> bool:
            with cancel_scope(stop):
                return holds(probe)

        plan = probe_plan(self.boundaries, self.probe_limit)
        workers = min(self.args.concurrency, len(plan))
        log.debug("checking %d page boundaries of %s", len(self.boundaries), self.source.what)
        stop = self.check_stop
        if workers <= 1:
            try:
                return all(checked(probe) for probe in plan)
            finally:
                stop.set()
        pool = ThreadPoolExecutor(workers, thread_name_prefix="codat_nb-probe")
        try:
            return all(pool.map(checked, plan))
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)


MOVED = (
    "rows were added or removed while the pages were read, so some slid across a page "
    "boundary (seen twice or not at all)"
)


def _consistent(walk: Walk) -> str | None:
    problem = walk.problem()
    if problem is None and not walk.boundaries_hold():
        problem = MOVED
    return problem


def _build_while_checking(walk: Walk, rows: list[Row], build: Callable[[list[Row]], T]) -> T:
    """``build(rows)`` in this thread while another checks the walk's boundaries (one round
    trip that would otherwise come after it). Raises _Moved if the boundaries moved."""
    if not walk.boundaries:
        return build(rows)
    pool = ThreadPoolExecutor(1, thread_name_prefix="codat_nb-check")
    checking = pool.submit(walk.boundaries_hold)
    try:
        built = build(rows)
        if not checking.result():
            raise _Moved
        return built
    finally:
        walk.check_stop.set()  # a build that failed (or Ctrl-C) stops the check at once
        pool.shutdown(wait=False, cancel_futures=True)


class _Moved(Exception):
    """The boundaries moved under a walk that was otherwise complete."""


def collect(
    source: Source,
    args: ListingArgs,
    prepare: Callable[[list[Row]], Any] | None = None,
    build: Callable[[list[Row]], Any] = list,
) -> Any:
    """Every row (or the first ``limit``) in server order, consistent: ``build(rows)``, by
    default the list of raw wire dicts. The result is built while the page boundaries are
    checked, and thrown away if they moved.

    ``prepare(rows)`` runs on each page as it arrives (the gate, say), while the next pages
    are fetched; a page a repeated walk throws away has been prepared for nothing, no more.
    """
    for attempt in range(1, MAX_WALKS + 1):
        walk = Walk(source, args, prepare)
        rows = list(walk.rows())
        problem = walk.problem()
        if problem is None:
            try:
                built = _build_while_checking(walk, rows, build)
            except _Moved:
                problem = MOVED
            else:
                if walk.duplicates:
                    warnings.warn(
                        f"{walk.duplicates} row(s) of {source.what} appeared twice in Codat's "
                        "answer and were dropped by id",
                        CodatWarning,
                        stacklevel=3,
                    )
                return built
        source.cache.forget(source.what)  # those pages are not one state: read afresh
        if attempt < MAX_WALKS:
            warnings.warn(
                f"listing {source.what}: {problem}; listed again", CodatWarning, stacklevel=3
            )
            log.info("listing %s again (walk %d of %d)", source.what, attempt + 1, MAX_WALKS)
    raise IncompleteListingError(
        f"listing {source.what}: {problem}, in each of {MAX_WALKS} attempts; no result is "
        "returned rather than a wrong one"
    )


def iterate(source: Source, args: ListingArgs) -> Iterator[Row]:
    """Rows one page at a time (lazily); raises at the end if the walk was not consistent."""
    walk = Walk(source, replace(args, concurrency=1))
    yield from walk.rows()
    problem = _consistent(walk)
    if problem is not None:
        raise IncompleteListingError(
            f"listing {source.what}: {problem}; the rows yielded are not one consistent listing"
        )
    if walk.duplicates:
        warnings.warn(
            f"{walk.duplicates} row(s) of {source.what} appeared twice and were skipped",
            CodatWarning,
            stacklevel=2,
        )
