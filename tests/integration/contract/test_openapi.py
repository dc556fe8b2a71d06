"""Every sandbox response body, success and error, validates against Codat's OpenAPI schemas.

Schema handling: the document says ``openapi: 3.1.0`` (JSON Schema 2020-12) but marks fields with
3.0's ``nullable: true``. We translate ``nullable`` to its 3.1 meaning (``null`` also allowed),
so a validator here accepts what the document intends and refuses ``null`` anywhere else. The
demo sends ``null`` where the document allows it, as Codat does, so a strict 3.1 reader
(openapi-core) would refuse those bodies: docs/fidelity.md.
Statuses an operation does not list (405, or 400 on get-connection for a non-UUID id) are
checked against ErrorMessage, the shape every Codat error has.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from codat_nb.sandbox import Sandbox
from tests.support import SPEC_PATH, nullable_to_31, response_schema, schema_validators

MISSING = "00000000-0000-4000-8000-000000000000"

pytestmark = pytest.mark.skipif(
    not SPEC_PATH.is_file(), reason=f"Codat OpenAPI document not found at {SPEC_PATH}"
)


@pytest.fixture(scope="module")
def spec() -> dict:
    return nullable_to_31(json.loads(SPEC_PATH.read_text()))


@pytest.fixture(scope="module")
def validator_for():
    return schema_validators(SPEC_PATH)


def _exercise(sb: Sandbox) -> list[requests.Response]:
    """Drive every operation, every status the sandbox produces, and collect the responses."""
    seen: list[requests.Response] = []
    s = requests.Session()
    s.headers["Authorization"] = sb.auth_header
    s.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    u = sb.url
    cid = max(sb.store.company_ids(), key=lambda c: len(sb.store.connections_wire(c)))
    deauth = next(
        (c, x["id"])
        for c in sb.store.company_ids()
        for x in sb.store.connections_wire(c)
        if x.get("dataConnectionErrors")
    )
    s.get(f"{u}/companies", params={"pageSize": 7, "page": 2, "orderBy": "-lastSync"})
    s.get(f"{u}/companies", params={"pageSize": 2000})
    s.get(f"{u}/companies", params={"query": "name~ltd", "tags": "region=uk", "pageSize": 50})
    s.get(f"{u}/companies/{cid}")
    s.get(f"{u}/companies/{deauth[0]}/connections")
    deauth_url = f"{u}/companies/{deauth[0]}/connections/{deauth[1]}"
    requests.get(s.get(deauth_url).json()["linkUrl"])  # relinked: its errors become Resolved
    s.get(deauth_url)
    s.get(f"{u}/companies/{cid}/connections", params={"pageSize": 3, "page": 2})
    new = s.post(f"{u}/companies", json={"name": "Contract Ltd", "description": "d"}).json()
    made = s.post(f"{u}/companies/{new['id']}/connections", json={"platformKey": "suuo"}).json()
    s.post(f"{u}/companies/{new['id']}/sync/expenses/connections/partnerExpense")
    requests.get(made["linkUrl"])
    s.get(f"{u}/companies/{new['id']}")
    s.patch(f"{u}/companies/{new['id']}/connections/{made['id']}", json={"status": "Unlinked"})
    s.delete(f"{u}/companies/{new['id']}/connections/{made['id']}")
    s.get(f"{u}/companies/{new['id']}/connections/{made['id']}")  # 404 PublicApi
    s.delete(f"{u}/companies/{new['id']}")  # 204, no body
    s.get(f"{u}/companies/{MISSING}")  # 404 ClientsApi
    s.get(f"{u}/companies/{cid}/connections", params={"query": "status="})  # 400 query
    s.get(f"{u}/companies/{cid}/connections", params={"pageSize": 0})  # 400 paging
    s.post(f"{u}/companies/{cid}/connections", json={"platformKey": "XERO"})  # 400
    s.post(f"{u}/companies", json={"name": ""})  # 400
    s.get(f"{u}/companies/{cid}/connections/not-a-uuid")  # 400, unlisted status
    s.put(f"{u}/companies/{cid}/connections")  # 405, unlisted
    s.get(f"{u}/nowhere")  # 404, no operation
    requests.get(f"{u}/companies")  # 401
    seen.append(requests.get(f"{u}/companies"))
    sb.faults.rate_limit_rate = 1.0
    s.get(f"{u}/companies/{cid}/connections")  # 429
    sb.faults.rate_limit_rate, sb.faults.error_rate = 0.0, 1.0
    for _ in range(6):
        s.get(f"{u}/companies/{cid}/connections")  # 500 / 503
    sb.faults.error_rate = 0.0
    sb.faults.error_validation = False
    s.get(f"{u}/companies/{MISSING}")  # 404 as the document's examples: no validation
    sb.faults.error_validation = True
    restricted = sb.store.create_company("Restricted Ltd")["id"]
    sb.store.restrict(restricted)
    s.get(f"{u}/companies/{restricted}/connections")  # 403
    sb.faults.company_limit = 0
    s.post(f"{u}/companies", json={"name": "One Too Many"})  # 402, the errors guide's shape
    sb.expire_account()
    s.get(f"{u}/companies")  # 402 Payment Required, an item without itemId
    s.close()
    return seen


def test_every_response_body_validates(demo_sandbox, spec, validator_for):
    responses = _exercise(demo_sandbox)
    statuses = {r.status_code for r in responses}
    assert statuses >= {200, 204, 400, 401, 402, 403, 404, 405, 429, 500, 503}
    checked, shapes = 0, set()
    for response in responses:
        path = response.request.path_url.split("?")[0]
        if not response.content:
            assert (response.request.method, response.status_code) in {
                ("DELETE", 200), ("DELETE", 204),
            }  # fmt: skip
            continue
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        pointer = response_schema(spec, response.request.method, path, response.status_code)
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator_for(pointer).iter_errors(body)
        ]
        assert problems == [], (response.request.method, path, response.status_code, pointer)
        checked += 1
        shapes.update(_connection_shapes(body))
    assert checked >= 25
    assert shapes >= {
        "connectionInfo", "Active", "Resolved", "lastSync", "no lastSync", "null lastSync",
        "null dataConnectionErrors", "null connectionInfo", "no integrationKey",
        "7-digit created", "offset created", "local created", "7-digit lastSync",
        "offset lastSync", "local lastSync", "null description", "empty description",
        "createdByUserName", "null createdByUserName", "ownerUserIds", "referenceParentCompany",
        "null referenceParentCompany",
    }  # fmt: skip


def _date_shape(text: str) -> str:
    if re.search(r"\.\d{7}Z$", text):
        return "7-digit"
    if re.search(r"[+-]\d\d:\d\d$", text):
        return "offset"
    return "Z" if text.endswith("Z") else "local"


def _connection_shapes(body: Any) -> set[str]:
    """Which optional shapes a body holds, to prove each was validated at least once."""
    companies = body.get("results", [body]) if isinstance(body, dict) else []
    rows = [c for r in companies for c in r.get("dataConnections", [r])]
    found = set()
    for company in companies:
        if "redirect" not in company:  # not a Company
            continue
        for key in ("description", "createdByUserName", "referenceParentCompany"):
            if key in company and company[key] is None:
                found.add(f"null {key}")
            elif company.get(key):
                found.add(key)
        if company.get("description") == "":
            found.add("empty description")
        if company.get("ownerUserIds"):
            found.add("ownerUserIds")
    for row in rows:
        if "linkUrl" not in row:  # not a Connection (an ErrorMessage, say)
            continue
        for key in ("connectionInfo", "lastSync", "dataConnectionErrors"):
            if row.get(key):
                found.add(key)
            elif key in row:
                found.add(f"null {key}")
        if "lastSync" not in row:
            found.add("no lastSync")
        if "integrationKey" not in row:
            found.add("no integrationKey")
        for key in ("created", "lastSync"):
            if row.get(key):
                found.add(f"{_date_shape(row[key])} {key}")
        found.update(error["status"] for error in row.get("dataConnectionErrors") or [])
    return found


def test_page_size_above_2000_breaks_only_the_paging_schema_maximum(demo_sandbox, validator_for):
    """The parameter allows 5000 but PagingInfo.pageSize says maximum 2000. The sandbox echoes
    the size it served (as Codat does), so the only schema complaint is that maximum."""
    cid = demo_sandbox.store.company_ids()[0]
    response = requests.get(
        f"{demo_sandbox.url}/companies/{cid}/connections",
        params={"pageSize": 5000},
        headers={"Authorization": demo_sandbox.auth_header},
    )
    errors = list(validator_for("/components/schemas/Connections").iter_errors(response.json()))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["pageSize"], "maximum")]


def test_the_validator_is_live(validator_for):
    """Guard against a vacuous pass: a wrong body must produce schema errors."""
    bad = {"id": "not-a-uuid", "status": "Gone", "extra": 1, "lastSync": None}
    messages = [e.message for e in validator_for("/components/schemas/Connection").iter_errors(bad)]
    assert any("'integrationId' is a required property" in m for m in messages)
    assert any("'Gone' is not one of" in m for m in messages)
    assert any("'extra' was unexpected" in m for m in messages)
    assert any("is not a 'uuid'" in m for m in messages)
    error = {"statusCode": "404", "canBeRetried": True}
    assert len(list(validator_for("/components/schemas/ErrorMessage").iter_errors(error))) == 2
