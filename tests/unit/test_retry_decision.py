"""The retry decision and the classification of one exchange, as pure functions (no sockets):
what is retried, what a write may retry on, when a call gives up, and what it says."""

from __future__ import annotations

import json

import pytest
import requests
import urllib3.exceptions

from codat_nb import exceptions
from codat_nb.exchange import Outcome, failure_outcome, response_outcome, write_advice
from codat_nb.retry import REFUSED_WINDOW_S, RETRY_STATUSES, RetryPolicy, next_step

URL = "http://127.0.0.1:9/companies"
NO_JITTER = RetryPolicy(max_retries=3, backoff=1.0, backoff_factor=2.0, jitter=0.0, deadline=60)


def answer(status: int, method: str = "GET", headers: dict | None = None) -> Outcome:
    body = {"statusCode": status, "error": "x", "correlationId": "c" * 32}
    return response_outcome(
        status, headers or {}, json.dumps(body).encode(), method, URL, RETRY_STATUSES
    )


def step(outcome: Outcome, **overrides):
    given = dict(
        method="GET", attempt=1, elapsed=0.1, left=60.0, maybe_applied=False, policy=NO_JITTER
    )
    given.update(overrides)
    return next_step(outcome, **given)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_reads_retry_on_the_policys_statuses(status):
    assert answer(status).retryable


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
def test_reads_do_not_retry_client_errors(status):
    assert not answer(status).retryable


@pytest.mark.parametrize(("status", "retryable"), [(408, True), (409, True), (429, True)])
def test_writes_retry_only_where_the_key_protects_them(status, retryable):
    assert answer(status, "POST").retryable is retryable


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_writes_5xx_is_final_and_may_have_been_applied(status):
    outcome = answer(status, "PATCH")
    assert not outcome.retryable and outcome.maybe_applied
    assert step(outcome, method="PATCH").action == "raise"


def test_a_success_carries_its_body_and_an_empty_one_is_none():
    assert response_outcome(200, {}, b'{"a": 1}', "GET", URL, RETRY_STATUSES).body == {"a": 1}
    assert response_outcome(200, {}, b"", "DELETE", URL, RETRY_STATUSES) == Outcome()


def test_a_success_that_is_not_json_is_an_error_retried_only_for_reads():
    read = response_outcome(200, {}, b"<html>", "GET", URL, RETRY_STATUSES)
    write = response_outcome(200, {}, b"<html>", "POST", URL, RETRY_STATUSES)
    assert "not valid JSON" in read.error.message
    assert read.retryable and not write.retryable and write.maybe_applied


def test_a_redirect_is_not_followed_and_names_where_it_pointed():
    outcome = response_outcome(302, {"Location": "https://x.test/"}, b"", "GET", URL, set())
    assert "https://x.test/" in outcome.error.message and not outcome.retryable


def test_retry_after_is_read_from_the_answer():
    assert answer(429, headers={"Retry-After": "7"}).retry_after == 7.0


def test_a_timeout_may_have_been_applied_unless_it_was_connecting():
    read = failure_outcome(requests.ReadTimeout("slow"), "POST", URL)
    connect = failure_outcome(requests.ConnectTimeout("no route"), "POST", URL)
    assert isinstance(read.error, exceptions.CodatTimeoutError)
    assert read.retryable and read.maybe_applied
    assert connect.retryable and not connect.maybe_applied
    assert "connecting" in connect.error.message


def test_a_refused_connection_is_known_never_sent():
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    refused.__cause__ = ConnectionRefusedError()
    outcome = failure_outcome(requests.ConnectionError(refused), "GET", URL)
    assert outcome.refused and not outcome.maybe_applied
    assert "connection refused" in outcome.error.message


def test_backoff_grows_until_the_retries_are_spent():
    waits = [step(answer(503), attempt=n).wait for n in (1, 2, 3)]
    assert waits == [1.0, 2.0, 4.0]
    last = step(answer(503), attempt=4)
    assert last.action == "raise" and "gave up after 4 attempts" in last.note


def test_a_final_answer_after_retries_says_so():
    assert step(answer(404), attempt=1) == ("raise", 0.0, "")
    assert "on attempt 3, after retries" in step(answer(404), attempt=3).note


def test_a_wait_past_the_deadline_gives_up_naming_it():
    result = step(answer(503), left=0.5)
    assert result.action == "raise" and "60 s deadline would pass" in result.note


def test_a_429_pauses_the_client_or_ends_the_call_as_quota():
    assert step(answer(429, headers={"Retry-After": "5"})) == ("pause", 5.0, "")
    assert step(answer(429, headers={"Retry-After": "600"})).action == "quota"


def test_a_refused_connection_is_retried_briefly_then_reported():
    refused = Outcome(error=exceptions.CodatConnectionError("x"), retryable=True, refused=True)
    quick = step(refused)
    assert quick.action == "sleep" and quick.wait <= REFUSED_WINDOW_S / 4
    assert step(refused, elapsed=REFUSED_WINDOW_S + 0.1).action == "refused"


def test_a_delete_that_finds_nothing_after_an_unclear_attempt_worked():
    gone = answer(404, "DELETE")
    assert step(gone, method="DELETE", maybe_applied=True).action == "deleted"
    assert step(gone, method="DELETE", maybe_applied=False).action == "raise"
    assert step(answer(404), maybe_applied=True).action == "raise"  # only a DELETE


KEY = "0b5f3c1e-8f0a-4c55-9a3e-2d7b6c5a4f31"


@pytest.mark.parametrize(
    "error",
    [
        exceptions.CodatTimeoutError("timed out reading the response"),
        exceptions.CodatConnectionError("connection failed"),
        exceptions.RateLimitError("slow down", status_code=429),
        exceptions.QuotaExceededError("quota used up", status_code=429),
        exceptions.CodatError("in progress", status_code=409),
    ],
    ids=["timeout", "dropped", "429", "quota", "409"],
)
def test_a_write_with_no_kept_answer_is_sent_again_with_its_key(error):
    advice = write_advice(error, KEY)
    assert f"pass idempotency_key={KEY!r}" in advice and "at most once" in advice


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_after_a_5xx_the_key_only_gets_it_back_so_check_then_send_a_new_one(status):
    advice = write_advice(exceptions.ServerError("boom", status_code=status), KEY)
    assert f"keeps this {status} for the key for 90 minutes" in advice
    assert "check whether it took effect" in advice and "without idempotency_key" in advice
    assert "pass idempotency_key" not in advice


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
def test_after_a_refusal_nothing_was_applied_and_a_new_key_is_needed(status):
    advice = write_advice(exceptions.CodatError("no", status_code=status), KEY)
    assert "Nothing was applied" in advice and "without idempotency_key" in advice
    assert write_advice(exceptions.ClientClosedError("closed"), KEY) == ""  # nothing was sent
