"""Listings over real HTTP equal the sandbox's truth exactly: ids, order and count."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import requests

import codat_nb
from codat_nb.frames import CONNECTION_COLUMNS, connections_frame


def truth(sb, company_id, query=None, order_by=None):
    """The ids the sandbox holds for this query, in its order (its store, not its HTTP layer)."""
    return [
        row["id"]
        for row in sb.store.page_connections(company_id, 1, 10**6, query, order_by).results
    ]


@pytest.fixture
def company_230(sandbox, make_company):
    return make_company(sandbox, 230)


@pytest.mark.parametrize("page_size", [7, 100, 5000])
@pytest.mark.parametrize(
    ("query", "order_by"),
    [
        (None, None),
        ("status=Linked", None),
        (None, "-created"),
        ("sourceType!=Banking", "platformName"),
    ],
)
def test_list_equals_truth(sandbox, client, company_230, page_size, query, order_by):
    frame = client.connections.list(
        company_230, query=query, order_by=order_by, page_size=page_size
    )
    expected = truth(sandbox, company_230, query, order_by)
    assert list(frame["id"]) == expected
    assert len(expected) > 0
    assert frame["id"].is_unique


def test_filters_and_orders_really_apply(sandbox, client, company_230):
    every = sandbox.store.connections_wire(company_230)
    linked = client.connections.list(company_230, query="status=Linked", page_size=7)
    assert list(linked["id"]) == [r["id"] for r in every if r["status"] == "Linked"]
    newest_first = client.connections.list(company_230, order_by="-created", page_size=7)
    assert newest_first["created"].is_monotonic_decreasing
    assert set(newest_first["id"]) == {r["id"] for r in every}


@pytest.mark.parametrize(("query", "order_by"), [(None, None), ("status=PendingAuth", "-created")])
def test_page_size_one_on_small_data(make_company, sandbox, client, query, order_by):
    company_id = make_company(sandbox, 12)
    frame = client.connections.list(company_id, query=query, order_by=order_by, page_size=1)
    assert list(frame["id"]) == truth(sandbox, company_id, query, order_by)
    iterated = list(client.connections.iter(company_id, query, order_by, page_size=1))
    assert [c.id for c in iterated] == list(frame["id"])


def test_frame_matches_the_wire_rows(sandbox, client, company_230):
    frame = client.connections.list(company_230, page_size=50)
    expected = connections_frame(sandbox.store.connections_wire(company_230))
    pd.testing.assert_frame_equal(frame, expected)


def test_sequential_and_concurrent_agree(sandbox, client, client_for, company_230):
    one = client.connections.list(company_230, page_size=9, concurrency=1)
    ten = client_for(sandbox, max_concurrency=10).connections.list(
        company_230, page_size=9, concurrency=10
    )
    pd.testing.assert_frame_equal(one, ten)
    with pytest.raises(ValueError, match="max_concurrency"):
        client.connections.list(company_230, concurrency=5)


def test_limit_is_the_only_early_stop(sandbox, client, company_230):
    requests_before = sandbox.store.request_count
    frame = client.connections.list(company_230, page_size=10, limit=25)
    assert list(frame["id"]) == truth(sandbox, company_230)[:25]
    # four overlapping reads up to row 28 (pages of 10, 9, 8, 7: each repeats the last rows of
    # the one before, so they check their own boundaries), nothing past them
    assert sandbox.store.request_count - requests_before == 4
    assert len(client.connections.list(company_230, limit=10_000)) == 230
    assert len(list(client.connections.iter(company_230, page_size=10, limit=25))) == 25


def test_iter_is_lazy(sandbox, client, company_230):
    before = sandbox.store.request_count
    rows = client.connections.iter(company_230, page_size=100)
    assert sandbox.store.request_count == before  # nothing fetched until iterated
    first = next(rows)
    assert sandbox.store.request_count == before + 1
    assert isinstance(first, codat_nb.Connection)
    assert first.id == truth(sandbox, company_230)[0]
    rest = list(rows)
    assert [first.id] + [c.id for c in rest] == truth(sandbox, company_230)


def test_empty_results_keep_the_schema(sandbox, client, company_230):
    empty_company = sandbox.store.create_company("Nothing Connected Ltd")["id"]
    full = client.connections.list(company_230)
    for frame in (
        client.connections.list(empty_company),
        client.connections.list(company_230, query="platformName=Nonexistent"),
    ):
        assert frame.empty
        assert tuple(frame.columns) == CONNECTION_COLUMNS
        assert frame.dtypes.equals(full.dtypes)
    assert list(client.connections.iter(empty_company)) == []


def test_list_all_is_every_connection_of_every_company(demo_sandbox, demo_client):
    frame = demo_client.connections.list_all(page_size=3)
    expected = [
        (company_id, row["id"])
        for company_id in demo_sandbox.store.company_ids()
        for row in demo_sandbox.store.connections_wire(company_id)
    ]
    assert list(zip(frame["company_id"], frame["id"], strict=True)) == expected
    assert len(expected) >= 1000
    assert tuple(frame.columns[:2]) == ("company_id", "company_name")
    names = {c["id"]: c["name"] for c in demo_sandbox.store.list_companies_wire()}
    assert all(frame["company_name"] == frame["company_id"].map(names))
    linked = demo_client.connections.list_all(query="status=Linked")
    assert set(linked["status"]) == {"Linked"}
    assert list(linked["id"]) == list(frame.loc[frame["status"] == "Linked", "id"])


def test_companies_list_equals_truth(demo_sandbox, demo_client):
    frame = demo_client.companies.list(page_size=7)
    wire = demo_sandbox.store.list_companies_wire()
    assert list(frame["company_id"]) == [c["id"] for c in wire]
    assert list(frame["connection_count"]) == [len(c.get("dataConnections", [])) for c in wire]
    assert list(frame["company_name"]) == [c["name"] for c in wire]
    ids = [c.id for c in demo_client.companies.iter(page_size=50, limit=60)]
    assert ids == [c["id"] for c in wire][:60]


def test_rows_shifting_mid_walk_are_deduplicated_and_the_walk_repeated(
    make_company, sandbox, client, page_hook
):
    company_id = make_company(sandbox, 6)
    session = requests.Session()
    session.headers["Authorization"] = sandbox.auth_header

    def insert_newest():  # newest-first ordering: the new row pushes every other one down
        session.post(
            f"{sandbox.url}/companies/{company_id}/connections", json={"platformKey": "gbol"}
        )

    page_hook(insert_newest, after=1)
    with pytest.warns(codat_nb.CodatWarning, match="1 repeated across pages.*listed again"):
        frame = client.connections.list(company_id, order_by="-created", page_size=1, concurrency=1)
    assert list(frame["id"]) == truth(sandbox, company_id, None, "-created")
    assert len(frame) == 7
    assert frame["id"].is_unique


def test_rows_added_at_the_end_mid_walk_are_fetched_too(make_company, sandbox, client, page_hook):
    company_id = make_company(sandbox, 6)
    page_hook(lambda: sandbox.store.create_connection(company_id, "qhyg"), after=1)
    before = sandbox.store.request_count
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: no row was seen twice
        frame = client.connections.list(company_id, page_size=1, concurrency=1)
    assert list(frame["id"]) == truth(sandbox, company_id)
    assert len(frame) == 7
    # the walk grew by one page (7), checked its 6 boundaries in one read, was not repeated
    assert sandbox.store.request_count - before == 8


def test_a_walk_that_never_settles_raises_instead_of_returning_part(
    make_company, sandbox, client, page_hook
):
    company_id = make_company(sandbox, 40)

    def delete_first():  # a fetched row disappears, so an unfetched one slides onto its page
        sandbox.store.delete_connection(company_id, truth(sandbox, company_id)[0])

    page_hook(delete_first, after=2, times=10**6)
    with (
        pytest.warns(codat_nb.CodatWarning, match="listed again"),
        pytest.raises(codat_nb.IncompleteListingError, match="no result is returned"),
    ):
        client.connections.list(company_id, page_size=2, concurrency=1)


def test_iter_raises_at_the_end_when_rows_were_missed(make_company, sandbox, client, page_hook):
    company_id = make_company(sandbox, 10)

    def delete_first():
        sandbox.store.delete_connection(company_id, truth(sandbox, company_id)[0])

    page_hook(delete_first, after=2)
    rows = client.connections.iter(company_id, page_size=2)
    seen = []
    with pytest.raises(codat_nb.IncompleteListingError, match="not one consistent listing"):
        for connection in rows:
            seen.append(connection.id)
    assert len(seen) == 9  # the deleted row was already yielded; one slid onto a fetched page
