"""Walking Codat's numbered pages: one walk under every listing, returned only when it is
complete and consistent.

``Walk`` asks for page 1, learns the total and the page size the server really serves (it may
cap the size it was asked for, saying so or not), then reads the rest as ``page_plan`` lays it
out, through a bounded window of workers (concurrency 1: strictly lazy), hands the rows out in
order and stops at the first empty read. ``collect`` (eager, concurrent) and ``iterate``
(``iter()``) are built on it.

Offset paging loses rows when rows are added or removed before a page boundary between two
page reads (a row slides across the boundary unseen, while ``totalResults`` may not change).
So every boundary is shown by one read together with the rows either side of it, and every row
two reads share must be the same in both: in a chain the reads overlap (each repeats the last
rows of the one before), otherwise probes read the boundaries in the same window as the pages.
What this guarantees, exactly (README, Pagination): no row twice; every row returned was in the
listing when its read was made; no fewer rows than any page's total; and every row in the
listing throughout the walk is returned, as long as no row's ``order_by`` field changes
meanwhile. A walk that came back short, or whose reads disagree, is walked again (at most
``MAX_WALKS`` times); then ``IncompleteListingError`` is raised rather than a wrong answer
returned.

``consistency="verified"`` walks until two consecutive walks agree (``VERIFIED_WALKS`` at
most): then the rows are exactly those of the listing at one moment, the second walk's start
(the same ids in the same order; each row's values as the second walk read them).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from itertools import repeat
from typing import Any, TypeVar, cast

from tqdm.auto import tqdm

from codat_nb.arguments import ListingArgs
from codat_nb.cancel import cancel_scope
from codat_nb.exceptions import BadRequestError, CodatWarning, IncompleteListingError
from codat_nb.listing import Page, Source, require_quota, row_id
from codat_nb.page_plan import Layout, Probe, Read, probe_plan, shown
from codat_nb.window import Shown, Task, Window
from codat_nb.wire.protocol import MAX_PAGE_SIZE, SCHEMA_MAX_PAGE_SIZE

log = logging.getLogger(__name__)

Row = dict[str, Any]
T = TypeVar("T")
MAX_WALKS = 3
#: Walks a verified listing may make to find two consecutive ones that agree.
VERIFIED_WALKS = MAX_WALKS + 1
#: Rounds of probes after the walk, for boundaries its reads did not show (rare).
MAX_FOLLOW_UPS = 2
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


class Walk:
    """One pass over a listing. ``rows()`` yields distinct rows lazily; afterwards
    ``problem()`` says what, if anything, keeps the pass from being the listing.
    ``walks_after``: walks still to come after this one (the quota check counts them)."""

    def __init__(
        self,
        source: Source,
        args: ListingArgs,
        prepare: Callable[[list[Row]], Any] | None = None,
        walks_after: int = 0,
    ) -> None:
        self.source, self.args, self.prepare = source, args, prepare
        self.walks_after = walks_after
        self.largest_total = 0
        self.distinct = 0
        self.duplicates = 0
        self.empty_page: int | None = None  # a read that came back empty before the end
        self.gap = False  # a read began past the rows read before it (rows went unread)
        self.moved = False  # two reads disagreed on which row is where
        self.ids: list[object] = []  # the rows' ids by position, as the data reads gave them
        self.unchecked: list[int] = []  # boundaries no single read has shown yet, ascending
        self.stop = threading.Event()  # set when the walk ends: its workers retry no more
        self.probe_limit = MAX_PAGE_SIZE
        self.last = 1  # data reads planned (page 1 included)
        self._following = 2
        self._probes: deque[Probe] | None = None
        self._follow_ups = 0
        #: what ``prepare`` returned for each page, while its rows begin the walk's rows in
        #: order (None once a repeated row was dropped: they no longer line up)
        self.prepared: list[Any] | None = []

    @property
    def expected(self) -> int:
        """The rows Codat says exist: the largest total any page reported (capped by limit).

        Not the last page's total: rows deleted mid-walk make later pages report less while
        rows slid off unfetched pages, so a short walk is still noticed.
        """
        limit = self.args.limit
        return self.largest_total if limit is None else min(limit, self.largest_total)

    def problem(self) -> str | None:
        """Why this pass is not a complete, consistent listing, or None when it is."""
        if self.distinct < self.expected:
            if self.empty_page is not None:
                return (
                    f"Codat reported {self.expected} rows but page {self.empty_page} was "
                    f"empty after {self.distinct}"
                )
            return (
                f"{self.distinct} distinct rows came back where Codat reported "
                f"{self.expected} ({self.duplicates} repeated across pages): the data changed "
                "during the listing"
            )
        if self.moved or self.gap:
            return MOVED
        if self.unchecked:
            return UNCHECKED
        return None

    def _check_quota(self, args: ListingArgs, layout: Layout) -> None:
        """Stop before spending requests the rest of the walk (and the walks after it) cannot
        get; counted arithmetically, never read by read."""
        if not args.check_quota:
            return
        last = self.last
        kept = sum(
            1
            for number, size in self.source.cached_pages(args)
            if 2 <= number <= last and layout.is_read(number, size)
        )
        pages, checks = last - 1 - kept, layout.requests(last) - (last - 1)
        again = self.walks_after * (1 + layout.requests(last))
        detail = f"{pages} pages and {checks} boundary checks" if checks else f"{pages} pages"
        if again:
            detail += f", then {again} to walk it again and compare"
        require_quota(
            self.source.rate_limit(),
            pages + checks + again,
            f"listing {self.source.what} needs {pages + checks + again} more requests ({detail})",
            "client.unfinished.resume() continues once the quota allows, or pass "
            "check_quota=False to spend what is left",
        )

    def _start(self) -> tuple[Page, Layout, bool]:
        """Page 1, and how the rest is read; whether page 1 was kept from an earlier run."""
        args, source = self.args, self.source
        resumed = source.cached(args.params(1))  # its quota headers are yesterday's, perhaps
        with cancel_scope(self.stop):
            first, args = self._first_page(args)
        requested = args.page_size
        self.args = args = replace(args, page_size=_served_page_size(first, requested))
        # Probes may be as big as the server allows: its cap if it has shown one.
        self.probe_limit = args.page_size if args.page_size < requested else MAX_PAGE_SIZE
        self.largest_total = first["totalResults"]
        layout = Layout(args.page_size, self.probe_limit, self.expected)
        self.last = layout.reads(self.expected) or 1
        return first, layout, resumed

    def _next_task(self, layout: Layout) -> Task | None:
        """The next read to ask for: the data reads, then the probes their boundaries need."""
        if self._following <= self.last:
            self._following += 1
            return layout.read(self._following - 1)
        if self._probes is None:
            self._probes = deque(layout.probes(self.last))
        return self._probes.popleft() if self._probes else None

    def _follow_up(self) -> bool:
        """Probes for boundaries no read has shown (a probe cut short by a cap page 1 did not
        show, or rows added after the probes were planned); a few rounds at most."""
        if not self.unchecked or self._follow_ups >= MAX_FOLLOW_UPS:
            return False
        self._follow_ups += 1
        self._probes = deque(probe_plan(self.unchecked, self.probe_limit))
        return True

    def pages(self) -> Iterator[tuple[list[Any], list[object]]]:
        """Each data read's new rows and their ids, in order; probes are compared on the way.
        Reads past the planned end are made while the totals grow."""
        first, layout, resumed = self._start()
        if not resumed:
            self._check_quota(self.args, layout)
        source, args = self.source, self.args

        def read(task: Read) -> Page:
            with cancel_scope(self.stop):
                return source.page(args.params(task.number, task.size))

        def probe(task: Probe) -> Shown:
            rows: list[Any] = []
            with cancel_scope(self.stop):
                for one in task.reads:
                    got = source.fresh(args.params(one.number, one.size))["results"]
                    rows += got
                    if len(got) < one.size:
                        return Shown(rows, len(got))
            return Shown(rows, None)

        window = Window(
            min(args.concurrency, self.last - (1 if layout.chained else 0)), read, probe
        )
        bar = progress_bar(self.last, args.progress, source.what, "page") if self.last > 1 else None
        tasks = partial(self._next_task, layout)
        task: Task = Read(1, args.page_size)
        answer: Page | Shown = first
        try:
            while True:
                if isinstance(task, Read):
                    page = cast(Page, answer)
                    new = self._accept(task, page, layout, bar)
                    if window.executor is not None:
                        window.fill(tasks)  # workers read ahead while this page is used
                    yield new
                    if not page["results"] or self.gap:
                        if not page["results"] and task.number < self.last:
                            self.empty_page = task.number
                        return
                else:
                    self._probed(task, cast(Shown, answer))
                window.fill(tasks)  # strictly lazy: the next read only once this one was used
                following = window.next()
                if following is None and self._follow_up():
                    window.fill(tasks)
                    following = window.next()
                if following is None:
                    return
                task, answer = following
        finally:
            self.stop.set()
            window.close()
            if bar is not None:
                bar.close()

    def _accept(
        self, read: Read, page: Page, layout: Layout, bar: tqdm[Any] | None
    ) -> tuple[list[Any], list[object]]:
        """A data read's new rows and their ids; the plan grows while the totals do."""
        if bar is not None:
            bar.update(1)
        new = self._take(read.start, page["results"], data=True)
        if page["results"]:
            self.largest_total = max(self.largest_total, page["totalResults"])
            if self.args.limit is None:  # rows added during the walk push others further on
                self.last = max(self.last, layout.reads(self.expected) or self.last)
                if bar is not None and bar.total != self.last:
                    bar.total = self.last
        return new

    def _probed(self, probe: Probe, answer: Shown) -> None:
        self._take(probe.start, answer.rows, data=False)
        if answer.short is not None and probe.start + len(answer.rows) < len(self.ids):
            # A read cut short while the listing goes on: a cap page 1 did not show.
            self.probe_limit = max(2, min(self.probe_limit, answer.short))

    def _take(self, start: int, results: list[Any], data: bool) -> tuple[list[Any], list[object]]:
        """Compare a read's rows with the rows known at the same positions (they must be the
        same rows) and mark the boundaries it shows; a data read's rows past them are new (the
        result, with their ids)."""
        known = len(self.ids)
        try:
            keys: list[object] = list(map(dict.get, results, repeat("id")))
        except TypeError:  # not all rows are objects: the gate refuses them later
            keys = [row_id(row) for row in results]
        if start > known:
            self.gap = self.gap or data
            return [], []
        shared = min(len(keys), known - start)
        if keys[:shared] != self.ids[start : start + shared]:
            self.moved = True
        if not data or shared == len(keys):
            shown(self.unchecked, start, start + len(keys))
            return [], []
        if start == known and known:
            self.unchecked.append(known)  # rows known - 1 and known: not in this read
        shown(self.unchecked, start, start + len(keys))
        new_keys = keys[shared:] if shared else keys
        self.ids += new_keys
        return results[shared:] if shared else results, new_keys

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
            stacklevel=6,
        )
        args = replace(args, page_size=SCHEMA_MAX_PAGE_SIZE)
        return self.source.page(args.params(1)), args

    def rows(self) -> Iterator[Row]:
        """Distinct rows (by id) in server order, up to ``limit``."""
        seen: set[Any] = set()
        limit = self.args.limit
        for results, keys in self.pages():
            if not results or (limit is not None and self.distinct >= limit):
                continue  # the walk goes on: its later reads still show boundaries
            if self.prepare is not None:  # while the workers read the next pages
                part = self.prepare(results)
                if self.prepared is not None:
                    self.prepared.append(part)
            fresh = set(keys)
            if len(fresh) == len(keys) and fresh.isdisjoint(seen) and None not in fresh:
                seen |= fresh  # the usual page: every row new, checked a page at a time
                kept = results
            else:
                kept, self.prepared = [], None
                for key, row in zip(keys, results, strict=True):
                    if key is not None and key in seen:
                        self.duplicates += 1
                        continue
                    seen.add(key)
                    kept.append(row)
            if limit is not None:
                kept = kept[: limit - self.distinct]
            self.distinct += len(kept)
            yield from kept


MOVED = (
    "rows were added or removed while the pages were read, so some slid across a page "
    "boundary (seen twice or not at all)"
)
UNCHECKED = "the rows either side of a page boundary could not be read together to check it"


def _warn_duplicates(walk: Walk, stacklevel: int) -> None:
    if walk.duplicates:
        warnings.warn(
            f"{walk.duplicates} row(s) of {walk.source.what} appeared twice in Codat's answer "
            "and were dropped by id",
            CodatWarning,
            stacklevel=stacklevel + 1,
        )


def _rows(rows: list[Row], prepared: list[Any] | None) -> list[Row]:
    return rows


def collect(
    source: Source,
    args: ListingArgs,
    prepare: Callable[[list[Row]], Any] | None = None,
    build: Callable[[list[Row], list[Any] | None], Any] = _rows,
) -> Any:
    """Every row (or the first ``limit``) in server order, consistent as ``args.consistency``
    says: ``build(rows, prepared)``, by default the list of raw wire dicts.

    ``prepare(rows)`` runs on each page's rows as they arrive (the gate, say), while the next
    pages are read; ``prepared`` is what it returned for each page of the walk kept (their rows
    begin with ``rows``, in order), or None when a repeated row was dropped. A page a repeated
    walk throws away has been prepared for nothing, no more.
    """
    if args.consistency == "verified":
        return build(*_verified(source, args, prepare))
    for attempt in range(1, MAX_WALKS + 1):
        walk = Walk(source, args, prepare)
        rows = list(walk.rows())
        problem = walk.problem()
        if problem is None:
            _warn_duplicates(walk, stacklevel=3)
            return build(rows, walk.prepared)
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


def _verified(
    source: Source, args: ListingArgs, prepare: Callable[[list[Row]], Any] | None
) -> tuple[list[Row], list[Any] | None]:
    """Walks, each reading afresh, until two consecutive ones agree row for row (by
    ``source.identity``). Every row both returned was in the listing when the second began
    (rows never come back once gone) and no fewer rows than its total were returned, so the
    rows are those of the listing at that moment."""
    agreed: list[object] | None = None  # the last complete walk's rows, to agree with
    problem: str | None = None
    for attempt in range(1, VERIFIED_WALKS + 1):
        walk = Walk(source, args, prepare, walks_after=1 if attempt == 1 else 0)
        rows = list(walk.rows())
        source.cache.forget(source.what)  # the next walk must read every page again
        problem = walk.problem()
        if problem is None:
            identity = [source.identity(row) for row in rows]
            if identity == agreed:
                _warn_duplicates(walk, stacklevel=4)
                return rows, walk.prepared
            if agreed is not None:
                problem = "two consecutive walks disagreed (the data changed between them)"
            agreed = identity
        else:
            agreed = None
        if problem is not None and attempt < VERIFIED_WALKS:
            warnings.warn(
                f"listing {source.what}: {problem}; listed again", CodatWarning, stacklevel=4
            )
    raise IncompleteListingError(
        f"listing {source.what}: no two consecutive walks of {VERIFIED_WALKS} agreed (last: "
        f"{problem or 'a complete walk with none after it'}); consistency='verified' returns "
        "no result rather than an unverified one"
    )


def iterate(source: Source, args: ListingArgs) -> Iterator[Row]:
    """Rows one page at a time (lazily); raises at the end if the walk was not consistent."""
    walk = Walk(source, replace(args, concurrency=1))
    yield from walk.rows()
    problem = walk.problem()
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
