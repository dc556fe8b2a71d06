"""The webhook consumer routes' answers, success and error, validate against Codat's Platform
document (``Codat-Platform.json``), as the other routes' do against Sync for Expenses'."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support import PLATFORM_SPEC_PATH, nullable_to_31, response_schema, schema_problems

pytestmark = pytest.mark.skipif(
    not PLATFORM_SPEC_PATH.is_file(), reason=f"no Codat Platform document at {PLATFORM_SPEC_PATH}"
)
MISSING = "00000000-0000-4000-8000-000000000000"


def test_every_webhook_consumer_answer_validates(sandbox, session):
    seen: list[requests.Response] = []
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    url = f"{sandbox.url}/webhooks"
    company = sandbox.store.create_company("Contract Ltd")["id"]
    session.get(url)  # none yet
    made = session.post(
        url, json={"url": "https://example.com/h", "eventTypes": ["company.created"]}
    )
    session.post(
        url,
        json={
            "url": "http://127.0.0.1:9/hook",
            "eventTypes": ["connection.disconnected", "client.rateLimit.reached"],
            "disabled": None,
            "companyId": company,
            "companyTags": ["region:us"],
        },
    )
    session.get(url)
    session.post(url, json={"url": "https://example.com/h", "eventTypes": ["nope"]})  # 400
    session.delete(f"{url}/{made.json()['id']}")  # 204
    session.delete(f"{url}/{MISSING}")  # 404
    session.delete(f"{url}/not-a-uuid")  # 400, unlisted for the operation
    session.patch(url)  # 405, unlisted
    sandbox.faults.daily_quota = 1
    session.get(url)  # 429
    statuses = sorted(r.status_code for r in seen)
    assert statuses == [200, 200, 201, 201, 204, 400, 400, 404, 405, 429]
    spec = nullable_to_31(json.loads(PLATFORM_SPEC_PATH.read_text()))
    for response in seen:
        if response.status_code == 204:
            assert response.content == b""
            continue
        path = response.request.path_url.split("?")[0]
        pointer = response_schema(spec, response.request.method, path, response.status_code)
        problems = schema_problems(PLATFORM_SPEC_PATH, pointer, response.json())
        assert problems == [], (response.request.method, path, response.status_code, pointer)


def test_the_schema_check_is_live():
    """Guard against a vacuous pass: a wrong consumer must produce schema errors."""
    bad = {"id": "x", "url": 5, "eventTypes": "company.created", "companyTags": ["t"] * 11}
    problems = schema_problems(PLATFORM_SPEC_PATH, "/components/schemas/WebhookConsumer", bad)
    assert len(problems) >= 4
