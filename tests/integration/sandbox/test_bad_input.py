"""Bad input never reaches the catch-all 500 and never changes state."""

from __future__ import annotations

import itertools

MISSING = "00000000-0000-4000-8000-000000000000"

PATHS = [  # paths whose DELETE succeeds come last, so most requests meet live records
    "/companies",
    "/companies/{cid}/connections",
    "/companies/{cid}/sync/expenses/connections/partnerExpense",
    "/companies/not-a-uuid/connections/{conn}",
    "/companies/{cid}/connections/%00",
    "/companies/{cid}/connections/{conn}/extra",
    "/companies//connections",
    "/companies/{missing}/connections/{missing}",
    "/companies/{cid}/connections/{conn}",
    "/companies/{cid}",
]
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]
BODIES = [
    None,
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"\xff\xfe",
    b'{"platformKey": ["gbol"]}',
    b'{"status": null}',
    b'{"name": {"x": 1}}',
    b'{"name": "' + b"a" * 10_000 + b'"}',
    b'{"name": "A", "description": "\\ud800", "tags": {"k": "\\udfff"}}',
]
PARAMS = [
    {},
    {"page": "0"},
    {"pageSize": "-5"},
    {"query": "{{{{"},
    {"query": "lastSync>>2020"},
    {"orderBy": "--status"},
    {"query": "id=" + MISSING, "orderBy": "created"},
    {"tags": "&&"},
]


def test_no_bad_input_reaches_the_catch_all_or_changes_state(unlimited_sandbox, auth_session):
    """Every refused request (4xx) leaves the state exactly as it was, clock included."""
    sandbox, session = unlimited_sandbox, auth_session(unlimited_sandbox)
    cid = sandbox.store.create_company("Fuzz Ltd")["id"]
    conn = sandbox.store.create_connection(cid, "gbol")["id"]
    statuses = set()
    for params in PARAMS:
        for path in PATHS[:2]:
            url = sandbox.url + path.format(cid=cid, conn=conn, missing=MISSING)
            response = session.get(url, params=params)
            assert response.status_code in (200, 400), response.text
    state = sandbox.store.snapshot()
    for path, method, body, params in itertools.product(PATHS, METHODS, BODIES, PARAMS[:3]):
        url = sandbox.url + path.format(cid=cid, conn=conn, missing=MISSING)
        response = session.request(method, url, data=body, params=params)
        statuses.add(response.status_code)
        assert response.status_code < 500, (method, url, body, response.text)
        after = sandbox.store.snapshot()
        if response.status_code >= 400:
            assert after == state, (method, url, body, response.text)
        state = after
    assert sandbox.unexpected_errors == []
    assert statuses >= {200, 204, 400, 404, 405}


def test_the_catch_all_answers_500_error_message_when_a_bug_fires(sandbox, session):
    """Prove the safety net itself: break a store method and see a clean 500 ErrorMessage."""

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    sandbox.store.page_companies = broken  # type: ignore[method-assign]
    response = session.get(f"{sandbox.url}/companies")
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "There is a problem with our server. Please try again later."
    assert "simulated bug" not in response.text
    assert len(sandbox.unexpected_errors) == 1 and "simulated bug" in sandbox.unexpected_errors[0]


def test_a_lone_surrogate_in_a_body_is_a_400_and_stores_nothing(sandbox, session, expect_error):
    """JSON may escape half a UTF-16 pair (``"\\ud800"``), which no UTF-8 answer can carry:
    stored, it made every later read of the company a 500. It is refused, naming the body."""
    cid = sandbox.store.create_company("Surrogate Ltd")["id"]
    state = sandbox.store.snapshot()
    for method, path, body in [
        ("POST", "/companies", b'{"name": "A", "description": "\\ud800"}'),
        ("PATCH", f"/companies/{cid}", b'{"description": "\\ud800"}'),
        ("PUT", f"/companies/{cid}", b'{"name": "A", "tags": {"\\udfff": "v"}}'),
    ]:
        response = session.request(method, sandbox.url + path, data=body)
        expect_error(response, 400, item_id="body", contains="surrogate")
    assert sandbox.store.snapshot() == state
    assert session.get(f"{sandbox.url}/companies/{cid}").status_code == 200
    assert sandbox.unexpected_errors == []
