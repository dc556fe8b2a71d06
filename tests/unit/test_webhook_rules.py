"""The sandbox's webhook rules as pure functions: which change is which event, how a consumer's
queue orders, retries, holds back and resumes its messages, and how a signature is made."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from svix.webhooks import Webhook

from codat_nb.sandbox.changes import Change, ChangeKind
from codat_nb.sandbox.webhooks.events import Event, event_type
from codat_nb.sandbox.webhooks.outbox import DISABLED_AFTER, SCHEDULE, Delivery, Message, Outbox
from codat_nb.sandbox.webhooks.signing import consumer_secret, headers

T0 = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)
COMPANY = {"id": "c", "name": "C"}
ACTIVE = [{"status": "Active"}]


def changed(before: str, after: str, errors_before=None, errors_after=None) -> Change:
    previous = {"id": "x", "status": before, "dataConnectionErrors": errors_before}
    row = {"id": "x", "status": after, "dataConnectionErrors": errors_after}
    return Change(ChangeKind.CONNECTION_CHANGED, T0, COMPANY, row, previous)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("PendingAuth", "Linked", "connection.connected"),
        ("Unlinked", "Linked", "connection.reconnected"),
        ("Deauthorized", "Linked", "connection.reconnected"),
        ("Linked", "Unlinked", "connection.disconnected"),
        ("Linked", "Deauthorized", "connection.disconnected"),
        ("PendingAuth", "Unlinked", None),  # not a move Codat sends an event for
        ("Linked", "Linked", None),  # a sync
    ],
)
def test_status_moves_and_their_events(before, after, expected):
    assert event_type(changed(before, after)) == expected


def test_a_new_active_error_without_a_move_is_a_failed_link():
    assert event_type(changed("PendingAuth", "PendingAuth", None, ACTIVE)) == "connection.failed"
    resolved = [{"status": "Resolved"}]
    assert event_type(changed("PendingAuth", "PendingAuth", ACTIVE, resolved)) is None
    assert event_type(changed("Deauthorized", "Deauthorized", ACTIVE, ACTIVE)) is None


def test_records_created_and_deleted():
    kinds = {
        ChangeKind.COMPANY_CREATED: "company.created",
        ChangeKind.COMPANY_DELETED: "company.deleted",
        ChangeKind.CONNECTION_CREATED: "connection.created",
        ChangeKind.CONNECTION_DELETED: "connection.deleted",
    }
    for kind, expected in kinds.items():
        assert event_type(Change(kind, T0, COMPANY, {"id": "x", "status": "Linked"})) == expected


def delivery(n: int, held: bool = False) -> Delivery:
    event = Event(f"e{n}", "company.created", T0 + timedelta(seconds=n), b"{}")
    return Delivery(Message(f"m{n}", event), n, event.generated, held=held)


def drain(outbox: Outbox, now: datetime) -> list[str]:
    """Take every due delivery, each succeeding."""
    sent = []
    while (taken := outbox.take_due(now)) is not None:
        sent.append(taken.message.id)
        outbox.settle(taken, succeeded=True)
    return sent


def test_a_held_message_goes_right_after_the_next_one():
    outbox = Outbox("c")
    for n, held in enumerate([False, True, False, False, True]):
        outbox.add(delivery(n, held))
    assert drain(outbox, T0 + timedelta(hours=1)) == ["m0", "m2", "m1", "m3"]
    outbox.release()  # nothing came after the last held one: a flush sends it
    assert drain(outbox, T0 + timedelta(hours=1)) == ["m4"]


def fail_all_due(outbox: Outbox, now: datetime) -> list[datetime]:
    """Take every due delivery, each failing; when each was due."""
    dues = []
    while (taken := outbox.take_due(now)) is not None:
        dues.append(taken.due)
        outbox.settle(taken, succeeded=False)
    return dues


def test_failures_are_retried_on_the_schedule_until_eight_attempts():
    outbox = Outbox("c")
    outbox.add(delivery(0))
    dues = fail_all_due(outbox, T0 + timedelta(days=2))
    waits = [later - earlier for earlier, later in zip(dues, dues[1:], strict=False)]
    assert len(dues) == 8 and tuple(waits) == SCHEDULE[1:]
    assert outbox.pending() == []


def test_five_days_of_failures_disable_and_enabling_resumes_now():
    outbox = Outbox("c")
    first, late = delivery(0), delivery(1)
    late.due = T0 + DISABLED_AFTER
    outbox.add(first)
    outbox.add(late)
    fail_all_due(outbox, T0 + DISABLED_AFTER - timedelta(seconds=1))
    assert not outbox.disabled  # the first message's eight attempts failed, over 28 hours
    fail_all_due(outbox, T0 + DISABLED_AFTER)
    assert outbox.disabled and outbox.take_due(T0 + timedelta(days=9)) is None
    outbox.enable(T0 + timedelta(days=9))
    assert [p.due for p in outbox.pending()] == [T0 + timedelta(days=9)]  # the late one's retry


def test_a_duplicate_is_sent_once_more_after_its_success():
    outbox = Outbox("c")
    twice = delivery(0)
    twice.duplicate = True
    outbox.add(twice)
    assert drain(outbox, T0) == ["m0", "m0"]
    assert outbox.pending() == []


def test_the_signature_is_what_svix_verifies():
    secret = consumer_secret("seed", "consumer")
    assert secret.startswith("whsec_") and secret == consumer_secret("seed", "consumer")
    assert secret != consumer_secret("seed", "another")
    now = int(datetime.now(timezone.utc).timestamp())
    signed = headers(secret, "msg_1", now, b'{"a":1}')
    Webhook(secret).verify(b'{"a":1}', signed)  # raises if it does not verify
    assert signed["webhook-signature"] == Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(now, timezone.utc), b'{"a":1}'
    )
