"""The reads a walk plans, as arithmetic: the chain of overlapping pages, the probes of plain
pages, and the counts the quota check makes from them without listing a read."""

from __future__ import annotations

import pytest

from codat_nb import page_plan
from codat_nb.page_plan import Layout, Read, chain_read, chain_reads


def covered(size, reads):
    """Rows 0..n-1 covered by page 1 and chain reads 2..reads, each overlapping the last."""
    end = size
    for k in range(2, reads + 1):
        read = chain_read(k, size)
        assert read.start < end, (size, k)  # it repeats at least the last row before it
        end = max(end, read.end)
    return end


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 10, 50, 100, 5000])
def test_chain_reads_is_the_shortest_chain_that_covers_the_rows(size):
    top = (size + 1) // 2
    for rows in range(1, min(top * (size + 1 - top), 3000) + 1):
        reads = chain_reads(rows, size)
        assert covered(size, reads) >= rows > (covered(size, reads - 1) if reads > 1 else 0)
    assert chain_reads(top * (size + 1 - top) + 1, size) is None  # no chain reaches further


def test_each_chain_read_repeats_the_rows_the_one_before_it_ended_with():
    assert [(r.start, r.end) for r in (chain_read(k, 5000) for k in (2, 3, 4))] == [
        (4999, 9998),  # page 2 of 4,999: row 4,999 was page 1's last
        (9996, 14994),  # page 3 of 4,998: rows 9,996 and 9,997 were page 2's last two
        (14991, 19988),
    ]


@pytest.mark.parametrize(
    ("rows", "size", "reads", "requests"),
    [
        (5_000, 5000, 1, 0),  # one page, one atomic read
        (9_998, 5000, 2, 1),  # as many requests as plain pages
        (10_000, 5000, 3, 2),  # one more than plain pages (whose check would be one more too)
        (400_000, 5000, 82, 81),  # plain pages of 5,000 would need a probe per boundary: 158
        (6_000_000, 5000, 1999, 1998),
        (910, 100, 10, 9),
    ],
)
def test_a_chain_is_read_when_it_costs_no_more_than_plain_pages_and_probes(
    rows, size, reads, requests
):
    layout = Layout(size, 5000, rows)
    assert layout.chained and layout.reads(rows) == reads and layout.requests(reads) == requests


@pytest.mark.parametrize(
    ("rows", "size", "pages", "requests"),
    [
        (1_000, 100, 10, 10),  # 9 pages and one probe of 5,000 rows for their 9 boundaries
        (2_500, 100, 25, 25),  # a chain of pages of 100 would need 44 reads
        (230, 7, 33, 33),
        (6_300_000, 5000, 1260, 2518),  # past what a chain of pages of 5,000 reaches
    ],
)
def test_otherwise_plain_pages_and_probes_are_read(rows, size, pages, requests):
    layout = Layout(size, 5000, rows)
    assert not layout.chained and layout.reads(rows) == pages
    assert layout.requests(pages) == requests
    assert layout.read(3) == Read(3, size)


def test_a_lying_total_is_planned_arithmetically(monkeypatch):
    """2**31 rows: a chain of pages of 5,000 cannot reach them, pages of 10 would be 214
    million; both are counted without listing a read or a probe."""

    def listed(*args):
        raise AssertionError("a read was listed to count them")

    monkeypatch.setattr(page_plan, "probe_plan", listed)
    monkeypatch.setattr(page_plan, "chain_read", listed)
    for size in (5000, 10):
        layout = Layout(size, 5000, 2**31)
        assert not layout.chained and layout.requests(layout.reads(2**31)) > 2**31 // 5000


def test_probe_plan_groups_boundaries_and_covers_each_once():
    edges = [n * 100 for n in range(1, 100)]  # 10,000 rows, pages of 100
    plan = page_plan.probe_plan(edges, 5000)
    assert sum(len(p.reads) for p in plan) == 3  # two pages of 5,000 and boundary 5,000 alone
    for position in edges:  # each boundary inside one probe: rows position - 1 and position
        assert any(p.start <= position - 1 and position < p.reads[-1].end for p in plan)


def test_shown_drops_the_boundaries_strictly_inside_a_read():
    unchecked = [5, 10, 15, 20]
    page_plan.shown(unchecked, 5, 16)  # rows 5..15: shows 10 (rows 9, 10) and 15, not 5
    assert unchecked == [5, 20]


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 7, 10])
@pytest.mark.parametrize("extra", [0, 1, 2, 5, 13])
def test_probe_requests_counts_what_the_plan_reads(page_size, extra):
    """The quota check counts the boundary reads arithmetically; it must agree with the plan
    itself for any page size, server cap and number of pages."""
    for largest in {page_size, page_size + extra, 2 * page_size + extra, 30}:
        if largest < page_size:
            continue
        for boundaries in range(60):
            edges = [n * page_size for n in range(1, boundaries + 1)]
            planned = sum(len(p.reads) for p in page_plan.probe_plan(edges, largest))
            assert page_plan.probe_requests(boundaries, page_size, largest) == planned


def test_probe_requests_for_a_lying_total_is_arithmetic():
    """2**31 rows in pages of 10 would be a plan of 214 million boundaries: counted, not built."""
    assert page_plan.probe_requests(2**31 // 10, 10, 5000) == 2**31 // 10 // 500 + 2**31 // 5000 + 1
