"""Codat's daily quota: a listing says what it needs before spending it, stops with
QuotaExceededError (reset time, requests made), and resumes without fetching again what it had
(also after Ctrl-C)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

import codat_nb
from codat_nb.sandbox import Sandbox
from tests.support import client_for, make_company


def truth(sb, company_id):
    return [row["id"] for row in sb.store.connections_wire(company_id)]


@pytest.fixture
def metered():
    with Sandbox(seed=None, daily_quota=4) as sb:
        yield sb


def test_a_listing_that_would_overrun_the_quota_stops_before_spending(metered):
    company = make_company(metered, 30)
    client = client_for(metered)
    before = metered.store.request_count
    with pytest.raises(codat_nb.QuotaExceededError, match="needs 6 more requests") as info:
        client.connections.list(company, page_size=5)  # 5 more pages, 1 read to check them
    assert metered.store.request_count - before == 1  # page 1 told the count; nothing more
    assert info.value.requests_made == 1
    assert client.rate_limit.remaining == 3
    assert "check_quota=False" in str(info.value)
    assert client.unfinished is not None


def test_quota_used_up_mid_listing_then_resumed_the_next_day(metered):
    company = make_company(metered, 30)
    client = client_for(metered)
    with pytest.raises(codat_nb.QuotaExceededError) as info:  # 6 pages and a check: 7 > 4
        client.connections.list(company, page_size=5, concurrency=1, check_quota=False)
    error = info.value
    assert error.status_code == 429 and isinstance(error, codat_nb.RateLimitError)
    assert error.requests_made == 5  # 4 answered, the fifth told to wait until midnight
    assert error.reset_at is not None and error.correlation_id
    metered.clock.set(metered.clock.now() + timedelta(days=1))  # the quota resets at 00:00 UTC
    before = metered.store.request_count
    frame = client.unfinished.resume()
    assert list(frame["id"]) == truth(metered, company)
    assert frame.attrs["pages_reused"] == 4  # the four pages it had are not fetched again
    assert metered.store.request_count - before == frame.attrs["requests"] == 3  # 2 + a check
    assert client.unfinished is None


def test_a_listing_interrupted_by_ctrl_c_resumes_where_it_stopped(sandbox, sigint_after):
    company = make_company(sandbox, 40)
    client = client_for(sandbox)
    watcher = sigint_after(sandbox, 3)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(1000):  # Ctrl-C arrives during one of these listings
            client.connections.list(company, page_size=4, concurrency=1)
    watcher.join()
    frame = client.unfinished.resume()
    assert list(frame["id"]) == truth(sandbox, company)
    assert frame.attrs["pages_reused"] >= 1


def test_listings_report_what_they_cost(demo_sandbox):
    client = client_for(demo_sandbox)
    before = demo_sandbox.store.request_count
    frame = client.connections.list_all()
    assert frame.attrs["requests"] == demo_sandbox.store.request_count - before == 1
    assert frame.attrs["server_time"] == client.server_time()
    assert isinstance(frame.attrs["failures"], pd.DataFrame) and frame.attrs["failures"].empty


def test_a_listing_stopped_by_the_quota_check_resumes_the_next_day():
    """Its page 1 is kept, so yesterday's X-Rate-Limit-Remaining must not refuse it again."""
    with Sandbox(seed=None, daily_quota=8) as sb:
        company = make_company(sb, 300)
        client = client_for(sb)
        for _ in range(4):
            client.companies.get(company)
        with pytest.raises(codat_nb.QuotaExceededError, match="needs 6 more requests") as info:
            client.connections.list(company, page_size=50)
        assert isinstance(info.value.reset_at, datetime)  # a time, to compare and to show
        sb.clock.set(sb.clock.now() + timedelta(days=1))
        frame = client.unfinished.resume()
        assert list(frame["id"]) == truth(sb, company)
        assert frame.attrs["pages_reused"] == 1


def test_a_verified_listing_counts_its_second_walk_before_spending(metered):
    company = make_company(metered, 30)
    client = client_for(metered)
    with pytest.raises(codat_nb.QuotaExceededError, match="needs 13 more requests") as info:
        client.connections.list(company, page_size=5, consistency="verified")
    assert "then 7 to walk it again" in str(info.value)  # 6 pages and a probe, again
    assert info.value.requests_made == 1
