"""``list_all``: the whole portfolio from the companies listing (embedded connections), the same
answer as walking each company, at a fraction of the requests; failures reported, not fatal."""

from __future__ import annotations

import pandas as pd
import pytest

import codat_nb
from codat_nb.platforms import PLATFORMS
from codat_nb.sandbox.store import connection_wire, new_uuid, stamp
from tests.hostile import Answer, connection, hostile, page


@pytest.mark.parametrize(
    ("query", "order_by"),
    [
        (None, None),
        ("status=Linked", None),
        (None, "-lastSync"),
        ("sourceType=Accounting && {status=Deauthorized || status=Unlinked}", "platformName"),
        ("lastSync<2026-10-01", "-created"),
    ],
)
def test_embedded_equals_the_per_company_walk(demo_sandbox, demo_client, query, order_by):
    before = demo_sandbox.store.request_count
    embedded = demo_client.connections.list_all(query=query, order_by=order_by)
    cost = demo_sandbox.store.request_count - before
    walked = demo_client.connections.list_all(query, order_by, strategy="per_company")
    pd.testing.assert_frame_equal(embedded, walked)
    assert len(embedded) > 0
    assert embedded.attrs["requests"] == cost == 1  # 279 companies, one page of 5,000
    assert walked.attrs["requests"] > len(demo_sandbox.store.company_ids())
    assert (embedded.attrs["strategy"], walked.attrs["strategy"]) == ("embedded", "per_company")


def test_a_large_portfolio_is_two_requests(unlimited_sandbox, client_for):
    """6,000 companies: two pages of companies (the second overlapping the first by a row, so
    they check their own boundary), where the walk of each company (compared against it;
    Codat's per-minute limit turned off for it) costs 6,001."""
    sandbox = unlimited_sandbox
    client = client_for(sandbox)
    platform = PLATFORMS["gbol"]
    rng_seed = __import__("random").Random("large")
    companies = []
    for n in range(6_000):
        company_id = new_uuid(rng_seed)
        rows = [
            connection_wire(
                connection_id=(cid := new_uuid(rng_seed)),
                platform=platform,
                source_id=new_uuid(rng_seed),
                link_url=sandbox.store.link_url(company_id, cid),
                status="Linked",
                created=stamp(sandbox.clock.now()),
            )
            for _ in range(2)
        ]
        details = {"id": company_id, "name": f"Company {n}", "redirect": "https://x"}
        companies.append((details, rows))
    sandbox.store.ingest(companies)
    frame = client.connections.list_all()
    assert frame.attrs["requests"] == 2  # pages 1 of 5,000 and 2 of 4,999 companies
    assert len(frame) == 12_000 and frame["company_id"].nunique() == 6_000
    walked = client.connections.list_all(strategy="per_company", concurrency=4)
    pd.testing.assert_frame_equal(frame, walked)


def test_companies_list_can_return_the_connections_from_the_same_request(demo_sandbox):
    client = codat_nb.CodatClient(auth_header=demo_sandbox.auth_header, base_url=demo_sandbox.url)
    before = demo_sandbox.store.request_count
    companies, connections = client.companies.list(with_connections=True)
    assert demo_sandbox.store.request_count - before == 1
    pd.testing.assert_frame_equal(connections, client.connections.list_all())
    assert list(companies["connection_count"]) == [
        int((connections["company_id"] == c).sum()) for c in companies["company_id"]
    ]


COMPANY_A = "7f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f"
COMPANY_B = "8f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f"


def two_companies(embed: bool, forbidden: str | None = None):
    """A hostile Codat with two companies; B answers 403 for its connections if forbidden."""

    def company(cid, name, n):
        row = {"id": cid, "name": name, "redirect": "https://link.codat.io/company/x"}
        if embed:
            row["dataConnections"] = [connection(n)]
        return row

    def answer(asked):
        if asked.path == "/companies":
            return Answer(
                body=page([company(COMPANY_A, "A Ltd", 1), company(COMPANY_B, "B Ltd", 2)])
            )
        if forbidden and forbidden in asked.path:
            body = {"statusCode": 403, "error": "Forbidden", "correlationId": "c0ffee"}
            return Answer(403, body)
        n = 1 if COMPANY_A in asked.path else 2
        return Answer(body=page([connection(n)]))

    return answer


def test_companies_without_embedded_connections_fall_back_to_walking_each():
    with (
        hostile(two_companies(embed=False)) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.warns(codat_nb.CodatWarning, match="carry no dataConnections"),
    ):
        frame = client.connections.list_all()
    assert frame.attrs["strategy"] == "per_company"
    assert list(frame["company_name"]) == ["A Ltd", "B Ltd"]


def test_one_company_refused_is_reported_not_fatal():
    with (
        hostile(two_companies(embed=False, forbidden=COMPANY_B)) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.warns(codat_nb.CodatWarning, match="1 of 2 companies could not be read"),
    ):
        frame = client.connections.list_all(strategy="per_company")
    assert list(frame["company_name"]) == ["A Ltd"]
    failures = frame.attrs["failures"]
    assert failures.to_dict("records") == [
        {
            "company_id": COMPANY_B,
            "company_name": "B Ltd",
            "error": "PermissionDeniedError",
            "status_code": 403,
            "correlation_id": "c0ffee",
            "message": "Forbidden",
        }
    ]
    with (
        hostile(two_companies(embed=False, forbidden=COMPANY_B)) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.raises(codat_nb.PermissionDeniedError, match="c0ffee"),
    ):
        client.connections.list_all(strategy="per_company", strict=True)


def test_the_per_company_walk_is_refused_when_the_quota_cannot_cover_it():
    with codat_nb.Sandbox(seed="demo", daily_quota=100) as sb:
        client = codat_nb.CodatClient(auth_header=sb.auth_header, base_url=sb.url)
        before = sb.store.request_count
        needed = len(sb.store.company_ids())  # one listing per company
        with pytest.raises(codat_nb.QuotaExceededError, match=f"at least {needed} requests"):
            client.connections.list_all(strategy="per_company")
        assert sb.store.request_count - before == 1  # the companies page, nothing more
        assert len(client.connections.list_all()) >= 1000  # the embedded way fits easily


def test_bad_strategy_or_strict_is_refused():
    client = codat_nb.CodatClient("k", base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="strategy must be one of"):
        client.connections.list_all(strategy="fast")
    with pytest.raises(TypeError, match="strict"):
        client.connections.list_all(strict="yes")


def test_two_portfolios_concatenate(demo_sandbox, demo_client):
    """pandas compares attrs when it concatenates: the failures table must compare as a whole."""
    first = demo_client.connections.list_all()
    second = demo_client.connections.list_all(strategy="per_company")
    both = pd.concat([first, second], ignore_index=True)
    assert len(both) == 2 * len(first)
    failures = first.attrs["failures"]
    assert isinstance(failures, pd.DataFrame) and failures.empty
    assert failures == second.attrs["failures"]
    assert list(failures.columns) == [
        "company_id",
        "company_name",
        "error",
        "status_code",
        "correlation_id",
        "message",
    ]
