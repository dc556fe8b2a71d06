"""What a listing's consistency check can and cannot see, over real HTTP against the sandbox,
with ordinary changes (create, delete, link) injected between two page reads.

The sequences are crafted: a listing of several pages ordered by a field where new or changed
rows land anywhere (``platformName``, ``status``), changes timed between reads. Random churn
rarely finds them; these tests make them happen every time."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import requests

import codat_nb

ORDERED = "platformName"
EARLY, LATE = "trji", "rwuv"  # Dynamics 365 Business Central, Zoho Books: first and last


def truth(sb, company_id, order_by):
    rows = sb.store.page_connections(company_id, 1, 10**6, None, order_by).results
    return [row["id"] for row in rows]


@pytest.fixture
def hundred(sandbox):
    """A company of 100 QuickBooks Online connections: listed by platformName, a new Dynamics
    connection lands first and a new Zoho one last."""
    company_id = sandbox.store.create_company("Crafted Ltd")["id"]
    for _ in range(100):
        sandbox.store.create_connection(company_id, "qhyg")
    return company_id


def test_four_changes_between_the_reads_and_the_check_do_not_fool_the_default(
    sandbox, client, hundred, page_hook
):
    """The review's sequence (10 of 10 runs silently wrong before): after page 1 a row of
    page 1 (D) is deleted and one is created past the boundary, so the row after the boundary
    (R) slides onto page 1 unseen while the total stays 100; after page 2, R is deleted and a
    row created before the boundary, so a later look at the boundary finds the two rows it
    expects side by side. The answer held D (deleted before page 2) and not R (there for
    both page reads)."""
    store, company = sandbox.store, hundred
    seen = {}

    def after_page_1():
        seen["D"] = truth(sandbox, company, ORDERED)[10]
        store.delete_connection(company, seen["D"])
        store.create_connection(company, LATE)

    def after_page_2():
        seen["R"] = truth(sandbox, company, ORDERED)[49]  # was the first row of page 2
        store.delete_connection(company, seen["R"])
        store.create_connection(company, EARLY)

    page_hook(after_page_1, after=1)
    page_hook(after_page_2, after=2)
    with pytest.warns(codat_nb.CodatWarning, match="listed again"):
        frame = client.connections.list(company, order_by=ORDERED, page_size=50, concurrency=1)
    assert list(frame["id"]) == truth(sandbox, company, ORDERED)  # the state after the changes
    assert seen["D"] not in set(frame["id"])


@pytest.fixture
def linked_first(sandbox):
    """60 Linked connections then 40 PendingAuth ones, as a listing by status shows them: the
    rows of page 1 (50 rows) are all Linked."""
    company_id = sandbox.store.create_company("Statuses Ltd")["id"]
    for n in range(100):
        row = sandbox.store.create_connection(company_id, "qhyg")
        if n < 60:
            sandbox.store.link(company_id, row["id"])
    return company_id


def swap_across_the_boundary(sandbox, company):
    """Between two page reads, three ordinary changes: a Linked row of page 1 (D) deleted, a
    PendingAuth row (R) linked, so it moves up the order to before the boundary, and a new
    connection created (PendingAuth: after the boundary). The boundary's own rows stay where
    they were; R is in none of the reads. Returns (D, R)."""
    order = truth(sandbox, company, "status")
    boundary = order[49]
    pending = [row["id"] for row in sandbox.store.connections_wire(company)]
    pending = sorted(c for c in pending if c not in order[:60])
    moved = next(c for c in pending if c < boundary)  # linked, it sorts before the boundary
    deleted = order[5]
    sandbox.store.delete_connection(company, deleted)
    sandbox.store.link(company, moved)
    sandbox.store.create_connection(company, "qhyg")
    assert truth(sandbox, company, "status")[49] == boundary
    return deleted, moved


def test_what_the_default_check_cannot_see_a_row_changing_place_between_two_reads(
    sandbox, client, linked_first, page_hook
):
    """The limit README states: with an order_by field that changes (status), a row moving
    from after a boundary to before it, with a deletion before it and a creation after it,
    all between two page reads, leaves no trace in the reads. The answer is then no state the
    server was in: the deleted row is there, the moved one (there throughout) is not."""
    swapped = []
    page_hook(lambda: swapped.append(swap_across_the_boundary(sandbox, linked_first)), after=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing noticed
        frame = client.connections.list(linked_first, order_by="status", page_size=50)
    (deleted, moved), ids = swapped[0], set(frame["id"])
    assert len(frame) == 100 and deleted in ids and moved not in ids


def test_verified_is_not_fooled_by_a_row_changing_place_between_two_reads(
    sandbox, client, linked_first, page_hook
):
    """The same changes: the first walk is wrong as above, the second (read afresh) cannot
    hold the deleted row, so the two disagree; the third agrees with the second."""
    swapped = []
    page_hook(lambda: swapped.append(swap_across_the_boundary(sandbox, linked_first)), after=1)
    before = sandbox.store.request_count
    with pytest.warns(codat_nb.CodatWarning, match="walks disagreed"):
        frame = client.connections.list(
            linked_first, order_by="status", page_size=50, consistency="verified"
        )
    assert list(frame["id"]) == truth(sandbox, linked_first, "status")
    assert swapped[0][1] in set(frame["id"])
    assert sandbox.store.request_count - before == 3 * 3  # three walks of three reads


def test_verified_never_answers_when_the_changes_come_back_every_walk(
    sandbox, client, linked_first, page_hook
):
    """The same trick in every walk: the default answers wrong each time; verified walks
    four times, no two agree (each held a row deleted before the next began), and it raises."""
    calls = iter(range(10**6))

    def each_walks_first_read():  # every walk is three reads
        if next(calls) % 3 == 0:
            swap_across_the_boundary(sandbox, linked_first)

    page_hook(each_walks_first_read, after=1, times=10**6)
    with (
        pytest.warns(codat_nb.CodatWarning, match="walks disagreed"),
        pytest.raises(codat_nb.IncompleteListingError, match="no two consecutive walks"),
    ):
        client.connections.list(
            linked_first, order_by="status", page_size=50, consistency="verified"
        )


def test_a_verified_portfolio_walks_the_companies_twice_and_compares_their_connections(
    demo_sandbox,
):
    """list_all and companies.list verify too: the demo portfolio (one page of companies) is
    two requests; a connection created between the walks makes them disagree (a company's
    connections are part of what the walks compare), and a third walk agrees."""
    sb, created = demo_sandbox, []
    company = sb.store.company_ids()[0]

    def after_the_first_walk(response, *args, **kwargs):
        if response.request.path_url.startswith("/companies?") and not created:
            created.append(sb.store.create_connection(company, "gbol")["id"])

    session = requests.Session()
    session.hooks["response"].append(after_the_first_walk)
    with codat_nb.CodatClient(auth_header=sb.auth_header, base_url=sb.url) as client:
        calm = client.connections.list_all(consistency="verified")
        assert calm.attrs["requests"] == 2
        pd.testing.assert_frame_equal(calm, client.connections.list_all())
    hooked = codat_nb.CodatClient(auth_header=sb.auth_header, base_url=sb.url, session=session)
    with hooked, pytest.warns(codat_nb.CodatWarning, match="walks disagreed"):
        companies, connections = hooked.companies.list(
            with_connections=True, consistency="verified"
        )
    assert companies.attrs["requests"] == 3
    assert created[0] in set(connections["id"])
