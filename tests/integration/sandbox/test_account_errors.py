"""Errors Codat sends that depend on the account: 402 when it expired or holds its company
limit, 403 for a company the key may not touch; and error bodies in Codat's documented shapes."""

from __future__ import annotations

import re

import pytest
import requests

from codat_nb.sandbox import Sandbox

MISSING = "00000000-0000-4000-8000-000000000000"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def assert_guide_402(response: requests.Response, error: str) -> dict:
    """The errors guide's 402 example: validation, a UUID correlationId, and neither
    canBeRetried nor detailedErrorCode."""
    assert response.status_code == 402, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["statusCode", "service", "error", "correlationId", "validation"]
    assert (body["statusCode"], body["service"], body["error"]) == (402, "PublicApi", error)
    assert UUID.fullmatch(body["correlationId"])
    assert body["validation"]["warnings"] == []
    return body


def test_an_expired_account_answers_every_request_402_payment_required(sandbox, session):
    company = sandbox.store.create_company("Before Expiry Ltd")["id"]
    sandbox.expire_account()
    before = sandbox.store.snapshot()
    for response in (
        session.get(f"{sandbox.url}/companies"),
        session.post(f"{sandbox.url}/companies", json={"name": "After Ltd"}),
        session.get(f"{sandbox.url}/companies/{company}/connections", params={"page": 0}),
        session.delete(f"{sandbox.url}/companies/{company}"),
        session.get(f"{sandbox.url}/nowhere"),
    ):
        body = assert_guide_402(response, "Payment Required")
        (item,) = body["validation"]["errors"]  # the guide's item has no itemId
        assert item == {
            "message": "Account expired. Learn more at https://docs.codat.io/using-the-api/errors"
        }
        # Codat's every response carries them; an expired account's requests are not charged
        assert response.headers["X-Rate-Limit-Remaining"] == response.headers["X-Rate-Limit-Limit"]
    assert sandbox.store.snapshot() == before
    unauthenticated = requests.get(f"{sandbox.url}/companies", timeout=30)
    assert unauthenticated.status_code == 401  # authentication still comes first


def test_creating_a_company_beyond_the_company_limit_is_402(auth_session):
    with Sandbox(seed=None, company_limit=2) as sb:
        s = auth_session(sb)
        first = s.post(f"{sb.url}/companies", json={"name": "One"}).json()["id"]
        assert s.post(f"{sb.url}/companies", json={"name": "Two"}).status_code == 200
        before = sb.store.snapshot()
        body = assert_guide_402(
            s.post(f"{sb.url}/companies", json={"name": "Three"}),
            "CompanyValidationException: Company limit exceeded",
        )
        assert body["validation"]["errors"] == [
            {
                "itemId": "Company",
                "message": "Company limit exceeded. Learn more at "
                "https://docs.codat.io/using-the-api/errors",
                "validatorName": "CreateCompany",
            }
        ]
        assert sb.store.snapshot() == before
        assert s.get(f"{sb.url}/companies").status_code == 200  # only creating is refused
        s.delete(f"{sb.url}/companies/{first}")
        assert s.post(f"{sb.url}/companies", json={"name": "Three"}).status_code == 200
        sb.faults.company_limit = None
        assert s.post(f"{sb.url}/companies", json={"name": "Four"}).status_code == 200


def test_a_restricted_company_answers_403_and_others_do_not(sandbox, session, expect_error):
    hidden = sandbox.store.create_company("Hidden Ltd")["id"]
    connection = sandbox.store.create_connection(hidden, "gbol")["id"]
    visible = sandbox.store.create_company("Visible Ltd")["id"]
    sandbox.store.restrict(hidden)
    before = sandbox.store.snapshot()
    base = f"{sandbox.url}/companies/{hidden}"
    for response in (
        session.get(base),
        session.delete(base),
        session.get(f"{base}/connections"),
        session.post(f"{base}/connections", json={"platformKey": "gbol"}),
        session.get(f"{base}/connections/{connection}"),
        session.patch(f"{base}/connections/{connection}", json={"status": "Unlinked"}),
        session.delete(f"{base}/connections/{connection}"),
        session.post(f"{base}/sync/expenses/connections/partnerExpense"),
        session.get(f"{sandbox.url}/companies/{hidden.upper()}/connections"),
    ):
        expect_error(response, 403, service="PublicApi", contains="not associated")
    assert sandbox.store.snapshot() == before
    assert session.get(f"{sandbox.url}/companies/{visible}/connections").status_code == 200
    listed = session.get(f"{sandbox.url}/companies").json()["results"]
    assert [c["id"] for c in listed] == [hidden, visible]  # listing still shows it
    with pytest.raises(KeyError):
        sandbox.store.restrict(MISSING)


def test_error_bodies_as_codats_examples_without_validation(sandbox, session):
    """``error_validation=False``: as the document's examples, no ``validation`` where nothing
    failed validation; a refused field still names itself there."""
    sandbox.faults.error_validation = False
    not_found = session.get(f"{sandbox.url}/companies/{MISSING}").json()
    assert list(not_found) == [
        "statusCode", "service", "error", "correlationId", "canBeRetried", "detailedErrorCode",
    ]  # fmt: skip
    assert "validation" not in requests.get(f"{sandbox.url}/companies", timeout=30).json()
    invalid = session.get(f"{sandbox.url}/companies", params={"page": 0}).json()
    assert invalid["validation"]["errors"][0]["itemId"] == "page"
    sandbox.faults.error_validation = True
    assert session.get(f"{sandbox.url}/companies/{MISSING}").json()["validation"] == {
        "errors": [],
        "warnings": [],
    }
