"""Injected faults: 429 with Retry-After, 500/503, the concurrency cap, dropped connections."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from codat_nb.sandbox import Sandbox


def test_rate_limited_requests_get_429_with_retry_after(sandbox, session, expect_error):
    sandbox.faults.rate_limit_rate = 1.0
    sandbox.faults.retry_after = 7
    response = session.get(f"{sandbox.url}/companies")
    body = expect_error(response, 429, contains="too many requests")
    assert response.headers["Retry-After"] == "7"
    assert body["canBeRetried"] == "Unknown"
    assert "X-Rate-Limit-Remaining" in response.headers
    sandbox.faults.rate_limit_rate = 0.0
    assert session.get(f"{sandbox.url}/companies").status_code == 200


def test_faulted_writes_change_nothing(sandbox, session):
    sandbox.faults.error_rate = 1.0
    before = sandbox.store.snapshot()
    response = session.post(f"{sandbox.url}/companies", json={"name": "Never Ltd"})
    assert response.status_code in (500, 503)
    assert sandbox.store.snapshot() == before


def test_error_rate_gives_500_and_503_bodies(sandbox, session, expect_error):
    sandbox.faults.error_rate = 1.0
    seen = {}
    for _ in range(40):
        response = session.get(f"{sandbox.url}/companies")
        seen[response.status_code] = expect_error(response, response.status_code)
    assert set(seen) == {500, 503}
    assert seen[500]["error"] == "There is a problem with our server. Please try again later."
    assert "temporarily offline" in seen[503]["error"]
    assert sandbox.unexpected_errors == []  # injected, not accidental


def test_partial_fault_rates_hit_some_requests_only(sandbox, session):
    sandbox.faults.error_rate = 0.3
    codes = [session.get(f"{sandbox.url}/companies").status_code for _ in range(100)]
    assert 0 < sum(c >= 500 for c in codes) < 100


def test_concurrency_cap_answers_429_while_full(sandbox, auth_session, expect_error):
    sandbox.faults.max_concurrency = 1
    sandbox.faults.latency_ms = 60_000  # the first request parks until latency is lowered
    first: list[requests.Response] = []
    holder = threading.Thread(
        target=lambda: first.append(auth_session(sandbox).get(f"{sandbox.url}/companies"))
    )
    holder.start()
    deadline = time.monotonic() + 30  # a bound so a regression fails instead of hanging
    while sandbox.faults.in_flight < 1:  # wait for a condition, not for time
        assert time.monotonic() < deadline, "the first request never reached the sandbox"
        time.sleep(0.005)
    over = auth_session(sandbox).get(f"{sandbox.url}/companies")
    expect_error(over, 429, contains="at most 1")
    assert over.headers["Retry-After"] == "1"
    sandbox.faults.latency_ms = 0  # wakes the parked request
    holder.join()
    assert first[0].status_code == 200
    assert sandbox.faults.in_flight == 0


def test_dropped_connection_is_a_connection_error(sandbox, session):
    sandbox.faults.drop_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        session.get(f"{sandbox.url}/companies")
    sandbox.faults.drop_rate = 0.0
    assert session.get(f"{sandbox.url}/companies").status_code == 200  # the pool recovers


def test_daily_quota_runs_out_and_resets_with_the_clock(sandbox, session, expect_error):
    sandbox.faults.daily_quota = 2
    assert session.get(f"{sandbox.url}/companies").headers["X-Rate-Limit-Remaining"] == "1"
    assert session.get(f"{sandbox.url}/companies").headers["X-Rate-Limit-Remaining"] == "0"
    over = session.get(f"{sandbox.url}/companies")
    expect_error(over, 429, contains="quota")
    assert int(over.headers["Retry-After"]) == 15 * 3600  # 09:00 -> midnight
    sandbox.clock.set(sandbox.clock.now().replace(day=2))
    assert session.get(f"{sandbox.url}/companies").status_code == 200


def test_faults_can_be_set_at_start():
    with Sandbox(seed=None, error_rate=1.0) as sb:
        response = requests.get(f"{sb.url}/companies", headers={"Authorization": sb.auth_header})
        assert response.status_code in (500, 503)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("error_rate", 2),
        ("rate_limit_rate", -0.1),
        ("drop_rate", "half"),
        ("latency_ms", -1),
        ("latency_ms", float("nan")),
        ("latency_ms", float("inf")),
        ("retry_after", 1.5),
        ("max_concurrency", 0),
        ("daily_quota", 0),
        ("rate_limits", 1),
        ("company_limit", -1),
        ("one_time_links", "yes"),
        ("max_page_size", 0),
        ("ignore_query", None),
        ("error_validation", 0),
    ],
)
def test_bad_fault_settings_are_refused(sandbox, name, value):
    before = getattr(sandbox.faults, name)
    with pytest.raises(ValueError, match=name):
        setattr(sandbox.faults, name, value)
    assert getattr(sandbox.faults, name) == before
