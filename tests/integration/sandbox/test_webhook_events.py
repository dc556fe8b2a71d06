"""Every status change the sandbox makes, whatever causes it, reaches a receiver over real HTTP
as Codat's documented event: the right type, a payload that validates against Codat's Platform
document, signed so that svix verifies it, and only to the consumers whose filters match."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests
from svix.webhooks import Webhook, WebhookVerificationError

from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.rules import RuleViolation
from codat_nb.sandbox.shapes import stamp
from codat_nb.sandbox.webhooks.events import SENT
from tests.support import PLATFORM_SPEC_PATH, webhook_problems

pytestmark = pytest.mark.skipif(
    not PLATFORM_SPEC_PATH.is_file(),
    reason=f"Codat's Platform document not at {PLATFORM_SPEC_PATH}",
)


def listen(sb: Sandbox, receiver, event_types=SENT, **filters) -> str:
    """Register ``receiver`` for ``event_types``; the consumer's id."""
    return sb.webhooks.create(receiver.url, list(event_types), **filters)["id"]


def checked(sb: Sandbox, receiver, consumer_id: str) -> list[dict]:
    """What arrived once deliveries are done: every body verified by svix and valid."""
    sb.webhooks.flush()
    events = receiver.verify_all(sb.webhook_secret(consumer_id))
    for event in events:
        assert webhook_problems(event) == [], event
    return events


def test_every_cause_sends_its_documented_event(sandbox, session, receiver):
    consumer = listen(sandbox, receiver)
    u = sandbox.url
    company = session.post(f"{u}/companies", json={"name": "Webhooks Ltd"}).json()
    base = f"{u}/companies/{company['id']}/connections"
    made = session.post(base, json={"platformKey": "gbol"}).json()
    sandbox.store.fail_link(company["id"], made["id"])  # the customer cancels
    assert requests.get(made["linkUrl"]).status_code == 200  # then links
    session.patch(f"{base}/{made['id']}", json={"status": "Unlinked"})
    requests.get(made["linkUrl"])  # re-links
    sandbox.store.deauthorize(company["id"], made["id"])
    requests.get(made["linkUrl"])
    other = sandbox.store.create_connection(company["id"], "qhyg")["id"]
    session.delete(f"{base}/{other}")
    session.delete(f"{u}/companies/{company['id']}")  # its connection first, then itself
    events = checked(sandbox, receiver, consumer)
    assert [e["eventType"] for e in events] == [
        "company.created", "connection.created", "connection.failed", "connection.connected",
        "connection.disconnected", "connection.reconnected", "connection.disconnected",
        "connection.reconnected", "connection.created", "connection.deleted",
        "connection.deleted", "company.deleted",
    ]  # fmt: skip
    statuses = [
        e["payload"]["connection"]["status"] for e in events if "connection" in e["payload"]
    ]
    assert statuses == [
        "PendingAuth", "PendingAuth", "Linked", "Unlinked", "Linked", "Deauthorized", "Linked",
        "PendingAuth", "PendingAuth", "Linked",
    ]  # fmt: skip
    failed = events[2]["payload"]["connection"]["dataConnectionErrors"]
    assert failed[-1]["status"] == "Active" and failed[-1]["statusText"] == "User cancelled linking"
    assert (
        events[0]["payload"]["id"] == company["id"]
        and events[0]["payload"]["name"] == "Webhooks Ltd"
    )
    reference = events[1]["payload"]["referenceCompany"]
    assert reference["id"] == company["id"] and reference["name"] == "Webhooks Ltd"
    assert reference["links"]["portal"] == f"https://app.codat.io/companies/{company['id']}/summary"
    assert events[1]["payload"]["connection"]["id"] == made["id"]
    assert len({e["id"] for e in events}) == len(events)
    assert [e["generatedDate"] for e in events] == sorted(e["generatedDate"] for e in events)


def test_an_event_carries_the_record_as_the_change_left_it(sandbox, receiver):
    """The payload's connection is the store's row after the change, the time is the change's."""
    consumer = listen(sandbox, receiver, ["connection.disconnected"])
    company = sandbox.store.create_company("Tagged Ltd", tags={"region": "us"})["id"]
    connection = sandbox.store.create_connection(company, "gbol")["id"]
    sandbox.store.link(company, connection)
    when = sandbox.clock.now()
    row = sandbox.store.deauthorize(company, connection, message="Token revoked")
    (event,) = checked(sandbox, receiver, consumer)
    assert event["generatedDate"] == stamp(when)
    assert event["payload"]["connection"] == row
    assert event["payload"]["referenceCompany"]["tags"] == {"region": "us"}


def test_a_connection_created_linked_sends_only_its_creation(sandbox, receiver):
    """The partner expense connection is Linked from the start: no ``connected`` follows."""
    consumer = listen(sandbox, receiver)
    company = sandbox.store.create_company("Expense Ltd")["id"]
    accounting = sandbox.store.create_connection(company, "gbol")["id"]
    sandbox.store.link(company, accounting)
    partner = sandbox.store.create_partner_expense_connection(company)
    events = checked(sandbox, receiver, consumer)
    assert [e["eventType"] for e in events] == [
        "company.created", "connection.created", "connection.connected", "connection.created",
    ]  # fmt: skip
    assert events[-1]["payload"]["connection"] == partner


def test_syncs_and_refused_changes_send_nothing(sandbox, session, receiver):
    consumer = listen(sandbox, receiver)
    company = sandbox.store.create_company("Quiet Ltd")["id"]
    connection = sandbox.store.create_connection(company, "gbol")["id"]
    sandbox.store.link(company, connection)
    checked(sandbox, receiver, consumer)
    before = len(receiver.received)
    sandbox.store.sync(company, connection)  # lastSync moves: not an event
    url = f"{sandbox.url}/companies/{company}/connections/{connection}"
    assert session.patch(url, json={"status": "Linked"}).status_code == 400  # refused
    with pytest.raises(RuleViolation, match="no link flow to fail"):
        sandbox.store.fail_link(company, connection)
    checked(sandbox, receiver, consumer)
    assert len(receiver.received) == before


def test_a_link_can_fail_again_after_access_was_lost(sandbox, receiver):
    consumer = listen(sandbox, receiver, ["connection.failed"])
    company = sandbox.store.create_company("Retry Ltd")["id"]
    connection = sandbox.store.create_connection(company, "gbol")["id"]
    sandbox.store.link(company, connection)
    sandbox.store.deauthorize(company, connection)
    sandbox.store.fail_link(company, connection, "Consent refused", "401", "Unauthorized")
    (event,) = checked(sandbox, receiver, consumer)
    assert event["payload"]["connection"]["status"] == "Deauthorized"
    assert event["payload"]["connection"]["dataConnectionErrors"][-1]["errorMessage"] == (
        "Consent refused"
    )


def test_advance_sends_what_happened_meanwhile(demo_sandbox, receiver):
    sb = demo_sandbox
    consumer = listen(sb, receiver)
    start = sb.clock.now()
    changes = sb.advance(days=7)
    events = checked(sb, receiver, consumer)
    kinds = Counter(e["eventType"] for e in events)
    assert kinds["connection.disconnected"] == changes.counts["lost access"] > 0
    assert kinds["connection.connected"] == changes.counts["linked"] > 0
    assert kinds["company.created"] == changes.counts["companies created"] > 0
    assert kinds["company.deleted"] == changes.counts["companies deleted"]
    assert kinds["connection.created"] >= changes.counts["connections created"]
    assert kinds["connection.deleted"] >= changes.counts["connections deleted"]
    assert set(kinds) <= set(SENT) - {"connection.failed"}
    dates = [e["generatedDate"] for e in events]
    assert stamp(start) <= min(dates) and max(dates) <= stamp(changes.end)
    assert dates == sorted(dates)  # delivered in the order they fell due


def test_consumers_get_only_the_types_and_companies_they_filter_on(sandbox, make_receiver):
    store = sandbox.store
    uk = store.create_company("Uk Ltd", tags={"region": "uk"})["id"]
    names = ("types", "company", "tags", "eu", "all")
    receivers = {name: make_receiver() for name in names}
    ids = {
        "types": listen(sandbox, receivers["types"], ["connection.disconnected"]),
        "company": listen(sandbox, receivers["company"], company_id=uk),
        "tags": listen(sandbox, receivers["tags"], company_tags=["region:us", "tier:gold"]),
        "eu": listen(sandbox, receivers["eu"], company_tags=["region:eu"]),
        "all": listen(sandbox, receivers["all"]),
    }
    us = store.create_company("Us Ltd", tags={"region": "us", "tier": "silver"})["id"]
    gold = store.create_company("Gold Ltd", tags={"tier": "gold"})["id"]
    plain = store.create_company("Plain Ltd")["id"]
    for company in (uk, us, gold, plain):
        connection = store.create_connection(company, "gbol")["id"]
        store.link(company, connection)
        store.deauthorize(company, connection)
    sandbox.faults.daily_quota = 1
    for _ in range(2):  # the second is refused: client.rateLimit.reached, about no company
        requests.get(f"{sandbox.url}/companies", headers={"Authorization": sandbox.auth_header})
    got = {name: checked(sandbox, receivers[name], ids[name]) for name in names}

    def companies(name: str) -> set[str]:
        return {
            e["payload"].get("referenceCompany", e["payload"]).get("id")
            for e in got[name]
            if e["eventType"].startswith(("company.", "connection."))
        }

    assert {e["eventType"] for e in got["types"]} == {"connection.disconnected"}
    assert len(got["types"]) == 4
    assert companies("company") == {uk}
    assert companies("tags") == {us, gold}  # any one tag matching is enough
    assert got["eu"] == []
    assert companies("all") == {uk, us, gold, plain}
    rate_limited = [e for e in got["all"] if e["eventType"] == "client.rateLimit.reached"]
    assert len(rate_limited) == 1
    filtered = got["company"] + got["tags"]
    assert not [e for e in filtered if e["eventType"].startswith("client.")]


def test_the_daily_quota_reached_and_reset(sandbox, receiver, expect_error):
    sb = sandbox
    sb.faults.daily_quota = 3
    consumer = listen(sb, receiver, ["client.rateLimit.reached", "client.rateLimit.reset"])
    session = requests.Session()
    session.headers["Authorization"] = sb.auth_header
    for _ in range(3):
        assert session.get(f"{sb.url}/companies").status_code == 200
    refused_at = sb.clock.now()
    for _ in range(2):  # only the first refusal is an event
        expect_error(session.get(f"{sb.url}/companies"), 429)
    midnight = datetime.combine(refused_at.date() + timedelta(days=1), datetime.min.time())
    midnight = midnight.replace(tzinfo=timezone.utc)
    (reached,) = checked(sb, receiver, consumer)
    assert reached["eventType"] == "client.rateLimit.reached"
    assert reached["generatedDate"] == stamp(refused_at)
    assert reached["payload"] == {
        "dailyQuota": 3, "quotaRemaining": 0, "expiryDate": stamp(midnight),
    }  # fmt: skip
    sb.advance(hours=20)  # past midnight: the reset, dated midnight, without a request
    reached_again_after = checked(sb, receiver, consumer)
    assert [e["eventType"] for e in reached_again_after] == [
        "client.rateLimit.reached", "client.rateLimit.reset",
    ]  # fmt: skip
    reset = reached_again_after[1]
    assert reset["generatedDate"] == stamp(midnight)
    assert reset["payload"] == {
        "dailyQuota": 3, "quotaRemaining": 3, "expiryDate": stamp(midnight + timedelta(days=1)),
    }  # fmt: skip
    sb.advance(days=1)  # a day whose quota was not reached ends without a reset
    assert len(checked(sb, receiver, consumer)) == 2
    session.close()


def test_a_new_day_is_noticed_by_the_first_request_or_a_flush(sandbox, receiver, session):
    sandbox.faults.daily_quota = 1
    consumer = listen(sandbox, receiver, ["client.rateLimit.reset"])
    session.get(f"{sandbox.url}/companies")
    session.get(f"{sandbox.url}/companies")  # reached
    sandbox.clock.set(sandbox.clock.now() + timedelta(days=1))
    assert session.get(f"{sandbox.url}/companies").status_code == 200  # the new day's first
    assert len(checked(sandbox, receiver, consumer)) == 1
    session.get(f"{sandbox.url}/companies")  # reached again
    sandbox.clock.set(sandbox.clock.now() + timedelta(days=1))
    assert len(checked(sandbox, receiver, consumer)) == 2  # the flush noticed the new day


def test_signatures_are_standard_webhooks_and_tampering_is_caught(sandbox, receiver):
    consumer = listen(sandbox, receiver)
    sandbox.store.create_company("Signed Ltd")
    checked(sandbox, receiver, consumer)
    (got,) = receiver.received
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"].startswith("msg_") and len(got.headers["webhook-id"]) == 31
    assert got.headers["webhook-signature"].startswith("v1,")
    assert abs(int(got.headers["webhook-timestamp"]) - datetime.now().timestamp()) < 60
    webhook = Webhook(sandbox.webhook_secret(consumer))
    with pytest.raises(WebhookVerificationError):
        webhook.verify(got.body.replace(b"Signed", b"Forged"), got.headers)
    other = sandbox.webhooks.create("https://example.com/h", ["company.created"])["id"]
    with pytest.raises(WebhookVerificationError):
        Webhook(sandbox.webhook_secret(other)).verify(got.body, got.headers)
    stale = {**got.headers, "webhook-timestamp": str(int(datetime.now().timestamp()) - 3600)}
    with pytest.raises(WebhookVerificationError, match="too old"):
        webhook.verify(got.body, stale)
