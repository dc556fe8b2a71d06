"""Codat's documented rate limits, on by default: the daily quota of 1,000 x (1 + active
connected companies) reset at 00:00 UTC, 10 requests in flight per company, 1,000 a minute per
client; ``daily_quota`` and ``rate_limits`` change them."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from datetime import timedelta

import pytest
import requests

from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.clock import Clock
from codat_nb.sandbox.limits import PER_MINUTE, RateLimits


def test_the_daily_quota_follows_codats_formula(sandbox, session):
    def limit() -> int:
        return int(session.get(f"{sandbox.url}/companies").headers["X-Rate-Limit-Limit"])

    assert limit() == 1_000  # no active connected company
    company = sandbox.store.create_company("Active Ltd")["id"]
    pending = sandbox.store.create_connection(company, "gbol")["id"]
    assert limit() == 1_000  # a PendingAuth connection does not make it active
    sandbox.store.link(company, pending)
    assert limit() == 2_000
    sandbox.store.create_partner_expense_connection(company)
    assert limit() == 2_000  # companies are counted, not connections
    sandbox.store.unlink(company, pending)
    assert limit() == 2_000  # the partner expense connection is still Linked
    sandbox.faults.daily_quota = 5
    assert limit() == 5
    sandbox.faults.daily_quota = None
    assert limit() == 2_000


def test_the_demo_portfolio_quota_counts_its_active_connected_companies(demo_sandbox, demo_session):
    active = sum(
        any(c["status"] == "Linked" for c in company["dataConnections"])
        for company in demo_sandbox.store.list_companies_wire()
    )
    response = demo_session.get(f"{demo_sandbox.url}/companies")
    assert response.headers["X-Rate-Limit-Limit"] == str(1_000 * (1 + active))


def test_a_used_up_quota_is_429_until_midnight_utc_on_the_sandbox_clock(
    sandbox, session, expect_error
):
    sandbox.faults.daily_quota = 3
    statuses = [session.get(f"{sandbox.url}/companies").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    for _ in range(2):  # every further request, until the reset
        over = session.get(f"{sandbox.url}/companies")
        expect_error(over, 429, contains="quota")
        assert over.headers["Retry-After"] == str(15 * 3600)  # 09:00 -> 00:00 UTC
        assert over.headers["X-Rate-Limit-Remaining"] == "0"
    sandbox.clock.set(sandbox.clock.now() + timedelta(hours=14, minutes=59, seconds=59))
    assert session.get(f"{sandbox.url}/companies").headers["Retry-After"] == "1"
    sandbox.clock.set(sandbox.clock.now() + timedelta(seconds=1))  # 00:00 UTC
    fresh = session.get(f"{sandbox.url}/companies")
    assert fresh.status_code == 200 and fresh.headers["X-Rate-Limit-Remaining"] == "2"
    assert fresh.headers["X-Rate-Limit-Reset"] == "2026-11-03T00:00:00Z"


def _get_later(sb: Sandbox, company_id: str, into: list) -> threading.Thread:
    """A request for ``company_id``'s connections on its own thread, answered into ``into``."""

    def get() -> None:
        url = f"{sb.url}/companies/{company_id}/connections"
        into.append(requests.get(url, headers={"Authorization": sb.auth_header}, timeout=120))

    thread = threading.Thread(target=get)
    thread.start()
    return thread


def _wait_until(condition) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "the requests never arrived"
        time.sleep(0.01)


@pytest.mark.parametrize("limits", [True, False])
def test_at_most_ten_requests_per_company_are_in_flight(sandbox, expect_error, limits):
    """Ten requests parked in flight (latency) for one company; an eleventh for it is a 429
    at once, while another company's is served."""
    sandbox.faults.rate_limits = limits
    busy = sandbox.store.create_company("Busy Ltd")["id"]
    calm = sandbox.store.create_company("Calm Ltd")["id"]
    sandbox.faults.latency_ms = 120_000
    parked: list = []
    eleventh: list = []
    other: list = []
    threads = [_get_later(sandbox, busy, parked) for _ in range(10)]
    try:
        _wait_until(lambda: sandbox.faults.in_flight == 10)
        threads += [_get_later(sandbox, busy, eleventh), _get_later(sandbox, calm, other)]
        expected = 11 if limits else 12  # over the limit it is answered without waiting
        _wait_until(lambda: sandbox.faults.in_flight == expected and len(eleventh) == 12 - expected)
    finally:
        sandbox.faults.latency_ms = 0  # wakes every parked request
        for thread in threads:
            thread.join(60)
    assert [r.status_code for r in parked + other] == [200] * 11
    if limits:
        expect_error(eleventh[0], 429, contains="at most 10")
        assert eleventh[0].headers["Retry-After"] == "1"
    else:
        assert eleventh[0].status_code == 200


def test_at_most_1000_requests_a_minute_per_client(sandbox, expect_error):
    """The minute window's clock is frozen, so a slow machine cannot spread the 1,000
    requests over more than a minute."""
    company = sandbox.store.create_company("Busy Ltd")["id"]
    sandbox.faults.daily_quota = 10**6
    sandbox._app.limits.monotonic = lambda: 1_000.0
    url = f"/companies/{company}/connections"
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=60)
    headers = {"Authorization": sandbox.auth_header}
    for _ in range(PER_MINUTE):
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    conn.close()
    over = requests.get(sandbox.url + url, headers=headers, timeout=60)
    expect_error(over, 429, contains="1,000 a minute")
    assert over.headers["Retry-After"] == "60"  # the first of them leaves the window then
    assert _status_from("127.0.0.2", sandbox, url) == 200  # another client has its own minute
    sandbox.faults.rate_limits = False
    assert requests.get(sandbox.url + url, headers=headers, timeout=60).status_code == 200


def _status_from(source: str, sb: Sandbox, path: str) -> int:
    """A request from another loopback address (Linux answers all of 127/8)."""
    sock = socket.socket()
    sock.settimeout(60)
    try:
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", sb.port))
    except OSError:
        pytest.skip(f"cannot send from {source} here")
    with sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {sb.auth_header}\r\n\r\n".encode()
        )
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status


def test_the_minute_window_slides():
    now = [1000.0]
    limits = RateLimits(Clock(), lambda: 0, monotonic=lambda: now[0])
    for n in range(PER_MINUTE):
        now[0] = 1000.0 + n * 0.03  # 1,000 requests over 30 s
        assert limits.per_minute_wait("a") is None
    now[0] = 1030.0
    assert limits.per_minute_wait("a") == 30  # the first leaves the window at 1060
    assert limits.per_minute_wait("b") is None
    now[0] = 1060.0
    assert limits.per_minute_wait("a") is None  # room for one
    assert limits.per_minute_wait("a") == 1
