"""Fail fast and say why: one deadline per call whatever the server does, a cap on what one
answer may weigh, and errors that name the problem."""

from __future__ import annotations

import gzip
import time

import pytest

import codat_nb
from codat_nb.transport import POOL_SIZE
from tests.hostile import Answer, hostile, page

PATIENT = codat_nb.RetryPolicy(max_retries=0, deadline=2.0)


@pytest.mark.parametrize("headers_too", [False, True], ids=["body trickles", "headers trickle"])
def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(headers_too):
    body = page([]) | {"padding": "x" * 400}
    trickle = Answer(body=body, trickle=0.05, trickle_headers=headers_too)  # ~25 s in all
    with (
        hostile(lambda asked: trickle) as server,
        codat_nb.CodatClient("k", base_url=server.url, retries=PATIENT) as client,
    ):
        started = time.monotonic()
        with pytest.raises(codat_nb.CodatTimeoutError):
            client.companies.list()
        elapsed = time.monotonic() - started
    assert elapsed < 10  # the deadline is 2 s; the trickle alone would take 25 s


def test_a_decompression_bomb_is_refused_not_inflated():
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in about 50 KB
    answer = Answer(body=bomb, headers={"Content-Encoding": "gzip"})
    with (
        hostile(lambda asked: answer) as server,
        codat_nb.CodatClient("k", base_url=server.url, max_response_bytes=5_000_000) as client,
        pytest.raises(codat_nb.ResponseTooLargeError, match="5,000,000 bytes") as info,
    ):
        client.companies.list()
    assert info.value.url == f"{server.url}/companies"


def test_the_default_response_cap_is_finite_and_configurable():
    from codat_nb.transport import MAX_RESPONSE_BYTES

    assert 2**20 <= MAX_RESPONSE_BYTES <= 2**30
    with pytest.raises(ValueError, match="max_response_bytes"):
        codat_nb.CodatClient("k", base_url="http://127.0.0.1:9", max_response_bytes=0)


def test_retry_after_of_zero_or_in_the_past_still_backs_off():
    answers = iter(
        [
            Answer(429, {"error": "slow down"}, {"Retry-After": "0"}),
            Answer(429, {"error": "slow down"}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            Answer(429, {"error": "slow down"}, {"Retry-After": "-5"}),
            Answer(200, page([])),
        ]
    )
    policy = codat_nb.RetryPolicy(backoff=0.2, jitter=0, deadline=30)
    with (
        hostile(lambda asked: next(answers)) as server,
        codat_nb.CodatClient("k", base_url=server.url, retries=policy) as client,
    ):
        client.companies.list()
        times = [asked.at for asked in server.asked]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) == 3
    assert all(gap >= 0.19 for gap in gaps), gaps  # backoff 0.2, 0.4, 0.8 s: never hammered


def test_timeouts_and_backoffs_must_be_finite_and_positive():
    for bad in (float("inf"), float("nan"), 0, -1):
        with pytest.raises(ValueError, match="timeout"):
            codat_nb.CodatClient("k", base_url="http://127.0.0.1:9", timeout=bad)
        with pytest.raises(ValueError, match="RetryPolicy.backoff"):
            codat_nb.RetryPolicy(backoff=bad)
        with pytest.raises(ValueError, match="RetryPolicy.deadline"):
            codat_nb.RetryPolicy(deadline=bad)


def test_a_call_whose_deadline_has_passed_is_a_timeout_not_a_crash():
    with hostile(lambda asked: Answer(body=page([]))) as server:
        client = codat_nb.CodatClient("k", base_url=server.url)
        with pytest.raises(codat_nb.CodatTimeoutError, match="deadline"):
            client._transport.request("GET", "/companies", deadline=time.monotonic() - 1)
        assert server.asked == []


def test_a_call_waits_for_a_free_connection_only_until_its_deadline():
    """All of the client's connections busy (held here, as other threads' requests would
    hold them): a call waits for one, gives up at its deadline saying why, sends nothing."""
    policy = codat_nb.RetryPolicy(max_retries=0, deadline=0.5)
    with (
        hostile(lambda asked: Answer(body=page([]))) as server,
        codat_nb.CodatClient("k", base_url=server.url, retries=policy) as client,
    ):
        slots = client._transport._slots
        for _ in range(POOL_SIZE):
            slots.acquire()
        started = time.monotonic()
        with pytest.raises(codat_nb.CodatTimeoutError, match=f"{POOL_SIZE} connections"):
            client.companies.list()
        assert time.monotonic() - started > 0.4 and server.asked == []
        for _ in range(POOL_SIZE):
            slots.release()
        assert client.companies.list().empty  # a connection free: sent at once
