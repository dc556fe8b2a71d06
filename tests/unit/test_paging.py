"""The page walker's rules, over an in-memory server that pages by offset as Codat does."""

from __future__ import annotations

import sys

import pytest

import codat_nb
from codat_nb import paging
from codat_nb.arguments import ListingArgs
from codat_nb.listing import Source


def ids(*names):
    return [{"id": n} for n in names]


class OffsetServer:
    """``rows`` paged by ``page``/``pageSize`` (offset = (page - 1) * size), as Codat pages.

    ``cap`` serves at most that many rows per page (``echo`` says so in pageSize or not);
    ``before_page`` runs before a page is served (to change the data mid-walk)."""

    def __init__(self, rows, cap=None, echo=True, before_page=None):
        self.rows, self.cap, self.echo, self.before_page = list(rows), cap, echo, before_page
        self.requests = []

    def __call__(self, params):
        self.requests.append(dict(params))
        if self.before_page:
            self.before_page(self, params)
        page, asked = params["page"], params["pageSize"]
        size = min(asked, self.cap) if self.cap else asked
        start = (page - 1) * size
        return {
            "results": self.rows[start : start + size],
            "pageNumber": page,
            "pageSize": size if self.echo else asked,
            "totalResults": len(self.rows),
        }


def walk(server, **args):
    return paging.collect(Source(server, "things"), ListingArgs(**args))


def test_one_page_listing_is_one_request_and_needs_no_check():
    server = OffsetServer(ids(*"abcde"))
    assert [r["id"] for r in walk(server, page_size=10)] == list("abcde")
    assert len(server.requests) == 1


def test_small_pages_are_checked_by_one_large_read():
    server = OffsetServer(ids(*"abcdefghij"))
    assert [r["id"] for r in walk(server, page_size=4, concurrency=2)] == list("abcdefghij")
    pages = [r for r in server.requests if r["pageSize"] == 4]
    checks = [r for r in server.requests if r["pageSize"] != 4]
    assert len(pages) == 3  # boundaries at rows 4 and 8, both inside one page of 5,000
    assert checks == [{"page": 1, "pageSize": 5000}]


def test_a_boundary_on_the_edge_of_the_largest_page_gets_a_small_read():
    server = OffsetServer(ids(*range(12)), cap=6)  # 6 per page at most: boundary 6 is an edge
    assert len(walk(server, page_size=6)) == 12
    checks = [r for r in server.requests if r["pageSize"] != 6]
    assert len(checks) == 1 and checks[0]["pageSize"] < 6  # rows 5 and 6 in one small page


def test_probe_plan_groups_boundaries_and_covers_each_once():
    edges = [(n * 100, f"b{n}", f"a{n}") for n in range(1, 100)]  # 10,000 rows, pages of 100
    plan = paging.probe_plan(edges, 5000)
    assert sum(len(p.pages) for p in plan) == 3  # two pages of 5,000 and boundary 5,000 alone
    covered = [b for probe in plan for b in probe.boundaries]
    assert sorted(covered) == sorted(edges)
    for probe in plan:
        for position, _, _ in probe.boundaries:
            first = probe.start
            last = first + sum(size for size, _ in probe.pages)
            assert first <= position - 1 and position < last  # both rows are in the read


def test_a_row_deleted_and_another_added_mid_walk_is_not_a_silent_swap():
    """The issue's case: one already-fetched row is deleted and one created while the walk is
    on page 2, so totalResults stays the same and a row slides over the boundary unseen."""
    changed = []

    def churn(server, params):
        if params == {"page": 2, "pageSize": 50} and not changed:
            del server.rows[10]
            server.rows.append({"id": "new"})
            changed.append(True)

    server = OffsetServer(ids(*range(300)), before_page=churn)
    with pytest.warns(codat_nb.CodatWarning, match="slid across a page boundary"):
        rows = walk(server, page_size=50)
    assert [r["id"] for r in rows] == [r["id"] for r in server.rows]  # the state after the change


def test_churn_that_never_stops_raises_instead_of_answering_wrong():
    counter = iter(range(10**6))

    def churn(server, params):
        if params["page"] == 2:
            del server.rows[0]
            server.rows.append({"id": f"new-{next(counter)}"})

    server = OffsetServer(ids(*range(120)), before_page=churn)
    with pytest.warns(codat_nb.CodatWarning), pytest.raises(codat_nb.IncompleteListingError):
        walk(server, page_size=50)


def test_rows_repeated_by_the_server_are_deduplicated_with_a_warning():
    server = OffsetServer(ids("a", "b", "b", "c"))

    def counting_distinct(params):  # a server that repeats a row but counts it once
        return {**server(params), "totalResults": 3}

    with pytest.warns(codat_nb.CodatWarning, match="1 row.*dropped by id"):
        rows = paging.collect(Source(counting_distinct, "things"), ListingArgs(page_size=10))
    assert [r["id"] for r in rows] == ["a", "b", "c"]


def test_a_short_server_raises_after_three_walks():
    server = OffsetServer(ids("a", "b"))
    server_total = OffsetServer.__call__

    def lying(params):  # claims 5 rows, serves 2
        return {**server_total(server, params), "totalResults": 5}

    source = Source(lying, "things")
    with (
        pytest.warns(codat_nb.CodatWarning),
        pytest.raises(codat_nb.IncompleteListingError, match="page 2 was empty"),
    ):
        paging.collect(source, ListingArgs(page_size=2, concurrency=2))
    assert sum(1 for r in server.requests if r["page"] == 1) == paging.MAX_WALKS


def test_an_absurd_total_stops_at_the_first_empty_page():
    server = OffsetServer(ids("a", "b"))

    def absurd(params):
        return {**OffsetServer.__call__(server, params), "totalResults": 2**31}

    with pytest.warns(codat_nb.CodatWarning), pytest.raises(codat_nb.IncompleteListingError):
        paging.collect(Source(absurd, "things"), ListingArgs(page_size=2, concurrency=10))
    assert len(server.requests) <= paging.MAX_WALKS * 12  # never millions of pages


def test_something_that_is_not_a_page_is_a_clear_error():
    with pytest.raises(codat_nb.CodatError, match="page 1 of things is not a Codat page"):
        paging.collect(Source(lambda params: {"oops": True}, "things"), ListingArgs())


@pytest.mark.parametrize("echo", [True, False], ids=["cap said", "cap silent"])
def test_a_server_that_caps_page_size_is_still_walked_completely(echo):
    server = OffsetServer(ids(*"abcdefghij"), cap=3, echo=echo)
    assert [r["id"] for r in walk(server, page_size=5, concurrency=2)] == list("abcdefghij")
    walked = paging.iterate(Source(server, "things"), ListingArgs(page_size=5))
    assert [r["id"] for r in walked] == list("abcdefghij")


def test_iter_raises_at_the_end_when_a_boundary_moved():
    def churn(server, params):
        if params == {"page": 2, "pageSize": 4}:
            del server.rows[0]

    server = OffsetServer(ids(*"abcdefghij"), before_page=churn)
    walked = paging.iterate(Source(server, "things"), ListingArgs(page_size=4))
    with pytest.raises(codat_nb.IncompleteListingError, match="not one consistent listing"):
        list(walked)


def test_limit_asks_for_no_more_than_it_needs():
    server = OffsetServer(ids(*range(50)))
    args = ListingArgs.check(limit=7)
    rows = paging.collect(Source(server, "things"), args)
    assert len(rows) == 7 and server.requests == [{"page": 1, "pageSize": 7}]


class ZMQInteractiveShell:  # the name is what is_watched looks at, as IPython's kernel shell
    pass


@pytest.mark.parametrize(
    ("environment", "watched"),
    [
        ({"JPY_SESSION_NAME": "/work/notebook.ipynb"}, True),  # JupyterLab, Notebook
        ({"VSCODE_PID": "42"}, True),  # VS Code
        ({}, False),  # nbconvert, papermill: their saved output would only say "0%"
    ],
    ids=["jupyter", "vscode", "nbconvert or papermill"],
)
def test_progress_bars_show_only_where_a_person_watches(monkeypatch, environment, watched):
    fake_ipython = type(sys)("IPython")
    fake_ipython.get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    for name in ("JPY_SESSION_NAME", "VSCODE_PID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert paging.is_watched() is watched
    bar = paging.progress_bar(10, None, "connections of company x", "page")
    assert bar.disable is not watched
    if watched:  # a disabled bar keeps no label
        assert bar.desc == "Listing connections of company x"


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 7, 10])
@pytest.mark.parametrize("extra", [0, 1, 2, 5, 13])
def test_probe_requests_counts_what_the_plan_reads(page_size, extra):
    """The quota check counts the boundary reads arithmetically; it must agree with the plan
    itself for any page size, server cap and number of pages."""
    for largest in {page_size, page_size + extra, 2 * page_size + extra, 30}:
        if largest < page_size:
            continue
        for boundaries in range(60):
            edges = [(n * page_size, None, None) for n in range(1, boundaries + 1)]
            planned = sum(len(p.pages) for p in paging.probe_plan(edges, largest))
            assert paging.probe_requests(boundaries, page_size, largest) == planned


def test_probe_requests_for_a_lying_total_is_arithmetic():
    """2**31 rows in pages of 10 would be a plan of 214 million boundaries: counted, not built."""
    assert paging.probe_requests(2**31 // 10, 10, 5000) == 2**31 // 10 // 500 + 2**31 // 5000 + 1
