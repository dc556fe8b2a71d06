"""Faults: listings come back complete and duplicate-free or fail clearly; no create twice."""

from __future__ import annotations

import threading
import time

import pytest
import requests

import codat_nb
from codat_nb import RetryPolicy
from tests.support import client_for, link_accounting, make_company

FEW_RETRIES = RetryPolicy(max_retries=2, backoff=0.001, backoff_max=0.001, deadline=10.0)


def truth(sb, company_id):
    return [row["id"] for row in sb.store.connections_wire(company_id)]


def wait_for(predicate, seconds=10.0):
    """Poll until ``predicate()`` holds (bounded); returns its last value."""
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.002)
    return predicate()


def when(predicate, action):
    """Run ``action()`` in a thread once ``predicate()`` holds (waiting a bounded time)."""

    def watch():
        if wait_for(predicate):
            action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def after_requests(sb, n, action):
    """Run ``action()`` in a thread once the sandbox has seen ``n`` more requests."""
    start = sb.store.request_count
    return when(lambda: sb.store.request_count >= start + n, action)


STORMS = {
    "429 storm, Retry-After 0": {"rate_limit_rate": 0.6, "retry_after": 0},
    "5xx burst": {"error_rate": 0.5},
    "dropped connections": {"drop_rate": 0.4},
    "all at once": {"rate_limit_rate": 0.3, "retry_after": 0, "error_rate": 0.3, "drop_rate": 0.2},
}


@pytest.mark.parametrize("workers", [1, 8], ids=["sequential", "8 workers"])
@pytest.mark.parametrize("storm", STORMS, ids=list(STORMS))
def test_listing_under_faults_is_complete_in_order_and_duplicate_free(sandbox, storm, workers):
    company_id = make_company(sandbox, 150)
    for knob, value in STORMS[storm].items():
        setattr(sandbox.faults, knob, value)
    before = sandbox.store.request_count
    with client_for(sandbox, max_concurrency=8) as client:
        frame = client.connections.list(company_id, page_size=10, concurrency=workers)
    assert list(frame["id"]) == truth(sandbox, company_id)
    assert sandbox.store.request_count - before > 15  # 15 pages: faults were met and retried
    assert sandbox.unexpected_errors == []


def test_portfolio_listing_under_faults_is_complete(sandbox):
    ids = [make_company(sandbox, n, name=f"Storm {n} Ltd") for n in (0, 1, 9, 31)]
    sandbox.faults.rate_limit_rate, sandbox.faults.retry_after = 0.3, 0
    sandbox.faults.error_rate, sandbox.faults.drop_rate = 0.2, 0.1
    with client_for(sandbox) as client:
        frame = client.connections.list_all(page_size=4)
    assert list(frame["id"]) == [i for company in ids for i in truth(sandbox, company)]
    assert frame["id"].is_unique


def test_retry_after_is_honoured_not_hammered(sandbox, client):
    """With Retry-After: 1 and millisecond backoff, an obedient client asks again only once."""
    company_id = make_company(sandbox, 3)
    sandbox.faults.rate_limit_rate, sandbox.faults.retry_after = 1.0, 1
    before = sandbox.store.request_count
    calm = after_requests(sandbox, 1, lambda: setattr(sandbox.faults, "rate_limit_rate", 0.0))
    frame = client.connections.list(company_id)
    calm.join()
    assert list(frame["id"]) == truth(sandbox, company_id)
    assert sandbox.store.request_count - before == 2  # the 429, then one retry after 1 s


def test_an_endless_429_storm_fails_with_rate_limit_error_not_a_partial_listing(sandbox):
    company_id = make_company(sandbox, 40)
    with client_for(sandbox, retries=FEW_RETRIES) as client:
        storm = after_requests(sandbox, 2, lambda: setattr(sandbox.faults, "rate_limit_rate", 1.0))
        sandbox.faults.retry_after = 0
        sandbox.faults.latency_ms = 5  # let the storm start while pages are still due
        with pytest.raises(codat_nb.RateLimitError) as info:
            client.connections.list(company_id, page_size=2, concurrency=1)
        storm.join()
    assert info.value.retry_after == 0 and info.value.correlation_id
    assert "gave up after 3 attempts" in str(info.value)


def test_an_endless_5xx_burst_fails_with_server_error(sandbox):
    company_id = make_company(sandbox, 5)
    sandbox.faults.error_rate = 1.0
    with (
        client_for(sandbox, retries=FEW_RETRIES) as client,
        pytest.raises(codat_nb.ServerError) as info,
    ):
        client.connections.list(company_id)
    assert info.value.status_code in (500, 503)
    assert f"{sandbox.url}/companies/{company_id}/connections" in str(info.value)


def test_a_server_that_keeps_dropping_fails_with_a_connection_error_naming_the_url(sandbox):
    company_id = make_company(sandbox, 5)
    sandbox.faults.drop_rate = 1.0
    with (
        client_for(sandbox, retries=FEW_RETRIES) as client,
        pytest.raises(codat_nb.CodatConnectionError) as info,
    ):
        client.connections.get(company_id, truth(sandbox, company_id)[0])
    assert f"GET {sandbox.url}/companies/{company_id}/connections/" in str(info.value)


def test_a_slow_server_trips_the_read_timeout_mid_listing(sandbox):
    """Latency above the read timeout part-way through: a clear timeout, no partial frame."""
    company_id = make_company(sandbox, 60)
    with client_for(sandbox, timeout=(2.0, 0.1), retries=FEW_RETRIES) as client:
        slow = after_requests(sandbox, 3, lambda: setattr(sandbox.faults, "latency_ms", 400))
        sandbox.faults.latency_ms = 5
        with pytest.raises(codat_nb.CodatTimeoutError, match="timed out reading") as info:
            client.connections.list(company_id, page_size=2, concurrency=1)
        slow.join()
        assert f"GET {sandbox.url}/companies/{company_id}/connections" in str(info.value)
        sandbox.faults.latency_ms = 0
        assert list(client.connections.list(company_id)["id"]) == truth(sandbox, company_id)


def test_a_create_that_timed_out_is_resent_with_its_key_and_applied_once(sandbox):
    """The server is still applying the create when the client times out; the retry carries
    the same Idempotency-Key (409 while in progress, then the kept answer): one connection."""
    company_id = sandbox.store.create_company("Slow Ltd")["id"]
    sandbox.faults.latency_ms = 300
    patient = RetryPolicy(max_retries=30, backoff=0.02, backoff_max=0.1, deadline=30)
    with client_for(sandbox, timeout=(2.0, 0.05), retries=patient) as client:
        made = client.connections.create(company_id, "gbol")
    assert truth(sandbox, company_id) == [made.id]
    time.sleep(0.4)  # a create sent without the key would have been applied by now
    assert len(truth(sandbox, company_id)) == 1


def test_a_delete_applied_after_the_client_timed_out_is_not_reported_as_not_found(sandbox):
    """The retry of a DELETE the server did apply finds nothing: done, not a NotFoundError.
    (The client reads the connection first; the sandbox turns slow once that read is answered.)"""
    company_id = make_company(sandbox, 2)
    doomed, kept = truth(sandbox, company_id)
    # The retry waits 2 s: time enough, even on a loaded machine, for the watcher below to
    # answer fast again once the first DELETE was applied.
    wait_long = RetryPolicy(max_retries=3, backoff=2.0, backoff_max=2.0, jitter=0, deadline=20)
    session = requests.Session()  # the seam: a hook that slows the sandbox after the read
    session.hooks["response"].append(
        lambda r, *a, **k: (
            setattr(sandbox.faults, "latency_ms", 400) if r.request.method == "GET" else None
        )
    )
    before = sandbox.store.request_count
    with client_for(sandbox, timeout=(2.0, 0.1), retries=wait_long, session=session) as client:
        # Once the first DELETE is applied (after the client gave up on it), answer fast.
        fast = when(
            lambda: doomed not in truth(sandbox, company_id),
            lambda: setattr(sandbox.faults, "latency_ms", 0),
        )
        with pytest.warns(codat_nb.CodatWarning, match="treated as deleted"):
            assert client.connections.delete(company_id, doomed) is None
        fast.join()
    assert truth(sandbox, company_id) == [kept]
    assert sandbox.store.request_count - before == 3  # the read, the DELETE and its retry


def test_a_delete_of_a_missing_connection_is_not_found_even_after_a_429(sandbox, client):
    """Only an attempt that may have been applied excuses a 404; a 429 was not applied."""
    company_id = make_company(sandbox, 1)
    state = sandbox.store.snapshot()
    sandbox.faults.rate_limit_rate, sandbox.faults.retry_after = 1.0, 0
    calm = after_requests(sandbox, 1, lambda: setattr(sandbox.faults, "rate_limit_rate", 0.0))
    with pytest.raises(codat_nb.NotFoundError, match=r"\(on attempt \d+, after retries\)") as info:
        client.connections.delete(company_id, "00000000-0000-4000-8000-000000000000")
    calm.join()
    assert "gave up" not in str(info.value)  # a 404 is a final answer, not a retry given up on
    assert sandbox.store.snapshot() == state


@pytest.mark.parametrize("storm", STORMS, ids=list(STORMS))
def test_creates_under_faults_are_never_applied_twice(sandbox, storm):
    company_id = sandbox.store.create_company("Busy Ltd")["id"]
    for knob, value in STORMS[storm].items():
        setattr(sandbox.faults, knob, value)
    made, failed = [link_accounting(sandbox, company_id)], []  # before a partner expense
    with client_for(sandbox) as client:
        for n in range(30):
            try:
                if n == 29:  # one per company
                    made.append(client.connections.create_partner_expense(company_id).id)
                else:
                    made.append(client.connections.create(company_id, "gbol").id)
            except (codat_nb.ServerError, codat_nb.CodatConnectionError) as exc:
                failed.append(exc)  # a POST that may have been applied is not retried
    stored = truth(sandbox, company_id)
    assert len(set(made)) == len(made)
    assert set(made) <= set(stored)
    # Faults are drawn before the handler runs, so a failed create was never applied.
    assert len(stored) == len(made) and len(made) + len(failed) == 31
    assert made, "some creates must get through"


def test_rows_deleted_mid_walk_are_relisted_never_returned_stale(sandbox):
    """Deleting rows shifts later pages back; the walk must notice and list again.

    The deletion happens once, during the first walk, so the second walk is settled and the
    listing must succeed (refusing is only right when the data never stops moving)."""
    company_id = make_company(sandbox, 60)
    doomed = truth(sandbox, company_id)[:5]
    sandbox.faults.latency_ms = 30

    def delete_some():
        for connection_id in doomed:
            sandbox.store.delete_connection(company_id, connection_id)

    with client_for(sandbox) as client:
        watcher = after_requests(sandbox, 3, delete_some)
        with pytest.warns(codat_nb.CodatWarning, match="distinct rows came back.*listed again"):
            frame = client.connections.list(company_id, page_size=10, concurrency=1)
        watcher.join()
    assert list(frame["id"]) == truth(sandbox, company_id)
    assert len(frame) == 55 and not set(doomed) & set(frame["id"])


def test_a_lazy_iteration_that_missed_rows_raises_at_the_end(sandbox):
    company_id = make_company(sandbox, 60)
    doomed = truth(sandbox, company_id)[:5]
    seen = []
    with client_for(sandbox) as client, pytest.raises(codat_nb.IncompleteListingError):
        for connection in client.connections.iter(company_id, page_size=10):
            seen.append(connection.id)
            if len(seen) == 20:  # two pages read: now the rows shift back by five
                for connection_id in doomed:
                    sandbox.store.delete_connection(company_id, connection_id)
    assert len(seen) == 55 and len(set(seen)) == 55


def test_rows_added_mid_walk_are_all_listed(sandbox):
    company_id = make_company(sandbox, 60)
    sandbox.faults.latency_ms = 30

    def add_some():
        for _ in range(25):
            sandbox.store.create_connection(company_id, "gbol")

    with client_for(sandbox) as client:
        watcher = after_requests(sandbox, 2, add_some)
        frame = client.connections.list(company_id, page_size=10, concurrency=1)
        watcher.join()
    assert list(frame["id"]) == truth(sandbox, company_id)
    assert len(frame) == 85
