"""Delivery as Codat documents it, over real HTTP: at least once, a 2xx in time is success,
retries on Codat's schedule measured on the sandbox clock (``sb.advance`` drives them),
disabled and deleted consumers, never blocking the API, the trouble knobs, and the same bytes
for the same seed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests

from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.webhooks.outbox import SCHEDULE
from codat_nb.wire.dates import as_instant
from tests.hostile import Answer, hostile

#: Codat's retry schedule as offsets from the first attempt (troubleshooting.md).
OFFSETS = [
    timedelta(0), timedelta(seconds=5), timedelta(minutes=5, seconds=5),
    timedelta(minutes=35, seconds=5), timedelta(hours=2, minutes=35, seconds=5),
    timedelta(hours=7, minutes=35, seconds=5), timedelta(hours=17, minutes=35, seconds=5),
    timedelta(hours=27, minutes=35, seconds=5),
]  # fmt: skip


def answers(*statuses: int):
    """An ``answer`` giving these statuses in turn, then the last one for ever."""
    given = iter(statuses)
    last = [statuses[-1]]

    def answer(received) -> int:
        last[0] = next(given, last[0])
        return last[0]

    return answer


def one_event(sb: Sandbox, name: str = "Delivered Ltd") -> None:
    sb.store.create_company(name)


def offsets(attempts) -> list[timedelta]:
    return [a.due - attempts[0].due for a in attempts]


def wait_for(condition, what: str, seconds: float = 30.0) -> None:
    """Wait until ``condition()`` holds (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.01)


def test_retries_follow_codats_schedule_on_the_sandbox_clock(sandbox, receiver):
    assert SCHEDULE[1:] == tuple(b - a for a, b in zip(OFFSETS, OFFSETS[1:], strict=False))
    consumer = sandbox.webhooks.create(receiver.url, ["company.created"])["id"]
    receiver.answer = answers(503)
    one_event(sandbox)
    sandbox.webhooks.flush()
    (first,) = sandbox.webhooks.attempts()
    assert (first.number, first.status, first.error) == (1, 503, "HTTP 503")
    (pending,) = sandbox.webhooks.pending()
    assert pending.due == first.due + timedelta(seconds=5) and pending.attempts_made == 1
    sandbox.webhooks.flush()
    assert len(sandbox.webhooks.attempts()) == 1  # nothing is due until the clock moves
    sandbox.advance(hours=3)
    sandbox.webhooks.flush()
    made = sandbox.webhooks.attempts()
    assert [a.number for a in made] == [1, 2, 3, 4, 5]
    assert offsets(made) == OFFSETS[:5]
    assert sandbox.webhooks.pending()[0].due == first.due + OFFSETS[5]
    receiver.answer = answers(200)
    sandbox.advance(hours=5)
    sandbox.webhooks.flush()
    made = sandbox.webhooks.attempts()
    assert [(a.number, a.succeeded) for a in made][-1] == (6, True)
    assert sandbox.webhooks.pending() == []
    arrived = receiver.received
    assert len(arrived) == 6 and len({r.webhook_id for r in arrived}) == 1
    assert len({r.body for r in arrived}) == 1  # the same bytes every time
    receiver.verify_all(sandbox.webhook_secret(consumer))


def test_three_failures_then_a_success_is_35_minutes_and_5_seconds_late(sandbox, receiver):
    """The troubleshooting guide's example, to the second."""
    sandbox.webhooks.create(receiver.url, ["company.created"])
    receiver.answer = answers(500, 500, 500, 200)
    one_event(sandbox)
    sandbox.advance(hours=1)
    sandbox.webhooks.flush()
    made = sandbox.webhooks.attempts()
    assert [a.succeeded for a in made] == [False, False, False, True]
    assert made[-1].due - made[0].due == timedelta(minutes=35, seconds=5)


def test_after_eight_failed_attempts_the_message_is_given_up(sandbox, receiver):
    sandbox.webhooks.create(receiver.url, ["company.created"])
    receiver.answer = answers(500)
    one_event(sandbox)
    sandbox.advance(days=2)
    sandbox.webhooks.flush()
    made = sandbox.webhooks.attempts()
    assert offsets(made) == OFFSETS and [a.number for a in made] == list(range(1, 9))
    assert sandbox.webhooks.pending() == []
    sandbox.advance(days=2)
    sandbox.webhooks.flush()
    assert len(sandbox.webhooks.attempts()) == 8


@pytest.mark.parametrize(
    ("status", "succeeded"),
    [(200, True), (204, True), (299, True), (302, False), (404, False), (500, False)],
)
def test_only_a_2xx_is_a_success(sandbox, receiver, status, succeeded):
    sandbox.webhooks.create(receiver.url, ["company.created"])
    receiver.answer = answers(status)
    one_event(sandbox)
    sandbox.webhooks.flush()
    (attempt,) = sandbox.webhooks.attempts()
    assert (attempt.status, attempt.succeeded) == (status, succeeded)
    assert len(sandbox.webhooks.pending()) == (0 if succeeded else 1)


def test_an_answer_later_than_the_timeout_is_a_failure(sandbox, receiver):
    assert Faults.webhook_timeout_s.default == 15.0  # Codat's 15 seconds
    sandbox.faults.webhook_timeout_s = 0.2
    sandbox.webhooks.create(receiver.url, ["company.created"])
    receiver.hang, receiver.hang_seconds = True, 1.0  # a 200, but after a second
    one_event(sandbox)
    sandbox.webhooks.flush()
    (late,) = sandbox.webhooks.attempts()
    assert not late.succeeded and late.status is None
    assert late.error == "no answer within 0.2 s"
    receiver.hang, sandbox.faults.webhook_timeout_s = False, 15
    sandbox.advance(hours=1)
    sandbox.webhooks.flush()
    assert sandbox.webhooks.attempts()[-1].succeeded


def test_the_timeout_bounds_the_whole_answer_not_each_read(sandbox):
    """Each byte of the status line comes well within the timeout, the whole far beyond it."""
    sandbox.faults.webhook_timeout_s = 0.5
    trickle = Answer(200, b"", trickle=0.05, trickle_headers=True)
    with hostile(lambda asked: trickle) as server:
        sandbox.webhooks.create(f"{server.url}/hook", ["company.created"])
        one_event(sandbox)
        sandbox.webhooks.flush()
    (attempt,) = sandbox.webhooks.attempts()
    assert (attempt.status, attempt.error) == (None, "no answer within 0.5 s")


def test_a_kept_connection_the_receiver_closed_is_not_a_failure(sandbox, receiver):
    """Receivers close idle keep-alive connections: the next message goes on a fresh one."""
    receiver.close_idle = True
    sandbox.webhooks.create(receiver.url, ["company.created"])
    for n in range(3):
        one_event(sandbox, f"Idle {n} Ltd")
        sandbox.webhooks.flush()
    assert [(a.number, a.succeeded) for a in sandbox.webhooks.attempts()] == [(1, True)] * 3
    assert len(receiver.received) == 3


def test_nothing_listening_is_a_failure(sandbox):
    with Sandbox(seed=None) as gone:  # a port that was bound and is free again
        url = f"{gone.url}/nowhere"
    sandbox.webhooks.create(url, ["company.created"])
    one_event(sandbox)
    sandbox.webhooks.flush()
    (attempt,) = sandbox.webhooks.attempts()
    assert attempt.error == "connection refused" and attempt.status is None


def test_delivery_never_holds_up_the_api_answer(sandbox, session, receiver):
    """The receiver holds its answer until released; API calls are answered meanwhile."""
    sandbox.webhooks.create(receiver.url, ["company.created"])
    receiver.hang = True
    first = session.post(f"{sandbox.url}/companies", json={"name": "First Ltd"})
    assert first.status_code == 200 and not receiver.release.is_set()
    wait_for(lambda: len(receiver.received) == 1, "the first delivery")
    second = session.post(f"{sandbox.url}/companies", json={"name": "Second Ltd"})
    assert second.status_code == 200
    assert session.get(f"{sandbox.url}/companies").status_code == 200
    assert not receiver.release.is_set() and sandbox.webhooks.attempts() == []  # still held
    assert [p.attempts_made for p in sandbox.webhooks.pending()] == [0, 0]
    receiver.release.set()
    sandbox.webhooks.flush()
    assert [r.event["payload"]["name"] for r in receiver.received] == ["First Ltd", "Second Ltd"]


def test_stopping_the_sandbox_ends_an_attempt_under_way(receiver):
    receiver.hang = True
    sb = Sandbox(seed=None)
    sb.webhooks.create(receiver.url, ["company.created"])
    one_event(sb)
    wait_for(lambda: receiver.received, "the delivery")
    sb.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("webhooks-")]
    sb.stop()  # twice is fine


def test_a_disabled_consumer_gets_nothing_and_resumes_what_it_was_owed(sandbox, receiver):
    consumer = sandbox.webhooks.create(receiver.url, ["company.created"])["id"]
    receiver.answer = answers(500)
    one_event(sandbox, "Owed Ltd")
    sandbox.webhooks.flush()
    sandbox.webhooks.disable(consumer)
    one_event(sandbox, "Missed Ltd")  # happens while disabled: missed
    sandbox.advance(hours=3)
    sandbox.webhooks.flush()
    assert len(sandbox.webhooks.attempts()) == 1
    assert [p.attempts_made for p in sandbox.webhooks.pending()] == [1]
    receiver.answer = answers(200)
    sandbox.webhooks.enable(consumer)
    sandbox.webhooks.flush()
    names = [r.event["payload"]["name"] for r in receiver.received]
    assert names == ["Owed Ltd", "Owed Ltd"]
    resumed = sandbox.webhooks.attempts()[-1]
    assert resumed.succeeded and resumed.number == 2 and resumed.due == resumed.sent


def test_a_consumer_created_disabled_gets_nothing_until_enabled(sandbox, receiver):
    consumer = sandbox.webhooks.create(receiver.url, ["company.created"], disabled=True)["id"]
    one_event(sandbox, "Before Ltd")
    sandbox.webhooks.flush()
    assert receiver.received == [] and sandbox.webhooks.pending() == []
    sandbox.webhooks.enable(consumer)
    one_event(sandbox, "After Ltd")
    sandbox.webhooks.flush()
    assert [r.event["payload"]["name"] for r in receiver.received] == ["After Ltd"]


def test_a_deleted_consumer_loses_its_pending_attempts(sandbox, receiver, make_receiver):
    consumer = sandbox.webhooks.create(receiver.url, ["company.created"])["id"]
    other = make_receiver()
    other_id = sandbox.webhooks.create(other.url, ["company.created"])["id"]
    receiver.answer = other.answer = answers(500)
    one_event(sandbox)
    sandbox.webhooks.flush()
    assert {p.consumer_id for p in sandbox.webhooks.pending()} == {consumer, other_id}
    sandbox.webhooks.delete(consumer)
    assert {p.consumer_id for p in sandbox.webhooks.pending()} == {other_id}
    sandbox.advance(hours=3)
    sandbox.webhooks.flush()
    assert len(receiver.received) == 1  # the attempt made before it was deleted
    assert len(other.received) == 5  # the other consumer's retries went on


def test_a_consumer_failing_for_five_days_is_disabled(sandbox, receiver):
    consumer = sandbox.webhooks.create(receiver.url, ["company.created"])["id"]
    receiver.answer = answers(500)
    for day in range(6):
        one_event(sandbox, f"Day {day} Ltd")
        sandbox.webhooks.flush()
        assert sandbox.webhooks.consumers()[0]["disabled"] is (day == 5)
        sandbox.advance(days=1)
    sandbox.webhooks.flush()
    before = len(receiver.received)
    sandbox.advance(days=1)
    sandbox.webhooks.flush()
    assert len(receiver.received) == before  # disabled: nothing more is sent
    receiver.answer = answers(200)
    sandbox.webhooks.enable(consumer)
    sandbox.webhooks.flush()
    assert receiver.received[-1].event["payload"]["name"] == "Day 5 Ltd"  # still owed


def test_duplicates_repeat_the_message_with_its_webhook_id(sandbox, receiver):
    sandbox.faults.webhook_duplicate_rate = 1.0
    consumer = sandbox.webhooks.create(receiver.url, ["company.created"])["id"]
    for n in range(3):
        one_event(sandbox, f"Twice {n} Ltd")
    sandbox.webhooks.flush()
    arrived = receiver.received
    assert len(arrived) == 6
    for first, again in zip(arrived[::2], arrived[1::2], strict=True):
        assert (first.webhook_id, first.body) == (again.webhook_id, again.body)
    assert [a.duplicate for a in sandbox.webhooks.attempts()] == [False, True] * 3
    receiver.verify_all(sandbox.webhook_secret(consumer))


def test_out_of_order_delivery_sends_every_message_once_in_another_order(sandbox, receiver):
    sandbox.faults.webhook_reorder_rate = 0.5
    sandbox.webhooks.create(receiver.url, ["company.created"])
    for n in range(20):
        one_event(sandbox, f"Order {n:02} Ltd")
    sandbox.webhooks.flush()
    names = [r.event["payload"]["name"] for r in receiver.received]
    assert sorted(names) == [f"Order {n:02} Ltd" for n in range(20)]
    assert names != sorted(names)


def test_delayed_delivery_waits_on_the_sandbox_clock(sandbox, receiver):
    sandbox.faults.webhook_delay_rate = 1.0
    sandbox.faults.webhook_delay_s = 600
    sandbox.webhooks.create(receiver.url, ["company.created"])
    one_event(sandbox)
    sandbox.webhooks.flush()
    assert receiver.received == []
    (pending,) = sandbox.webhooks.pending()
    sandbox.advance(hours=1)
    sandbox.webhooks.flush()
    (attempt,) = sandbox.webhooks.attempts()
    assert attempt.due == pending.due and attempt.succeeded
    generated = receiver.received[0].event["generatedDate"]
    assert attempt.due - timedelta(seconds=600) == as_instant(generated)


def script(sb: Sandbox, receiver) -> list[tuple[str, bytes]]:
    """The same calls, with trouble on: what arrived, as (webhook-id, body)."""
    sb.faults.webhook_duplicate_rate = sb.faults.webhook_reorder_rate = 0.3
    sb.webhooks.create(receiver.url, ["company.created", "connection.created"])
    session = requests.Session()
    session.headers["Authorization"] = sb.auth_header
    for n in range(6):
        company = session.post(f"{sb.url}/companies", json={"name": f"Same {n} Ltd"}).json()
        session.post(
            f"{sb.url}/companies/{company['id']}/connections", json={"platformKey": "gbol"}
        )
    session.close()
    sb.advance(days=1)
    sb.webhooks.flush()
    return [(r.webhook_id, r.body.replace(sb.url.encode(), b"SANDBOX")) for r in receiver.received]


def test_the_same_seed_and_calls_send_the_same_messages(make_receiver):
    with Sandbox(seed="same") as one, Sandbox(seed="same") as two, Sandbox(seed="other") as other:
        sent = [script(sb, make_receiver()) for sb in (one, two, other)]
    assert len(sent[0]) > 12  # duplicates and the day's sign-ups came too
    assert sent[0] == sent[1]
    assert {i for i, _ in sent[0]}.isdisjoint(i for i, _ in sent[2])
