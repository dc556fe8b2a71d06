"""Webhook consumers as Codat's Platform API has them: GET, POST and DELETE /webhooks, the
checks on what a consumer subscribes to, the 50-consumer cap, and the sandbox's own route for
a consumer's signing secret (Codat's API never returns it)."""

from __future__ import annotations

import pytest

from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.rules import RuleViolation
from codat_nb.sandbox.webhooks.consumers import MAX_CONSUMERS, ConsumerNotFound

CONNECTION_EVENTS = ["connection.connected", "connection.disconnected"]


def test_create_list_and_delete_consumers_over_http(sandbox, session):
    url = f"{sandbox.url}/webhooks"
    assert session.get(url).json() == {"results": []}
    made = session.post(
        url, json={"url": "https://example.com/hooks", "eventTypes": ["company.created"]}
    )
    assert made.status_code == 201
    consumer = made.json()
    assert list(consumer) == ["id", "url", "disabled", "eventTypes"]
    assert consumer["url"] == "https://example.com/hooks"
    assert consumer["disabled"] is False and consumer["eventTypes"] == ["company.created"]
    second = session.post(
        url,
        json={
            "url": "http://127.0.0.1:9/x?token=1",
            "eventTypes": CONNECTION_EVENTS,
            "disabled": True,
            "companyTags": ["region:us", "tier:gold"],
        },
    ).json()
    assert second["disabled"] is True and second["companyTags"] == ["region:us", "tier:gold"]
    assert session.get(url).json() == {"results": [consumer, second]}
    deleted = session.delete(f"{url}/{consumer['id'].upper()}")  # ids are matched as UUIDs
    assert deleted.status_code == 204 and deleted.content == b""
    assert session.get(url).json() == {"results": [second]}
    assert sandbox.webhooks.consumers() == [second]


def test_a_company_id_limits_a_consumer_to_that_company(sandbox, session):
    company = sandbox.store.create_company("Only Ltd")["id"]
    body = {"url": "https://example.com/h", "eventTypes": CONNECTION_EVENTS, "companyId": company}
    made = session.post(f"{sandbox.url}/webhooks", json=body)
    assert made.status_code == 201 and made.json()["companyId"] == company


@pytest.mark.parametrize(
    ("body", "item_id", "words"),
    [
        ({"eventTypes": ["company.created"]}, "url", "is required"),
        ({"url": "example.com/h", "eventTypes": ["company.created"]}, "url", "absolute http(s)"),
        ({"url": "ftp://example.com/h", "eventTypes": ["company.created"]}, "url", "http(s)"),
        ({"url": "http://example.com:99999/", "eventTypes": ["company.created"]}, "url", "URL"),
        ({"url": 5, "eventTypes": ["company.created"]}, "url", "must be a string"),
        ({"url": "https://e.com/ü", "eventTypes": ["company.created"]}, "url", "ASCII"),
        ({"url": "https://e.com/a b", "eventTypes": ["company.created"]}, "url", "spaces"),
        ({"url": "https://e.com/h"}, "eventTypes", "at least one"),
        ({"url": "https://e.com/h", "eventTypes": []}, "eventTypes", "at least one"),
        ({"url": "https://e.com/h", "eventTypes": "company.created"}, "eventTypes", "a list"),
        ({"url": "https://e.com/h", "eventTypes": ["DataSyncCompleted"]}, "eventTypes", "'Data"),
        ({"url": "https://e.com/h", "eventTypes": ["connection.linked"]}, "eventTypes", "sends"),
        ({"url": "https://e.com/h", "eventTypes": ["company.created"], "disabled": "no"},
         "disabled", "true or false"),
        ({"url": "https://e.com/h", "eventTypes": ["company.created"], "companyId": "x"},
         "companyId", "UUID"),
        ({"url": "https://e.com/h", "eventTypes": ["company.created"],
          "companyId": "00000000-0000-4000-8000-000000000000"}, "companyId", "no company"),
        ({"url": "https://e.com/h", "eventTypes": ["company.created"], "companyTags": "a:b"},
         "companyTags", "a list"),
        ({"url": "https://e.com/h", "eventTypes": ["company.created"], "companyTags": ["us"]},
         "companyTags", "'key:value'"),
        ({"url": "https://e.com/h", "eventTypes": ["company.created"],
          "companyTags": [f"k:{i}" for i in range(11)]}, "companyTags", "at most 10"),
        ({"url": "https://e.com/h", "eventTypes": ["company.created"],
          "companyTags": ["k:" + "v" * 127]}, "companyTags", "128"),
        ({"url": "https://e.com/h", "eventTypes": ["company.created"], "eventType": ["x"]},
         "eventType", "not a property"),
    ],
)  # fmt: skip
def test_a_bad_consumer_is_a_400_naming_the_field_and_changes_nothing(
    sandbox, session, expect_error, body, item_id, words
):
    before = sandbox.webhooks.consumers()
    answer = expect_error(
        session.post(f"{sandbox.url}/webhooks", json=body), 400, item_id=item_id, contains=words
    )
    assert answer["error"].startswith(f"Error processing request - not valid. {item_id}:")
    assert sandbox.webhooks.consumers() == before == []


def test_every_documented_event_type_may_be_subscribed_to(sandbox):
    documented = [
        "company.created", "company.deleted", "company.product.added", "company.product.removed",
        "connection.created", "connection.connected", "connection.failed",
        "connection.disconnected", "connection.reconnected", "connection.deleted",
        "read.completed", "read.completed.initial", "invoices.write.successful",
        "bankTransactions.write.unsuccessful", "client.rateLimit.reached",
        "client.rateLimit.reset", "expenses.sync.successful", "expenses.sync.unsuccessful",
    ]  # fmt: skip
    made = sandbox.webhooks.create("https://example.com/all", documented)
    assert made["eventTypes"] == documented


def test_a_body_that_is_not_a_json_object_is_a_400(sandbox, session, expect_error):
    url = f"{sandbox.url}/webhooks"
    expect_error(session.post(url, data=b"[1]"), 400, item_id="body", contains="JSON object")
    expect_error(session.post(url, data=b"{"), 400, item_id="body", contains="not valid JSON")
    assert sandbox.webhooks.consumers() == []


def test_at_most_50_consumers(sandbox, session, expect_error):
    url = f"{sandbox.url}/webhooks"
    for n in range(MAX_CONSUMERS):
        body = {"url": f"https://example.com/{n}", "eventTypes": ["company.created"]}
        assert session.post(url, json=body).status_code == 201
    one_more = {"url": "https://example.com/51", "eventTypes": ["company.created"]}
    expect_error(
        session.post(url, json=one_more), 400, item_id="webhookConsumers", contains="at most 50"
    )
    listed = session.get(url).json()["results"]
    assert len(listed) == MAX_CONSUMERS
    assert session.delete(f"{url}/{listed[0]['id']}").status_code == 204
    assert session.post(url, json=one_more).status_code == 201  # room again


def test_deleting_an_unknown_consumer_is_404_and_a_bad_id_400(sandbox, session, expect_error):
    url = f"{sandbox.url}/webhooks"
    missing = "00000000-0000-4000-8000-000000000000"
    body = expect_error(session.delete(f"{url}/{missing}"), 404)
    assert body["error"] == f"Webhook consumer {missing} not found"
    expect_error(session.delete(f"{url}/nope"), 400, item_id="webhookId", contains="UUID")
    expect_error(session.put(url), 405)


def test_the_routes_need_the_api_key(sandbox, raw, expect_error):
    for method in ("GET", "POST"):
        expect_error(raw.request(method, f"{sandbox.url}/webhooks"), 401)
    made = sandbox.webhooks.create("https://example.com/h", ["company.created"])
    expect_error(raw.get(f"{sandbox.url}/sandbox/webhooks/{made['id']}/secret"), 401)
    assert sandbox.webhooks.consumers() == [made]


def test_the_secret_route_gives_the_consumers_secret(sandbox, session, expect_error):
    made = sandbox.webhooks.create("https://example.com/h", ["company.created"])
    answer = session.get(f"{sandbox.url}/sandbox/webhooks/{made['id']}/secret")
    assert answer.status_code == 200
    assert answer.json() == {"id": made["id"], "secret": sandbox.webhook_secret(made["id"])}
    assert answer.json()["secret"].startswith("whsec_")
    missing = "00000000-0000-4000-8000-000000000000"
    expect_error(session.get(f"{sandbox.url}/sandbox/webhooks/{missing}/secret"), 404)


def test_secrets_are_per_consumer_and_seeded():
    with Sandbox(seed="s1") as one, Sandbox(seed="s1") as two, Sandbox(seed="s2") as other:
        made = [
            sb.webhooks.create("https://example.com/h", ["company.created"])
            for sb in (one, two, other)
        ]
        second = one.webhooks.create("https://example.com/i", ["company.created"])
        assert made[0]["id"] == made[1]["id"] != made[2]["id"]
        assert one.webhook_secret(made[0]["id"]) == two.webhook_secret(made[1]["id"])
        assert one.webhook_secret(made[0]["id"]) != one.webhook_secret(second["id"])
        assert one.webhook_secret(made[0]["id"]) != other.webhook_secret(made[2]["id"])
        secret = one.webhook_secret(made[0]["id"])
        assert secret not in repr(one) + repr(one.webhooks.consumers()) + repr(one.webhooks)


def test_the_python_api_checks_as_the_http_api_does(sandbox):
    with pytest.raises(RuleViolation, match="eventTypes: at least one"):
        sandbox.webhooks.create("https://example.com/h", [])
    with pytest.raises(ValueError, match="companyTags: each tag is 'key:value'"):
        sandbox.webhooks.create("https://example.com/h", ["company.created"], company_tags=("x",))
    made = sandbox.webhooks.create(
        "https://example.com/h", ("company.created",), company_tags=("region:us",), disabled=True
    )
    assert made["eventTypes"] == ["company.created"] and made["disabled"] is True
    for call in (sandbox.webhooks.delete, sandbox.webhooks.enable, sandbox.webhook_secret):
        with pytest.raises(ConsumerNotFound, match="Webhook consumer nope not found"):
            call("nope")
    sandbox.webhooks.enable(made["id"].upper())
    assert sandbox.webhooks.consumers()[0]["disabled"] is False
    sandbox.webhooks.disable(made["id"])
    assert sandbox.webhooks.consumers()[0]["disabled"] is True
