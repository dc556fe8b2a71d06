"""The six connections operations, the status machine and their errors, over real HTTP."""

from __future__ import annotations

import pytest
import requests

from codat_nb.platforms import PLATFORMS
from codat_nb.sandbox.rules import RuleViolation

MISSING = "00000000-0000-4000-8000-000000000000"


def make_company(sb, session, name="Bank of Dave") -> str:
    response = session.post(f"{sb.url}/companies", json={"name": name})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def connections_url(sb, company_id, connection_id=None) -> str:
    url = f"{sb.url}/companies/{company_id}/connections"
    return url if connection_id is None else f"{url}/{connection_id}"


def test_create_connection_is_pending_with_a_link_url_on_the_sandbox(sandbox, session):
    cid = make_company(sandbox, session)
    response = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    conn = response.json()
    assert conn["status"] == "PendingAuth"
    assert conn["platformName"] == "Xero" and conn["integrationKey"] == "gbol"
    assert conn["sourceType"] == "Accounting"
    assert conn["linkUrl"] == f"{sandbox.url}/companies/{cid}/connections/{conn['id']}/start"
    assert conn["created"] == "2026-11-01T09:00:01Z"  # company took 09:00:00
    assert "lastSync" not in conn and "dataConnectionErrors" not in conn
    assert None not in conn.values()
    assert sandbox.store.get_connection_wire(cid, conn["id"]) == conn


def test_link_url_links_without_auth_and_answers_html(sandbox, session):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "qhyg"}).json()
    page = requests.get(conn["linkUrl"])
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "QuickBooks Online" in page.text and "Linked" in page.text
    linked = session.get(connections_url(sandbox, cid, conn["id"])).json()
    assert linked["status"] == "Linked"
    assert linked["lastSync"] == "2026-11-01T09:00:02Z"
    again = requests.get(conn["linkUrl"])  # opening it twice changes nothing
    assert again.status_code == 200
    assert session.get(connections_url(sandbox, cid, conn["id"])).json() == linked


def test_a_head_request_to_the_link_url_links_nothing(sandbox, session):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "qhyg"}).json()
    before = sandbox.store.snapshot()
    assert requests.head(conn["linkUrl"]).status_code == 200  # e.g. a link checker or preview
    assert sandbox.store.snapshot() == before
    assert session.get(connections_url(sandbox, cid, conn["id"])).json()["status"] == "PendingAuth"


def test_link_url_of_unknown_connection_is_a_404_page(sandbox, session):
    cid = make_company(sandbox, session)
    page = requests.get(f"{sandbox.url}/companies/{cid}/connections/{MISSING}/start")
    assert page.status_code == 404
    assert MISSING in page.text


def test_company_redirect_page_lists_connections(sandbox, session):
    cid = make_company(sandbox, session, "Redirect Ltd")
    session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"})
    company = session.get(f"{sandbox.url}/companies/{cid}").json()
    page = requests.get(company["redirect"])
    assert page.status_code == 200 and "Redirect Ltd" in page.text and "Xero" in page.text


def test_partner_expense_connection_is_linked_at_once(sandbox, session):
    cid = make_company(sandbox, session)
    url = f"{sandbox.url}/companies/{cid}/sync/expenses/connections/partnerExpense"
    response = session.post(url)
    assert response.status_code == 200
    conn = response.json()
    assert conn["status"] == "Linked"
    assert conn["sourceType"] == "Expense"
    assert conn["integrationKey"] == "dfxm"
    assert conn["platformName"] == PLATFORMS["dfxm"].name


def test_get_and_list_return_what_was_created(sandbox, session):
    cid = make_company(sandbox, session)
    made = [
        session.post(connections_url(sandbox, cid), json={"platformKey": key}).json()
        for key in ("gbol", "suuo", "fztf")
    ]
    listed = session.get(connections_url(sandbox, cid)).json()
    assert listed["results"] == made
    assert listed["totalResults"] == 3
    for conn in made:
        assert session.get(connections_url(sandbox, cid, conn["id"])).json() == conn


def test_unlink_linked_connection(sandbox, session):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"}).json()
    sandbox.store.link(cid, conn["id"])
    response = session.patch(connections_url(sandbox, cid, conn["id"]), json={"status": "Unlinked"})
    assert response.status_code == 200
    assert response.json()["status"] == "Unlinked"
    assert response.json()["lastSync"]  # data kept
    again = session.patch(connections_url(sandbox, cid, conn["id"]), json={"status": "Unlinked"})
    assert again.status_code == 200 and again.json() == response.json()
    relinked = sandbox.store.link(cid, conn["id"])  # Unlinked -> Linked by authorizing again
    assert relinked["status"] == "Linked"


def test_unlink_pending_connection_is_refused(sandbox, session, expect_error):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"}).json()
    before = sandbox.store.snapshot()
    response = session.patch(connections_url(sandbox, cid, conn["id"]), json={"status": "Unlinked"})
    body = expect_error(response, 400, item_id="status")
    assert "PendingAuth" in body["validation"]["errors"][0]["message"]
    assert sandbox.store.snapshot() == before


def test_unlink_body_other_than_unlinked_is_400(sandbox, session, expect_error):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"}).json()
    sandbox.store.link(cid, conn["id"])
    before = sandbox.store.snapshot()
    url = connections_url(sandbox, cid, conn["id"])
    for body in ({"status": "Linked"}, {"status": "unlinked"}, {}, {"status": "Unlinked", "x": 1}):
        expect_error(session.patch(url, json=body), 400, item_id="status")
    expect_error(session.patch(url, data="{nope"), 400, item_id="body")
    expect_error(session.patch(url, json=["Unlinked"]), 400, item_id="body")
    expect_error(session.patch(url), 400, item_id="body")
    assert sandbox.store.snapshot() == before


def test_deauthorize_helper_and_relink(sandbox, session):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"}).json()
    sandbox.store.link(cid, conn["id"])
    wire = sandbox.store.deauthorize(cid, conn["id"], message="Token revoked by the user.")
    got = session.get(connections_url(sandbox, cid, conn["id"])).json()
    assert got == wire
    assert got["status"] == "Deauthorized"
    (error,) = got["dataConnectionErrors"]
    assert error["errorMessage"] == "Token revoked by the user." and error["status"] == "Active"
    assert "resolvedOnUtc" not in error
    page = requests.get(conn["linkUrl"])
    assert page.status_code == 200
    relinked = session.get(connections_url(sandbox, cid, conn["id"])).json()
    assert relinked["status"] == "Linked"
    assert relinked["dataConnectionErrors"][0]["status"] == "Resolved"
    assert relinked["dataConnectionErrors"][0]["resolvedOnUtc"] == relinked["lastSync"]


def test_deauthorize_helper_refuses_connections_without_access(sandbox, session):
    """PendingAuth never had access, Unlinked gave it up, Deauthorized already lost it."""
    cid = make_company(sandbox, session)
    pending = sandbox.store.create_connection(cid, "gbol")["id"]
    unlinked = sandbox.store.create_partner_expense_connection(cid)["id"]
    sandbox.store.unlink(cid, unlinked)
    revoked = sandbox.store.create_partner_expense_connection(cid)["id"]
    sandbox.store.deauthorize(cid, revoked)
    before = sandbox.store.snapshot()
    for conn, status in (
        (pending, "PendingAuth"),
        (unlinked, "Unlinked"),
        (revoked, "Deauthorized"),
    ):
        with pytest.raises(RuleViolation, match=f"only a Linked .* this one is {status}"):
            sandbox.store.deauthorize(cid, conn)
    assert sandbox.store.snapshot() == before


def test_delete_connection_then_everything_is_404(sandbox, session, expect_error):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"}).json()
    url = connections_url(sandbox, cid, conn["id"])
    response = session.delete(url)
    assert response.status_code == 200
    assert response.content == b"" and response.headers["Content-Length"] == "0"
    message = f"Data connection {conn['id']} not found"
    for again in (
        session.get(url),
        session.delete(url),
        session.patch(url, json={"status": "Unlinked"}),
    ):
        expect_error(again, 404, contains=message, service="PublicApi")
    assert session.get(connections_url(sandbox, cid)).json()["totalResults"] == 0


def test_unknown_company_is_404_worded_as_codat(sandbox, session, expect_error):
    message = f"No company was found with ID {MISSING}"
    for response in (
        session.get(connections_url(sandbox, MISSING)),
        session.post(connections_url(sandbox, MISSING), json={"platformKey": "gbol"}),
        session.get(connections_url(sandbox, MISSING, MISSING)),
        session.post(f"{sandbox.url}/companies/{MISSING}/sync/expenses/connections/partnerExpense"),
    ):
        expect_error(response, 404, contains=message, service="ClientsApi")
    assert sandbox.store.company_ids() == []


def test_connection_of_another_company_is_404(sandbox, session, expect_error):
    first, second = make_company(sandbox, session, "One"), make_company(sandbox, session, "Two")
    conn = session.post(connections_url(sandbox, first), json={"platformKey": "gbol"}).json()
    expect_error(session.get(connections_url(sandbox, second, conn["id"])), 404)


def test_bad_platform_keys_are_400_naming_platform_key(sandbox, session, expect_error):
    cid = make_company(sandbox, session)
    before = sandbox.store.snapshot()
    for body in (
        {"platformKey": "GBOL"},
        {"platformKey": "gbo"},
        {"platformKey": "gbol1"},
        {"platformKey": 1234},
        {"platformKey": None},
        {"platformKey": "zzzz"},  # right shape, no such platform
        {"platformKey": "dfxm"},  # partner expense has its own endpoint
        {},
    ):
        expect_error(
            session.post(connections_url(sandbox, cid), json=body), 400, item_id="platformKey"
        )
    expect_error(session.post(connections_url(sandbox, cid), data="not json"), 400, item_id="body")
    expect_error(session.post(connections_url(sandbox, cid)), 400, item_id="body")
    assert sandbox.store.snapshot() == before


def test_non_uuid_ids_are_400_naming_the_id(sandbox, session, expect_error):
    cid = make_company(sandbox, session)
    expect_error(session.get(connections_url(sandbox, "not-a-uuid")), 400, item_id="companyId")
    expect_error(session.get(connections_url(sandbox, cid, "1234")), 400, item_id="connectionId")
    expect_error(
        session.delete(connections_url(sandbox, cid, "x" * 36)), 400, item_id="connectionId"
    )


def test_uppercase_ids_are_accepted(sandbox, session):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"}).json()
    got = session.get(connections_url(sandbox, cid.upper(), conn["id"].upper()))
    assert got.status_code == 200 and got.json() == conn


def test_auth_is_required_and_exact(sandbox, expect_error):
    url = f"{sandbox.url}/companies"
    for headers in (
        {},
        {"Authorization": sandbox.api_key},
        {"Authorization": "Basic d3Jvbmc="},
        {"Authorization": f"Bearer {sandbox.api_key}"},
        {"Authorization": sandbox.auth_header + "x"},
    ):
        body = expect_error(requests.get(url, headers=headers), 401, contains="Unauthorized")
        assert sandbox.api_key not in str(body)
    expect_error(requests.post(url, json={"name": "Nope"}), 401)
    assert sandbox.store.company_ids() == []


def test_unknown_path_is_404_and_wrong_method_is_405(sandbox, session, expect_error):
    expect_error(session.get(f"{sandbox.url}/nowhere"), 404, contains="/nowhere")
    cid = make_company(sandbox, session)
    response = session.put(connections_url(sandbox, cid))
    expect_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}
    expect_error(session.put(f"{sandbox.url}/companies/{cid}", json={"name": "x"}), 405)
    expect_error(
        session.get(f"{sandbox.url}/companies/{cid}/sync/expenses/connections/partnerExpense"), 405
    )


def test_every_authenticated_response_has_rate_limit_headers(sandbox, session):
    responses = [
        session.get(f"{sandbox.url}/companies"),
        session.get(f"{sandbox.url}/nowhere"),
        requests.get(f"{sandbox.url}/companies"),  # no credentials: not charged to any quota
        session.get(f"{sandbox.url}/companies"),
    ]
    charged = [responses[i] for i in (0, 1, 3)]
    remaining = [int(r.headers["X-Rate-Limit-Remaining"]) for r in charged]
    assert remaining == [999, 998, 997]  # no active connected company: 1,000 x (1 + 0)
    for r in charged:
        assert r.headers["X-Rate-Limit-Limit"] == "1000"
        assert r.headers["X-Rate-Limit-Reset"] == "2026-11-02T00:00:00Z"
    assert responses[2].status_code == 401
    assert "X-Rate-Limit-Remaining" not in responses[2].headers


def test_request_count_counts_api_requests_only(sandbox, session):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"}).json()
    requests.get(conn["linkUrl"])
    session.get(f"{sandbox.url}/nowhere")
    assert sandbox.store.request_count == 3


def test_store_helpers_return_copies(sandbox, session):
    cid = make_company(sandbox, session)
    conn = session.post(connections_url(sandbox, cid), json={"platformKey": "gbol"}).json()
    sandbox.store.connections_wire(cid)[0]["status"] = "Mangled"
    sandbox.store.get_connection_wire(cid, conn["id"])["status"] = "Mangled"
    assert session.get(connections_url(sandbox, cid, conn["id"])).json()["status"] == "PendingAuth"


def test_store_helpers_raise_key_error_for_unknown_ids(sandbox):
    for call in (
        lambda: sandbox.store.connections_wire(MISSING),
        lambda: sandbox.store.get_connection_wire(MISSING, MISSING),
        lambda: sandbox.store.link(MISSING, MISSING),
        lambda: sandbox.store.deauthorize(MISSING, MISSING),
    ):
        with pytest.raises(KeyError, match=MISSING):
            call()
