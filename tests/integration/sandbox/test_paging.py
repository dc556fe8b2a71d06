"""Paging exactly as Codat documents it: defaults, totals, _links, walking ``next``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from codat_nb.sandbox.seed import scale_company


def walk(session, sb, url, **params):
    """Follow ``next`` from the first page; returns every page body."""
    pages = [session.get(url, params=params).json()]
    while "next" in pages[-1]["_links"]:
        assert len(pages) < 10_000, "next links never end"
        pages.append(session.get(sb.url + pages[-1]["_links"]["next"]["href"]).json())
    return pages


@pytest.fixture
def company(sandbox):
    """An empty company; tests add as many rows as they need straight through the store."""
    return sandbox.store.create_company("Paging Ltd")["id"]


def fill(sandbox, company, count):
    for _ in range(count):
        sandbox.store.create_connection(company, "gbol")
    return [c["id"] for c in sandbox.store.connections_wire(company)]


def test_zero_rows(sandbox, session, company):
    url = f"{sandbox.url}/companies/{company}/connections"
    (page,) = walk(session, sandbox, url)
    assert page["results"] == [] and page["totalResults"] == 0
    assert page["pageNumber"] == 1 and page["pageSize"] == 100
    assert page["_links"] == {
        "self": {"href": f"/companies/{company}/connections"},
        "current": {"href": f"/companies/{company}/connections?page=1&pageSize=100"},
    }


def test_exactly_one_page(sandbox, session, company):
    ids = fill(sandbox, company, 5)
    url = f"{sandbox.url}/companies/{company}/connections"
    (page,) = walk(session, sandbox, url, pageSize=5)
    assert [c["id"] for c in page["results"]] == ids
    assert set(page["_links"]) == {"self", "current"}


def test_partial_last_page_and_previous_links(sandbox, session, company):
    ids = fill(sandbox, company, 7)
    url = f"{sandbox.url}/companies/{company}/connections"
    pages = walk(session, sandbox, url, pageSize=3)
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert [c["id"] for p in pages for c in p["results"]] == ids
    assert all(p["totalResults"] == 7 for p in pages)
    assert [p["pageNumber"] for p in pages] == [1, 2, 3]
    assert "previous" not in pages[0]["_links"]
    assert pages[2]["_links"]["previous"]["href"].endswith("?page=2&pageSize=3")


def test_many_pages_with_query_and_order_carried_in_links(sandbox, session, company):
    fill(sandbox, company, 30)
    for conn in sandbox.store.connections_wire(company)[::2]:
        sandbox.store.link(company, conn["id"])
    url = f"{sandbox.url}/companies/{company}/connections"
    pages = walk(session, sandbox, url, pageSize=4, query="status=Linked", orderBy="-lastSync")
    assert len(pages) == 4
    rows = [c for p in pages for c in p["results"]]
    assert len(rows) == 15 == len({c["id"] for c in rows})
    assert all(c["status"] == "Linked" for c in rows)
    syncs = [c["lastSync"] for c in rows]
    assert syncs == sorted(syncs, reverse=True)
    nxt = parse_qs(urlsplit(pages[0]["_links"]["next"]["href"]).query)
    assert nxt == {
        "page": ["2"], "pageSize": ["4"], "query": ["status=Linked"], "orderBy": ["-lastSync"],
    }  # fmt: skip
    assert "query=status%3DLinked" in pages[0]["_links"]["next"]["href"]


def test_page_beyond_the_end_is_empty_200(sandbox, session, company):
    fill(sandbox, company, 3)
    response = session.get(
        f"{sandbox.url}/companies/{company}/connections", params={"page": 9, "pageSize": 2}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [] and body["totalResults"] == 3 and body["pageNumber"] == 9
    assert "next" not in body["_links"] and "previous" in body["_links"]


@pytest.mark.parametrize(
    ("params", "item"),
    [
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"page": "one"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": ""}, "page"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 5001}, "pageSize"),
        ({"pageSize": "ten"}, "pageSize"),
        ({"pageSize": 99999999999}, "pageSize"),
        ({"page": [1, 2]}, "page"),
    ],
)
def test_bad_paging_parameters_are_400(sandbox, session, company, expect_error, params, item):
    url = f"{sandbox.url}/companies/{company}/connections"
    expect_error(session.get(url, params=params), 400, item_id=item)
    expect_error(session.get(f"{sandbox.url}/companies", params=params), 400, item_id=item)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pageSize": 99999999999}, "must be from 1 to 5000, got 99999999999"),
        ({"pageSize": "9" * 5000}, "must be from 1 to 5000, got 999"),
        ({"page": 2**31}, "must be from 1 to 2147483647, got 2147483648"),
        ({"page": -1}, "must be from 1 to 2147483647, got -1"),
        ({"page": "1e3"}, "must be an integer, got '1e3'"),
    ],
)
def test_out_of_range_paging_says_range_not_type(
    sandbox, session, company, expect_error, params, message
):
    """An integer out of range is reported as out of range, with the bounds, never as a
    non-integer; the contract's page is an int32."""
    url = f"{sandbox.url}/companies/{company}/connections"
    body = expect_error(session.get(url, params=params), 400, item_id=next(iter(params)))
    (item,) = body["validation"]["errors"]
    assert message in item["message"]
    assert item["validatorName"] == ("Integer" if "integer" in message else "Range")


def test_page_size_bounds_are_accepted(sandbox, session, company):
    fill(sandbox, company, 2)
    url = f"{sandbox.url}/companies/{company}/connections"
    assert session.get(url, params={"pageSize": 1}).json()["pageSize"] == 1
    assert session.get(url, params={"pageSize": 5000}).json()["pageSize"] == 5000
    last = session.get(url, params={"page": 2**31 - 1, "pageSize": "0001"}).json()
    assert (last["pageNumber"], last["pageSize"], last["results"]) == (2**31 - 1, 1, [])


def test_demo_companies_walk_covers_every_company_once(demo_sandbox, demo_session):
    pages = walk(demo_session, demo_sandbox, f"{demo_sandbox.url}/companies", pageSize=50)
    ids = [c["id"] for p in pages for c in p["results"]]
    assert ids == demo_sandbox.store.company_ids()
    assert len(pages) == -(-len(ids) // 50)


def test_scale_company_pages_with_ordering_never_overlap(sandbox, session):
    """Many equal keys (status) across 5,000 rows: the id tie-break keeps pages disjoint."""
    cid = scale_company(sandbox.store, 5_000, "Scale Test Ltd")
    url = f"{sandbox.url}/companies/{cid}/connections"
    pages = walk(session, sandbox, url, pageSize=700, orderBy="status")
    rows = [c for p in pages for c in p["results"]]
    assert len(rows) == 5_000 == len({c["id"] for c in rows})
    keys = [(c["status"], c["id"]) for c in rows]
    assert keys == sorted(keys)


def test_max_page_size_serves_fewer_rows_while_echoing_the_page_size(sandbox, session, company):
    """As Codat's PagingInfo maximum (2,000) would, below the 5,000 its paging guide allows: a
    page of 3 asked for comes back with 2 rows and ``pageSize: 3``, and the next page starts at
    row 3, so a client that trusts the echo loses the row between."""
    ids = fill(sandbox, company, 7)
    sandbox.faults.max_page_size = 2
    url = f"{sandbox.url}/companies/{company}/connections"
    pages = walk(session, sandbox, url, pageSize=3)
    assert [p["pageSize"] for p in pages] == [3, 3, 3]
    assert [p["totalResults"] for p in pages] == [7, 7, 7]
    assert [[c["id"] for c in p["results"]] for p in pages] == [ids[0:2], ids[3:5], ids[6:7]]
    companies = session.get(f"{sandbox.url}/companies", params={"pageSize": 3}).json()
    assert companies["pageSize"] == 3 and len(companies["results"]) == 1  # one company
    sandbox.faults.max_page_size = None
    assert len(session.get(url, params={"pageSize": 3}).json()["results"]) == 3


def test_query_argument_names_are_matched_case_insensitively(sandbox, session, company):
    """ASP.NET binds query arguments whatever their case; Codat's own guide writes
    ``orderby=-modifiedDate`` (docs/using-the-api/ordering-results.md). The links carry the
    documented names; a look-alike letter (the long s, which ``str.upper`` makes an ``S``) does
    not make the argument."""
    ids = fill(sandbox, company, 5)
    for link_id in ids[:2]:
        sandbox.store.link(company, link_id)
    url = f"{sandbox.url}/companies/{company}/connections"
    page = session.get(url, params={"PAGESIZE": 2, "Page": 2, "orderby": "-created"}).json()
    assert (page["pageNumber"], page["pageSize"], page["totalResults"]) == (2, 2, 5)
    newest_first = [
        c["id"]
        for c in sorted(
            sandbox.store.connections_wire(company), key=lambda c: c["created"], reverse=True
        )
    ]
    assert [c["id"] for c in page["results"]] == newest_first[2:4]
    assert page["_links"]["next"]["href"].endswith("?page=3&pageSize=2&orderBy=-created")
    queried = session.get(url, params={"QUERY": "status=Linked", "pagesize": 5}).json()
    assert sorted(c["id"] for c in queried["results"]) == sorted(ids[:2])
    lookalike = session.get(url, params={"page\u017fize": 1}).json()  # not pageSize: ignored
    assert lookalike["pageSize"] == 100
    twice = session.get(url, params=[("pageSize", 1), ("PageSize", 2)])
    assert twice.status_code == 400 and "give pageSize once" in twice.text
