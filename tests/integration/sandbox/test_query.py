"""Codat's query language and orderBy: pure-function tests, then the same over HTTP."""

from __future__ import annotations

import pytest

from codat_nb.query import (
    QueryError,
    compile_order,
    compile_query,
    order_rows,
)
from codat_nb.wire.schema import CONNECTION

ROWS = [
    {"id": "a", "status": "Linked", "platformName": "Xero", "lastSync": "2026-10-01T10:00:00Z",
     "created": "2026-01-01T00:00:00Z", "connectionInfo": {"accountCount": 3, "bank": "HSBC UK"}},
    {"id": "b", "status": "Deauthorized", "platformName": "QuickBooks Online",
     "lastSync": "2026-10-01T11:30:00+02:00", "created": "2026-02-01T00:00:00Z"},
    {"id": "c", "status": "PendingAuth", "platformName": "Xero", "created": "2026-03-01T00:00:00Z",
     "connectionInfo": {"accountCount": 12, "bank": "Monzo"}},
    {"id": "d", "status": "Linked", "platformName": "Plaid",
     "lastSync": "2026-10-01T09:59:59.9999999Z", "created": "2026-03-01T00:00:00Z"},
]  # fmt: skip


def ids(query: str) -> list[str]:
    predicate = compile_query(query, CONNECTION)
    return [row["id"] for row in ROWS if predicate(row)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=Linked", ["a", "d"]),
        ("status!=Linked", ["b", "c"]),
        ("status=linked", []),  # equality is case-sensitive, as Codat's
        ("platformName~quick", ["b"]),  # contains ignores case
        ("Status=Linked", ["a", "d"]),  # property names are not case-sensitive
        ("lastSync>2026-10-01T09:30:00Z", ["a", "d"]),  # +02:00 is 09:30Z: not after
        ("lastSync>=2026-10-01T09:30:00Z", ["a", "b", "d"]),
        ("lastSync<2026-10-01", []),
        ("lastSync!=2026-10-01T10:00:00Z", ["b", "d"]),  # null never matches, even !=
        ("created<=2026-02-01", ["a", "b"]),
        ("status=Linked && platformName=Xero", ["a"]),
        ("status=PendingAuth || platformName=Plaid", ["c", "d"]),
        ("{status=Linked || status=PendingAuth} && platformName=Xero", ["a", "c"]),
        ("status=Linked || status=PendingAuth && platformName=Xero", ["a", "c", "d"]),
        ("connectionInfo.accountCount>5", ["c"]),
        ("connectionInfo.accountCount=3", ["a"]),
        ("connectionInfo.bank~hsbc", ["a"]),
        ("connectionInfo.missing=1", []),
        ('platformName="Xero"', ["a", "c"]),
        ("  status = Linked  ", ["a", "d"]),
    ],
)
def test_query_semantics(query, expected):
    assert ids(query) == expected


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("status=", "missing value"),
        ("status==Linked", "single = for equality"),
        ("status", "expected an operator"),
        ("=Linked", "expected a property name"),
        ("status=Linked &&", "expected a property name"),
        ("{status=Linked", "expected }"),
        ("status=Linked}", "expected && or ||"),
        ("bogus=1", "Could not resolve property bogus on Connection"),
        ("status.x=1", "Could not resolve property status.x"),
        ("dataConnectionErrors=1", "inside arrays"),
        ("connectionInfo=1", "is an object"),
        ("status>Linked", "numbers and dates"),
        ("lastSync~2026", "for strings"),
        ("lastSync>yesterday", "not a date"),
        ('status="Linked', "unterminated"),
        ("   ", "empty"),
        ("status=" + "x" * 2050, "limit is 2048"),
    ],
)
def test_malformed_queries_name_the_problem(query, fragment):
    with pytest.raises(QueryError, match=None) as info:
        compile_query(query, CONNECTION)
    assert fragment in str(info.value)


def test_order_by_dates_as_instants_with_id_tie_break_and_nulls_last():
    asc = order_rows(ROWS, compile_order("lastSync", CONNECTION))
    assert [r["id"] for r in asc] == ["b", "d", "a", "c"]
    desc = order_rows(ROWS, compile_order("-lastSync", CONNECTION))
    assert [r["id"] for r in desc] == ["a", "d", "b", "c"]
    ties = order_rows(ROWS, compile_order("-created", CONNECTION))
    assert [r["id"] for r in ties] == ["c", "d", "b", "a"]  # c and d tie: by id ascending


@pytest.mark.parametrize(
    ("order", "fragment"),
    [("bogus", "Could not resolve"), ("-", "not a property"), ("dataConnectionErrors", "arrays")],
)
def test_bad_order_by(order, fragment):
    with pytest.raises(QueryError) as info:
        compile_order(order, CONNECTION)
    assert fragment in str(info.value) and info.value.item_id == "orderBy"


def test_query_over_http_matches_python_filter(demo_sandbox, demo_session):
    cid = max(
        demo_sandbox.store.company_ids(), key=lambda c: len(demo_sandbox.store.connections_wire(c))
    )
    url = f"{demo_sandbox.url}/companies/{cid}/connections"
    query = "{sourceType=Commerce || sourceType=Banking} && status!=PendingAuth"
    body = demo_session.get(url, params={"query": query, "orderBy": "platformName"}).json()
    expected = [
        c for c in demo_sandbox.store.connections_wire(cid)
        if c["sourceType"] in ("Commerce", "Banking") and c["status"] != "PendingAuth"
    ]  # fmt: skip
    expected.sort(key=lambda c: (c["platformName"], c["id"]))
    assert body["results"] == expected
    assert body["totalResults"] == len(expected)


def test_malformed_query_over_http_is_400_and_changes_nothing(
    demo_sandbox, demo_session, expect_error
):
    cid = demo_sandbox.store.company_ids()[0]
    url = f"{demo_sandbox.url}/companies/{cid}/connections"
    before = demo_sandbox.store.snapshot()
    body = expect_error(demo_session.get(url, params={"query": "status=="}), 400, item_id="query")
    assert body["error"].startswith("Error parsing query - ")
    body = expect_error(
        demo_session.get(url, params={"query": "isCompleted=true"}), 400, item_id="query"
    )
    assert body["error"] == (
        "Error parsing query - Could not resolve property isCompleted on Connection"
    )
    expect_error(demo_session.get(url, params={"orderBy": "nope"}), 400, item_id="orderBy")
    expect_error(demo_session.get(url, params={"query": "x" * 2049}), 400, item_id="query")
    expect_error(
        demo_session.get(f"{demo_sandbox.url}/companies", params={"query": "dataConnections=1"}),
        400,
        item_id="query",
        service="ClientsApi",
    )
    for beyond in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):  # not in UTC
        body = expect_error(
            demo_session.get(
                f"{demo_sandbox.url}/companies", params={"query": f"created>{beyond}"}
            ),
            400,
            item_id="query",
            service="ClientsApi",
        )
        assert "is not a date" in body["error"]
    assert demo_sandbox.store.snapshot() == before


def test_ignore_query_lists_every_connection(sandbox, session):
    """Codat's querying guide says queries do not work on data connections: with
    ``ignore_query`` the sandbox answers as if none was sent (even a malformed one), while the
    links still carry it."""
    company = sandbox.store.create_company("Unfiltered Ltd")["id"]
    linked = sandbox.store.create_connection(company, "gbol")["id"]
    sandbox.store.link(company, linked)
    sandbox.store.create_connection(company, "qhyg")
    sandbox.faults.ignore_query = True
    url = f"{sandbox.url}/companies/{company}/connections"
    for query in ("status=Linked", "status=="):
        body = session.get(url, params={"query": query}).json()
        assert body["totalResults"] == 2 and len(body["results"]) == 2
        assert "query=" in body["_links"]["current"]["href"]
    sandbox.faults.ignore_query = False
    assert session.get(url, params={"query": "status=Linked"}).json()["totalResults"] == 1


def test_array_conditions_any_element_and_none_equal():
    from codat_nb.wire.schema import COMPANY

    companies = [
        {"id": "none", "dataConnections": []},
        {"id": "pending", "dataConnections": [{"status": "PendingAuth"}]},
        {"id": "mixed", "dataConnections": [{"status": "Linked"}, {"status": "PendingAuth"}]},
        {"id": "missing"},
    ]

    def ids(query: str) -> list[str]:
        predicate = compile_query(query, COMPANY, arrays=True)
        return [c["id"] for c in companies if predicate(c)]

    assert ids("dataConnections.status=PendingAuth") == ["pending", "mixed"]
    assert ids("dataConnections.status!=Linked") == ["none", "pending"]
    assert ids("dataConnections.status~pend") == ["pending", "mixed"]
    with pytest.raises(QueryError, match="array"):
        compile_query("dataConnections.status=Linked", COMPANY)  # arrays not allowed
