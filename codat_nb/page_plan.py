"""Which reads a walk makes, as arithmetic. Codat pages by ``page`` and ``pageSize`` (page n
of size z holds rows ``(n - 1) z`` to ``n z - 1``), so reads of different sizes can overlap.

Page 1 of ``size`` rows tells the total. If a few more reads cover the listing, they form a
*chain*: read k is page k of ``size - k + 1`` rows, which starts ``k - 1`` rows before read
``k - 1`` ends. Each read repeats the last rows of the one before it, so the reads themselves
show every boundary between them: no request of its own, no round trip after the pages. The
chain is used when it needs no more requests than the other way (for the default pages of
5,000, every listing up to 6 million rows; at most one read more than plain pages up to about
345,000). The other way reads plain pages of ``size`` and *probes*: few reads that show the
rows either side of each page boundary (``probe_plan``: small pages are checked many at a time
by one large read), asked for in the same window as the last pages.

Everything is counted without listing the reads (``Layout.requests``, ``probe_requests``), so a
lying ``totalResults`` of 2**31 costs nothing to plan.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Read:
    """Page ``number`` of ``size`` rows: rows ``start`` to ``end - 1`` of the listing."""

    number: int
    size: int

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size

    @property
    def end(self) -> int:
        return self.number * self.size


@dataclass(frozen=True)
class Probe:
    """Reads (contiguous, usually one) that show rows either side of some page boundaries."""

    reads: tuple[Read, ...]

    @property
    def start(self) -> int:
        return self.reads[0].start


def chain_read(k: int, size: int) -> Read:
    """The chain's k-th read: page k of ``size - k + 1`` rows (k - 1 rows shared with read
    k - 1; it covers rows up to ``k * (size - k + 1)``)."""
    return Read(k, size - k + 1)


def chain_reads(rows: int, size: int) -> int | None:
    """How many chain reads (page 1 included) cover ``rows`` rows, or None when no chain from
    pages of ``size`` reaches them (its coverage stops growing at ``k = (size + 1) // 2``)."""
    if rows <= size:
        return 1
    top = (size + 1) // 2
    if top * (size + 1 - top) < rows:
        return None
    # the smallest k with k * (size + 1 - k) >= rows: the lower root of a quadratic
    k = max(1, (size + 1 - math.isqrt((size + 1) ** 2 - 4 * rows)) // 2)
    while k * (size + 1 - k) < rows:
        k += 1
    while k > 1 and (k - 1) * (size + 2 - k) >= rows:
        k -= 1
    return k


class Layout:
    """How one walk reads its listing after page 1 of ``size`` rows: a chain when it costs no
    more requests than plain pages and their probes of up to ``largest`` rows (what the server
    serves) for ``rows`` rows, else those."""

    def __init__(self, size: int, largest: int, rows: int) -> None:
        self.size, self.largest = size, largest
        chain = chain_reads(rows, size)
        self.chained = chain is not None and chain - 1 <= self._plain(_pages(rows, size))

    def reads(self, rows: int) -> int | None:
        """Data reads (page 1 included) that cover ``rows`` rows; None: the chain cannot."""
        if self.chained:
            return chain_reads(rows, self.size)
        return _pages(rows, self.size)

    def read(self, k: int) -> Read:
        """The k-th data read."""
        return chain_read(k, self.size) if self.chained else Read(k, self.size)

    def is_read(self, number: int, size: int) -> bool:
        """Whether page ``number`` of ``size`` rows is one of this layout's data reads."""
        return number >= 1 and self.read(number).size == size

    def probes(self, reads: int) -> list[Probe]:
        """The probes for the boundaries between the first ``reads`` data reads (none in a
        chain: its reads overlap)."""
        if self.chained:
            return []
        return probe_plan([k * self.size for k in range(1, reads)], self.largest)

    def requests(self, reads: int) -> int:
        """Requests after page 1 for ``reads`` data reads, probes included."""
        return reads - 1 if self.chained else self._plain(reads)

    def _plain(self, pages: int) -> int:
        """Requests after page 1 for ``pages`` plain pages and their probes."""
        return pages - 1 + probe_requests(pages - 1, self.size, self.largest)


def _pages(rows: int, size: int) -> int:
    return max(1, -(-rows // size))


def _small_probe(position: int, largest: int) -> Probe:
    """The smallest read that shows rows ``position - 1`` and ``position`` together: one page
    of a size up to ``largest`` that keeps them together, else a row each."""
    for size in range(2, largest + 1):
        if position % size:
            return Probe((Read(position // size + 1, size),))
    return Probe((Read(position, 1), Read(position + 1, 1)))


def probe_plan(boundaries: Sequence[int], largest: int) -> list[Probe]:
    """Few reads that show every boundary (a boundary at ``position`` lies between rows
    ``position - 1`` and ``position``; ``boundaries`` ascending): one page of ``largest``
    rows shows all the boundaries inside it (small pages: many per read), a boundary on its
    edge gets its own."""
    inside: dict[int, list[int]] = {}
    for position in boundaries:
        if (position - 1) // largest == position // largest:
            inside.setdefault(position // largest + 1, []).append(position)
    plan = [Probe((Read(number, largest),)) for number, group in inside.items() if len(group) > 1]
    shared = {p for number, group in inside.items() if len(group) > 1 for p in group}
    return plan + [_small_probe(p, largest) for p in boundaries if p not in shared]


def probe_requests(boundaries: int, page_size: int, largest: int) -> int:
    """How many reads ``probe_plan`` makes for the boundaries after pages 1..``boundaries`` of
    ``page_size`` rows, counted arithmetically: a read per ``largest``-row page holding a
    boundary inside it, one per boundary on such a page's edge, and a second for an edge no
    page size up to ``largest`` keeps together."""
    if boundaries <= 0:
        return 0
    step = largest // math.gcd(page_size, largest)  # every step-th boundary is on an edge
    edges = boundaries // step
    return (
        _pages_with_inner_boundaries(boundaries, page_size, largest)
        + edges
        + _unsplittable(boundaries, page_size, largest)
    )


def _unsplittable(boundaries: int, page_size: int, largest: int) -> int:
    """How many of the boundaries no page size from 2 to ``largest`` keeps inside a page: those
    at a multiple of every such size, i.e. of their least common multiple (which passes any
    position there is once ``largest`` is past a few dozen)."""
    multiple, last = 1, boundaries * page_size
    for size in range(2, largest + 1):
        multiple = math.lcm(multiple, size)
        if multiple > last:
            return 0
    return boundaries // (multiple // math.gcd(multiple, page_size))


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


def shown(unchecked: list[int], start: int, end: int) -> None:
    """Drop from ``unchecked`` (ascending) the boundaries a read of rows ``start`` to
    ``end - 1`` shows: those strictly inside it."""
    del unchecked[bisect_left(unchecked, start + 1) : bisect_left(unchecked, end)]
