"""The page walker's rules, over an in-memory server that pages by offset as Codat does."""

from __future__ import annotations

import sys

import pytest

import codat_nb
from codat_nb import page_plan, paging
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


def test_a_probe_cut_short_by_a_cap_page_1_did_not_show_is_followed_by_small_reads():
    """Pages of 6 asked and served, but the server serves no more than 6 rows a read: the
    probe of 5,000 rows shows only the first boundary; the others, on the edges of 6-row
    pages, get a small read each (rows 5 and 6 in a page of 4, and so on)."""
    server = OffsetServer(ids(*range(30)), cap=6)
    assert [r["id"] for r in walk(server, page_size=6)] == list(range(30))
    pages, probes = server.requests[:5], server.requests[5:]
    assert pages == [{"page": n, "pageSize": 6} for n in range(1, 6)]
    assert probes[0] == {"page": 1, "pageSize": 5000}  # cut to rows 0-5 by the cap
    assert len(probes) == 1 + 4 and all(r["pageSize"] < 6 for r in probes[1:])


def test_a_row_deleted_and_another_added_mid_walk_is_not_a_silent_swap():
    """The issue's case: one already-fetched row is deleted and one created while the walk is
    on page 2, so totalResults stays the same and a row slides over the boundary unseen."""
    changed = []

    def churn(server, params):
        if params["page"] == 2 and not changed:
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
    assert server.requests.count({"page": 1, "pageSize": 2}) == paging.MAX_WALKS


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


def test_ten_thousand_rows_are_three_overlapping_reads_and_no_check_of_their_own():
    """Page 1 of 5,000, then pages 2 of 4,999 and 3 of 4,998 together: each repeats the last
    rows of the one before it, so the boundaries are checked by the reads themselves."""
    server = OffsetServer(ids(*range(10_000)))
    assert [r["id"] for r in walk(server, page_size=5000, concurrency=4)] == list(range(10_000))
    assert server.requests == [
        {"page": 1, "pageSize": 5000},
        {"page": 2, "pageSize": 4999},
        {"page": 3, "pageSize": 4998},
    ]


@pytest.mark.parametrize(
    ("rows", "page_size", "cap"),
    [(10_000, 5000, None), (9_998, 5000, None), (300, 50, None), (1000, 100, None)]
    + [(230, 7, None), (100, 10, 6), (40, 3, None), (12, 1, None), (400, 50, 20)],
)
def test_a_walk_makes_the_requests_the_quota_check_counts(rows, page_size, cap):
    server = OffsetServer(ids(*range(rows)), cap=cap)
    assert len(walk(server, page_size=page_size, concurrency=3)) == rows
    size = min(page_size, cap or page_size)
    layout = page_plan.Layout(size, size if size < page_size else 5000, rows)
    assert len(server.requests) == 1 + layout.requests(layout.reads(rows))


def test_a_row_deleted_between_two_overlapping_reads_is_caught_by_their_overlap():
    """A row of page 1 deleted before page 2 is read: page 2 starts a row early and finds
    another row there. Nothing is read later to check: the reads' overlap is the check."""
    changed = []

    def churn(server, params):
        if params["page"] == 2 and not changed:
            del server.rows[3]
            server.rows.append({"id": "new"})  # the total stays 120
            changed.append(True)

    server = OffsetServer(ids(*range(120)), before_page=churn)
    with pytest.warns(codat_nb.CodatWarning, match="slid across a page boundary"):
        rows = walk(server, page_size=50)
    assert [r["id"] for r in rows] == [r["id"] for r in server.rows]
    assert server.requests[:3] == [  # the first walk: three overlapping reads, nothing more
        {"page": 1, "pageSize": 50},
        {"page": 2, "pageSize": 49},
        {"page": 3, "pageSize": 48},
    ]


def test_verified_costs_a_second_walk_when_nothing_changes():
    server = OffsetServer(ids(*range(230)))
    checked = walk(server, page_size=50)
    once = len(server.requests)
    verified = walk(server, page_size=50, consistency="verified")
    assert verified == checked and len(server.requests) - once == 2 * once


def test_verified_refuses_limit_before_anything_is_sent():
    with pytest.raises(ValueError, match="cannot be combined with limit"):
        ListingArgs.check(limit=10, consistency="verified")
    with pytest.raises(ValueError, match="consistency must be one of"):
        ListingArgs.check(consistency="strong")


def test_verified_raises_when_no_two_walks_agree():
    """A row deleted and another created before every page 2: each walk is consistent in
    itself (the checks hold) but no two walks agree."""
    counter = iter(range(10**6))

    def churn(server, params):
        if params["page"] == 2:
            server.rows.remove(server.rows[-1])
            server.rows.append({"id": f"new-{next(counter)}"})

    server = OffsetServer(ids(*range(120)), before_page=churn)
    with (
        pytest.warns(codat_nb.CodatWarning, match="walks disagreed"),
        pytest.raises(codat_nb.IncompleteListingError, match="no two consecutive walks of 4"),
    ):
        walk(server, page_size=50, consistency="verified")
    assert server.requests.count({"page": 1, "pageSize": 50}) == paging.VERIFIED_WALKS
