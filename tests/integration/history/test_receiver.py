"""The webhook receiver over real HTTP, on both backends: what is stored (once), what is
refused (and recorded nowhere), what hostile input gets, and that an answer 2xx always means
stored. Messages are signed with svix, as Codat signs them; the sandbox's own deliveries are in
test_live_events.py."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import requests
from svix.webhooks import Webhook

from codat_nb.events import Receiver
from codat_nb.history.backend import APPLICATION_ID

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def body(n: int = 1, status: str = "Deauthorized") -> bytes:
    event = {
        "id": f"5b4a9c1e-0000-4000-8000-{n:012d}",
        "eventType": "connection.disconnected",
        "generatedDate": "2026-11-02T10:00:00.000Z",
        "payload": {
            "referenceCompany": {"id": "c1", "name": "Acme"},
            "connection": {"id": f"k{n}", "status": status, "platformName": "Xero"},
        },
    }
    return json.dumps(event).encode()


def signed(
    data: bytes, message_id: str = "msg_1", *, secret: str = SECRET, age: float = 0
) -> dict[str, str]:
    """Codat's three headers for ``data``, signed ``age`` seconds ago."""
    when = datetime.now(timezone.utc) - timedelta(seconds=age)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, when, data),
        "content-type": "application/json",
    }


@pytest.fixture
def reports():
    return []


@pytest.fixture
def receiver(history, reports):
    with Receiver(history, secret=SECRET, report=reports.append, read_timeout=1.0) as r:
        yield r


def post(receiver: Receiver, data: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(receiver.url, data=data, headers=headers, timeout=10)


def test_a_signed_event_is_stored_then_answered(receiver, history):
    answer = post(receiver, body(), signed(body()))

    assert (answer.status_code, answer.json()) == (200, {"stored": True})
    events = history.events()
    assert events["event_id"].tolist() == [json.loads(body())["id"]]
    assert events["message_id"].tolist() == ["msg_1"]
    assert receiver.counts.stored == 1


def test_a_retried_message_is_acknowledged_and_never_stored_twice(receiver, history, reports):
    """Codat resends a message it got no 2xx for, same webhook-id, newly signed: answering
    4xx would make it retry for 28 hours and count the endpoint as failing."""
    post(receiver, body(), signed(body()))
    again = post(receiver, body(), signed(body(), age=30))
    captured = signed(body(2), "msg_2")
    post(receiver, body(2), captured)
    replayed = post(receiver, body(2), captured)  # the very same bytes and headers

    for answer in (again, replayed):
        assert (answer.status_code, answer.json()) == (200, {"stored": False, "duplicate": True})
    assert len(history.events()) == 2
    assert receiver.counts.duplicates == 2
    assert any(line.startswith("duplicate msg_1") for line in reports)


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda: (body(), signed(body(), secret=OTHER_SECRET)), 401, "No matching signature"),
        (lambda: (body(status="Linked"), signed(body())), 401, "No matching signature"),
        (lambda: (body() + b" ", signed(body())), 401, "No matching signature"),
        (lambda: (body(), signed(body(), age=6 * 60)), 401, "too old"),
        (lambda: (body(), signed(body(), age=-6 * 60)), 401, "too new"),
        (lambda: (body(), {"content-type": "application/json"}), 400, "missing header"),
        (lambda: (body(), {**signed(body()), "webhook-timestamp": "soon"}), 400, "timestamp"),
        (lambda: (b"{oops", signed(b"{oops")), 400, "not a Codat event"),
        (lambda: (b"[]", signed(b"[]")), 400, "not a Codat event"),
    ],
    ids=["forged", "tampered", "one-byte-more", "stale", "from-the-future", "unsigned",
         "bad-timestamp", "signed-garbage", "signed-non-event"],
)  # fmt: skip
def test_what_is_not_codats_is_refused_and_recorded_nowhere(
    receiver, history, reports, make, status, reason
):
    data, headers = make()

    answer = post(receiver, data, headers)

    assert answer.status_code == status and reason in answer.json()["error"]
    assert history.events().empty and receiver.counts.stored == 0
    assert receiver.counts.rejected == 1 and reason in reports[-1]
    assert SECRET not in " ".join(reports) + answer.text


def event_with(n: int, **fields: object) -> bytes:
    """``body(n)`` with some of its fields replaced."""
    return json.dumps({**json.loads(body(n)), **fields}).encode()


@pytest.mark.parametrize(
    "data",
    [
        event_with(1, generatedDate="0001-01-01T00:00:00+05:00"),  # before year 1 in UTC
        event_with(1, generatedDate="9999-12-31T23:00:00-05:00"),  # after year 9999 in UTC
        event_with(1, generatedDate="NaN"),
        event_with(1, generatedDate=""),
        event_with(1, payload=[]).replace(b"[]", b"[" * 100_000 + b"]" * 100_000),
    ],
    ids=["date-before-year-1", "date-after-year-9999", "date-NaN", "date-empty", "too-deep"],
)
def test_a_signed_message_it_cannot_read_gets_400_never_a_dropped_connection(
    receiver, history, reports, data
):
    """Signed by Codat yet unreadable: a clear 400 (README's table), never a connection
    dropped without an answer nor an event stored at a made-up time."""
    answer = post(receiver, data, signed(data))

    assert answer.status_code == 400, answer.text
    assert "not a Codat event" in answer.json()["error"]
    assert history.events().empty and receiver.counts.rejected == 1
    assert post(receiver, body(2), signed(body(2), "msg_2")).status_code == 200


def test_an_event_dated_after_2262_is_stored_never_answered_503(receiver, history):
    """A date pandas cannot hold in nanoseconds (after 2262) is still a date: stored as sent,
    never a 503 that Codat would retry for 28 hours (failing the events batched with it)."""
    far = event_with(1, generatedDate="9999-12-31T23:00:00Z")

    answers = [post(receiver, far, signed(far)), post(receiver, body(2), signed(body(2), "m2"))]

    assert [a.status_code for a in answers] == [200, 200]
    events = history.events(since="9999-12-31")
    assert events["generated_at"].tolist() == [pd.Timestamp("9999-12-31T23:00:00Z")]
    assert len(history.events()) == 2


def test_a_stale_replay_of_a_stored_message_is_refused(receiver, history):
    headers = signed(body(), age=6 * 60)
    assert post(receiver, body(), headers).status_code == 401
    assert history.events().empty


def test_hostile_http_gets_an_answer_never_a_500(receiver, history):
    assert requests.get(receiver.url, timeout=5).status_code == 405
    huge = b"x" * (2 << 20)
    assert post(receiver, huge, signed(huge)).status_code == 413
    host, port = receiver.url.split("//")[1].rstrip("/").split(":")
    for raw in (b"NONSENSE\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\nhello"):  # fmt: skip
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(raw)
            assert sock.recv(100).split(b" ")[1] == b"400"
    with socket.create_connection((host, int(port)), timeout=5) as sock:  # a trickle
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        start = time.monotonic()
        answer = sock.recv(100)
        assert time.monotonic() - start < 3 and (answer == b"" or b" 408 " in answer)
    assert history.events().empty
    assert post(receiver, body(), signed(body())).status_code == 200  # still serving


@contextlib.contextmanager
def write_lock_held(store):
    """The history's write lock, held by another connection (another writer, busy)."""
    if store.name == "sqlite":
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    import psycopg

    with psycopg.connect(store.target, autocommit=True) as holder:
        lock = f"{APPLICATION_ID}, hashtext(current_schema())"
        holder.execute(f"SELECT pg_advisory_lock({lock})")
        yield
        holder.execute(f"SELECT pg_advisory_unlock({lock})")


def test_a_history_that_cannot_store_gets_503_and_the_retry_stores(store, reports):
    """Never 2xx for what was not stored: with the write lock held elsewhere the message is
    answered 503 (Codat retries); the retry after the lock is free is stored."""
    store.open().close()
    with Receiver(store.target, secret=SECRET, answer_within=0.5, report=reports.append) as r:
        with write_lock_held(store):
            refused = post(r, body(), signed(body()))
            time.sleep(1)  # the writer gives up on the lock
        retried = post(r, body(), signed(body()))
        assert (refused.status_code, retried.status_code) == (503, 200)
        assert "not stored" in refused.json()["error"] and refused.headers["Retry-After"]
        assert len(r.history.events()) == 1 and r.counts.failed == 1


def test_callbacks_run_off_the_answering_path_and_their_failures_are_reported(history, reports):
    seen, release = [], threading.Event()

    def slow(event):
        release.wait(10)
        seen.append(event.event_id)

    def broken(event):
        raise RuntimeError("the pager is down")

    with Receiver(history, secret=SECRET, on_event=[broken, slow], report=reports.append) as r:
        start = time.monotonic()
        answers = [post(r, body(n), signed(body(n), f"msg_{n}")).status_code for n in (1, 2)]
        took = time.monotonic() - start
        release.set()
    assert answers == [200, 200] and took < 5
    assert seen == [json.loads(body(n))["id"] for n in (1, 2)]  # in the order stored
    assert sum("the pager is down" in line for line in reports) == 2


def test_the_secret_shows_nowhere(history):
    with Receiver(history, secret=SECRET) as r:
        assert SECRET not in repr(r) and SECRET.removeprefix("whsec_") not in repr(r.__dict__)
    with pytest.raises(ValueError, match="not an endpoint signing secret") as refused:
        Receiver(history, secret="whsec_short")
    assert "short" not in str(refused.value)
