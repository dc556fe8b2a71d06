"""The six connections operations, the status machine and their errors, over real HTTP."""

from __future__ import annotations

import pytest
import requests

from codat_nb.platforms import PLATFORMS
from codat_nb.sandbox.rules import RuleViolation
from tests.support import link_accounting

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
    link_accounting(sandbox, cid)
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


def test_only_a_linked_connection_can_be_unlinked(sandbox, session, expect_error):
    """Codat: "Only Linked data connections can be unlinked" (docs/core-concepts/connections.md): an
    Unlinked one is refused as a PendingAuth one is, and so is a Deauthorized one."""
    cid = make_company(sandbox, session)
    unlinked = link_accounting(sandbox, cid)
    sandbox.store.unlink(cid, unlinked)
    revoked = link_accounting(sandbox, cid, "qhyg")
    sandbox.store.deauthorize(cid, revoked)
    before = sandbox.store.snapshot()
    for connection_id, status in ((unlinked, "Unlinked"), (revoked, "Deauthorized")):
        url = connections_url(sandbox, cid, connection_id)
        body = expect_error(session.patch(url, json={"status": "Unlinked"}), 400, item_id="status")
        message = body["validation"]["errors"][0]["message"]
        assert message == f"only a Linked connection can be unlinked; this one is {status}"
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
    unlinked = link_accounting(sandbox, cid, "qhyg")
    sandbox.store.unlink(cid, unlinked)
    revoked = link_accounting(sandbox, cid, "akxx")
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


def test_the_authorization_scheme_is_case_insensitive(sandbox):
    """RFC 9110 (section 11.1): the scheme is case-insensitive, and one or more spaces part it
    from the credentials; the credentials themselves are compared exactly."""
    credentials = sandbox.auth_header.split(" ", 1)[1]
    url = f"{sandbox.url}/companies"
    for scheme in ("basic", "BASIC", "bAsIc"):
        for gap in (" ", "  "):
            response = requests.get(url, headers={"Authorization": f"{scheme}{gap}{credentials}"})
            assert response.status_code == 200, (scheme, gap, response.text)
    swapped = credentials.swapcase()
    assert requests.get(url, headers={"Authorization": f"Basic {swapped}"}).status_code == 401


def test_auth_is_required_and_exact(sandbox, expect_error):
    url = f"{sandbox.url}/companies"
    for headers in (
        {},
        {"Authorization": sandbox.api_key},
        {"Authorization": "Basic d3Jvbmc="},
        {"Authorization": f"Bearer {sandbox.api_key}"},
        {"Authorization": sandbox.auth_header + "x"},
        {"Authorization": "Basic"},
        {"Authorization": "Basicx " + sandbox.auth_header.split(" ", 1)[1]},
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
    expect_error(session.post(f"{sandbox.url}/companies/{cid}", json={"name": "x"}), 405)
    expect_error(
        session.get(f"{sandbox.url}/companies/{cid}/sync/expenses/connections/partnerExpense"), 405
    )


def test_routes_codat_has_but_the_sandbox_does_not_serve_say_so(sandbox, session, expect_error):
    """Each operation of Codat's Platform API and Sync for Expenses documents that the sandbox
    does not serve answers a 404 saying so (not "No company was found"), and changes nothing."""
    from codat_nb.sandbox.unserved import DOCUMENTED

    cid = make_company(sandbox, session)
    before = sandbox.store.snapshot()
    asked = 0
    for document, paths in DOCUMENTED.items():
        for path, methods in paths.items():
            concrete = path.format(
                companyId=cid,
                connectionId=MISSING,
                **{name: "x1" for name in ("productIdentifier", "dataType", "datasetId",
                   "webhookId", "platformKey", "apiKeyId", "pushOperationKey", "syncId",
                   "transactionId", "customDataIdentifier")},
            )  # fmt: skip
            for method in methods.split():
                if _served(method, concrete):  # a route added since (the webhooks', say)
                    continue
                response = session.request(method, sandbox.url + concrete, json={})
                body = expect_error(response, 404, contains="The sandbox does not serve")
                assert f"{method} {path} (Codat's {document} has it)" in body["error"]
                asked += 1
    assert asked >= 50  # of the 54 the two documents have beyond companies and connections
    assert sandbox.store.snapshot() == before
    other = expect_error(session.get(f"{sandbox.url}/companies/{cid}/data/invoices"), 404)
    assert other["error"].startswith("No resource found at GET")  # not Codat's Platform API


def _served(method: str, path: str) -> bool:
    from werkzeug.exceptions import HTTPException

    from codat_nb.sandbox.routes import URLS

    try:
        URLS.bind("sandbox").match(path, method)
    except HTTPException:
        return False
    return True


def test_every_response_has_rate_limit_headers(sandbox, session):
    """Codat: "Every response from our API includes" them (docs/using-the-api/rate-limits.md): a 401
    too, which is charged to no quota, and a 402 (test_account_errors)."""
    responses = [
        session.get(f"{sandbox.url}/companies"),
        session.get(f"{sandbox.url}/nowhere"),
        requests.get(f"{sandbox.url}/companies"),  # no credentials: not charged to any quota
        session.get(f"{sandbox.url}/companies"),
    ]
    remaining = [int(r.headers["X-Rate-Limit-Remaining"]) for r in responses]
    assert remaining == [999, 998, 998, 997]  # no active connected company: 1,000 x (1 + 0)
    for r in responses:
        assert r.headers["X-Rate-Limit-Limit"] == "1000"
        assert r.headers["X-Rate-Limit-Reset"] == "2026-11-02T00:00:00Z"
    assert responses[2].status_code == 401


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


def test_a_partner_expense_connection_follows_codats_expenses_guide(sandbox, session, expect_error):
    """docs/expenses/configure-customer.md: created "once your customer has authorized access
    to their accounting software", one per company; a second is refused naming the first
    (the sandbox's choice: Codat does not say), and after deleting it a new one can be made."""
    cid = make_company(sandbox, session)
    url = f"{sandbox.url}/companies/{cid}/sync/expenses/connections/partnerExpense"
    pending = sandbox.store.create_connection(cid, "gbol")["id"]
    sandbox.store.create_connection(cid, "suuo")  # banking does not count
    before = sandbox.store.snapshot()
    body = expect_error(session.post(url), 400, item_id="dataConnections")
    assert "no Linked accounting connection" in body["error"]
    assert sandbox.store.snapshot() == before
    sandbox.store.link(cid, pending)
    first = session.post(url)
    assert first.status_code == 200 and first.json()["status"] == "Linked"
    before = sandbox.store.snapshot()
    body = expect_error(session.post(url), 400, item_id="dataConnections")
    assert first.json()["id"] in body["error"] and "already has" in body["error"]
    assert sandbox.store.snapshot() == before
    session.delete(connections_url(sandbox, cid, first.json()["id"])).raise_for_status()
    again = session.post(url)
    assert again.status_code == 200 and again.json()["id"] != first.json()["id"]


#: Every platform key Codat's documentation uses, with the file (codatio/codat-docs) that does.
DOCUMENTED_KEYS = {
    "docs/integrations/accounting/overview.md": (
        "trji rqwd qudb pbbf fbrh vxvy pdvj akxx pqsw qhyg ndsk jcrp hbql tgff knfz mqjo pbtz "
        "rvam gbol rwuv"
    ),
    "docs/integrations/banking/overview.md": "suuo upvr",
    "docs/integrations/commerce/overview.md": (
        "qkdj vqzp fqly aiwb ldgh lrhd ltes lqai fztf zsth xcwv exgd yzth ltpp ugxp"
    ),
    "docs/bank-feeds/create-account.md": "hcws akxx gbol fbrh olpr",
}


@pytest.mark.parametrize(
    "key", sorted({k for keys in DOCUMENTED_KEYS.values() for k in keys.split()})
)
def test_every_documented_platform_key_can_be_connected(sandbox, session, key):
    cid = make_company(sandbox, session)
    response = session.post(connections_url(sandbox, cid), json={"platformKey": key})
    assert response.status_code == 200, response.text
    assert response.json()["integrationKey"] == key
    assert response.json()["platformName"] == PLATFORMS[key].name


def test_bank_feed_keys_answer_as_codats_setup_guides_show(sandbox, session):
    """QBO Bank Feeds (``hcws``) and Sage Bank Feeds (``olpr``): the answers in
    docs/integrations/bank-feeds/{qbo,sage}-bank-feeds/*-setup.md."""
    cid = make_company(sandbox, session)
    for key, name in (("hcws", "QuickBooks Online Bank Feeds"), ("olpr", "SageBankFeed")):
        made = session.post(connections_url(sandbox, cid), json={"platformKey": key}).json()
        assert (made["platformName"], made["sourceType"], made["status"]) == (
            name,
            "BankFeed",
            "PendingAuth",
        )


def test_the_demo_covers_every_documented_value(demo_sandbox, demo_session):
    """Every sourceType, status and error status of Codat's document appears in the demo, over
    HTTP; and no company has a partner expense connection without its accounting software ever
    authorized (docs/expenses/configure-customer.md)."""
    from codat_nb.wire.schema import CONNECTION_STATUSES, ERROR_STATUSES, SOURCE_TYPES

    page = demo_session.get(f"{demo_sandbox.url}/companies", params={"pageSize": 5000}).json()
    rows = [row for company in page["results"] for row in company["dataConnections"]]
    assert {row["sourceType"] for row in rows} == set(SOURCE_TYPES)
    assert {row["status"] for row in rows} == set(CONNECTION_STATUSES)
    errors = [e for row in rows for e in row.get("dataConnectionErrors") or []]
    assert {e["status"] for e in errors} == set(ERROR_STATUSES)
    assert all(e["resolvedOnUtc"] > e["erroredOnUtc"] for e in errors if e["status"] == "Resolved")
    for company in page["results"]:
        rows = company["dataConnections"]
        if any(row["sourceType"] == "Expense" for row in rows):
            accounting = [  # an older one may be Unknown
                row["status"] for row in rows if row["sourceType"] in ("Accounting", "Unknown")
            ]
            assert set(accounting) - {"PendingAuth"}, company["id"]
