"""``Idempotency-Key`` on POST and PATCH, as Codat documents it, over real HTTP."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import requests

from tests.support import link_accounting

KEY = "6b0b1a2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"


def company(sandbox) -> str:
    return sandbox.store.create_company("Idempotent Ltd")["id"]


def create(sandbox, session, company_id, key=KEY, platform="gbol") -> requests.Response:
    return session.post(
        f"{sandbox.url}/companies/{company_id}/connections",
        json={"platformKey": platform},
        headers={"Idempotency-Key": key},
    )


def test_a_repeated_key_replays_the_first_answer_byte_for_byte(sandbox, session):
    cid = company(sandbox)
    first, again = create(sandbox, session, cid), create(sandbox, session, cid)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert len(sandbox.store.connections_wire(cid)) == 1


def test_a_new_key_is_a_new_request(sandbox, session):
    cid = company(sandbox)
    create(sandbox, session, cid)
    create(sandbox, session, cid, key=str(uuid.uuid4()))
    assert len(sandbox.store.connections_wire(cid)) == 2


def test_the_key_must_be_a_guid_and_a_bad_one_changes_nothing(sandbox, session, expect_error):
    cid = company(sandbox)
    before = sandbox.store.snapshot()
    for bad in ("not-a-guid", "", "1234", KEY + "0"):
        expect_error(create(sandbox, session, cid, key=bad), 400, item_id="Idempotency-Key")
    assert sandbox.store.snapshot() == before


def test_the_same_key_for_a_different_request_is_422(sandbox, session, expect_error):
    cid = company(sandbox)
    create(sandbox, session, cid)
    expect_error(create(sandbox, session, cid, platform="qhyg"), 422, contains=KEY)
    assert len(sandbox.store.connections_wire(cid)) == 1


def test_a_server_error_is_kept_and_replayed_for_the_same_key(sandbox, session):
    cid = company(sandbox)
    sandbox.faults.error_rate = 1.0
    failed = create(sandbox, session, cid)
    sandbox.faults.error_rate = 0.0
    replayed = create(sandbox, session, cid)
    assert failed.status_code in (500, 503)
    assert replayed.content == failed.content and replayed.status_code == failed.status_code
    assert sandbox.store.connections_wire(cid) == []
    assert create(sandbox, session, cid, key=str(uuid.uuid4())).status_code == 200


def test_a_4xx_is_kept_too(sandbox, session):
    cid = company(sandbox)
    first = create(sandbox, session, cid, platform="zzzz")
    assert first.status_code == 400
    assert create(sandbox, session, cid, platform="zzzz").content == first.content


def test_a_429_is_not_kept_so_the_same_key_can_be_retried(sandbox, session):
    cid = company(sandbox)
    sandbox.faults.rate_limit_rate = 1.0
    assert create(sandbox, session, cid).status_code == 429
    sandbox.faults.rate_limit_rate = 0.0
    assert create(sandbox, session, cid).status_code == 200
    assert len(sandbox.store.connections_wire(cid)) == 1


def test_the_same_key_while_the_first_is_in_progress_is_409(sandbox, expect_error, auth_session):
    cid = company(sandbox)
    sandbox.faults.latency_ms = 600
    first: list[requests.Response] = []
    thread = threading.Thread(
        target=lambda: first.append(create(sandbox, auth_session(sandbox), cid))
    )
    thread.start()
    waiting = threading.Event()
    while sandbox.faults.in_flight == 0 and not waiting.wait(0.005):
        pass
    second = create(sandbox, auth_session(sandbox), cid)  # answered before any latency
    thread.join(timeout=10)
    # Whichever registered the key first is handled; the other is told it is in progress.
    conflict, done = sorted([first[0], second], key=lambda r: -r.status_code)
    expect_error(conflict, 409, contains="still being processed")
    assert done.status_code == 200
    assert len(sandbox.store.connections_wire(cid)) == 1


def test_a_kept_answer_expires_after_90_minutes_of_sandbox_time(sandbox, session):
    cid = company(sandbox)
    create(sandbox, session, cid)
    sandbox.clock.set(sandbox.clock.now() + timedelta(minutes=89))
    create(sandbox, session, cid)
    assert len(sandbox.store.connections_wire(cid)) == 1
    sandbox.clock.set(sandbox.clock.now() + timedelta(minutes=2))
    create(sandbox, session, cid)
    assert len(sandbox.store.connections_wire(cid)) == 2


def test_a_dropped_answer_was_applied_and_the_same_key_returns_it(sandbox, session):
    cid = company(sandbox)
    sandbox.faults.drop_rate = 1.0
    try:
        create(sandbox, session, cid)
        raise AssertionError("the connection should have been dropped")
    except requests.ConnectionError:
        pass
    sandbox.faults.drop_rate = 0.0
    (row,) = sandbox.store.connections_wire(cid)  # applied before the answer was lost
    retried = create(sandbox, session, cid)
    assert retried.json()["id"] == row["id"]
    assert len(sandbox.store.connections_wire(cid)) == 1


def test_unlink_replays_too_and_gets_ignore_the_header(sandbox, session):
    cid = company(sandbox)
    row = {"id": link_accounting(sandbox, cid)}
    url = f"{sandbox.url}/companies/{cid}/connections/{row['id']}"
    first = session.patch(url, json={"status": "Unlinked"}, headers={"Idempotency-Key": KEY})
    again = session.patch(url, json={"status": "Unlinked"}, headers={"Idempotency-Key": KEY})
    assert first.content == again.content and first.json()["status"] == "Unlinked"
    assert session.get(url, headers={"Idempotency-Key": "not-a-guid"}).status_code == 200
