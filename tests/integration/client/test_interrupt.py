"""A KeyboardInterrupt (Ctrl-C in a notebook) mid-listing leaves the client usable."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support import client_for, make_company


def truth(sb, company_id):
    return [row["id"] for row in sb.store.connections_wire(company_id)]


def join_page_workers():
    for thread in threading.enumerate():
        if thread.name.startswith(("codat_nb-page", "codat_nb-company")):
            thread.join(timeout=10)
    return [t.name for t in threading.enumerate() if t.name.startswith("codat_nb-")]


@pytest.mark.parametrize("workers", [1, 8], ids=["sequential", "8 workers"])
def test_sigint_mid_listing_then_the_next_listing_is_correct(sandbox, sigint_after, workers):
    company_id = make_company(sandbox, 120)
    sandbox.faults.latency_ms = 10
    with client_for(sandbox, max_concurrency=8) as client:
        watcher = sigint_after(sandbox, 10)
        try:
            with pytest.raises(KeyboardInterrupt):
                client.connections.list(company_id, page_size=1, concurrency=workers)
                time.sleep(30)  # only reached if the listing beat the signal
        finally:
            watcher.join()
        assert join_page_workers() == []
        sandbox.faults.latency_ms = 0
        assert list(client.connections.list(company_id, page_size=7)["id"]) == truth(
            sandbox, company_id
        )
        created = client.connections.create(company_id, "gbol")
        assert client.connections.get(company_id, created.id).status == "PendingAuth"


def test_sigint_during_a_retry_wait_leaves_the_client_usable(sandbox, sigint_after):
    """Ctrl-C while the client sleeps out a Retry-After: interrupted at once, then fine (the
    next call still honours what is left of the 3 s the server asked for)."""
    company_id = make_company(sandbox, 30)
    sandbox.faults.rate_limit_rate, sandbox.faults.retry_after = 1.0, 3
    with client_for(sandbox) as client:
        watcher = sigint_after(sandbox, 1)
        try:
            with pytest.raises(KeyboardInterrupt):
                client.connections.list(company_id, page_size=10)
        finally:
            watcher.join()
        sandbox.faults.rate_limit_rate = 0.0
        assert list(client.connections.list(company_id)["id"]) == truth(sandbox, company_id)


def test_interrupting_a_lazy_iteration_then_iterating_again(sandbox):
    company_id = make_company(sandbox, 40)
    with client_for(sandbox) as client:
        seen = []
        with pytest.raises(KeyboardInterrupt):
            for connection in client.connections.iter(company_id, page_size=3):
                seen.append(connection.id)
                if len(seen) == 7:
                    raise KeyboardInterrupt  # what Ctrl-C in the loop body does
        assert seen == truth(sandbox, company_id)[:7]
        assert [c.id for c in client.connections.iter(company_id, page_size=3)] == truth(
            sandbox, company_id
        )
