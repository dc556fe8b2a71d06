"""Every operation over real HTTP, checked against the sandbox's state; errors from real status."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

import codat_nb
from codat_nb.wire.models import Company, Connection
from tests.support import link_accounting

MISSING = str(uuid.UUID(int=1, version=4))


@pytest.fixture
def company(sandbox):
    return sandbox.store.create_company("Operations Ltd", description="ops")["id"]


def test_create_get_unlink_delete_lifecycle(sandbox, client, company):
    created = client.connections.create(company, "gbol")
    assert isinstance(created, Connection)
    assert (created.status, created.platform_name, created.integration_key) == (
        "PendingAuth",
        "Xero",
        "gbol",
    )
    assert created.link_url
    assert created.to_wire() == sandbox.store.get_connection_wire(company, created.id)

    sandbox.store.link(company, created.id)  # the customer finishes the flow at link_url
    fetched = client.connections.get(company, created.id)
    assert fetched.status == "Linked"
    assert fetched.last_sync is not None

    unlinked = client.connections.unlink(company, created.id)
    assert unlinked.status == "Unlinked"
    assert sandbox.store.get_connection_wire(company, created.id)["status"] == "Unlinked"

    assert client.connections.delete(company, created.id) is None
    assert sandbox.store.connections_wire(company) == []
    with pytest.raises(codat_nb.NotFoundError) as info:
        client.connections.get(company, created.id)
    assert info.value.status_code == 404
    assert created.id in str(info.value)
    assert str(info.value).endswith(f"(correlationId: {info.value.correlation_id})")


def test_create_partner_expense(sandbox, client, company):
    accounting = link_accounting(sandbox, company)  # Codat: once accounting is authorized
    partner = client.connections.create_partner_expense(company)
    assert (partner.status, partner.source_type) == ("Linked", "Expense")
    assert [row["id"] for row in sandbox.store.connections_wire(company)] == [
        accounting,
        partner.id,
    ]
    with pytest.raises(codat_nb.BadRequestError, match="already has a partner expense"):
        client.connections.create_partner_expense(company)


def test_ids_accept_uuid_objects_and_upper_case(sandbox, client, company):
    created = client.connections.create(uuid.UUID(company), "qhyg")
    again = client.connections.get(company.upper(), uuid.UUID(created.id))
    assert again == created


def test_companies_operations(sandbox, client):
    made = client.companies.create("Bank of Dave", description="early access")
    assert isinstance(made, Company)
    assert (made.name, made.description) == ("Bank of Dave", "early access")
    assert client.companies.get(made.id) == made
    frame = client.companies.list()
    assert list(frame["company_id"]) == [made.id]
    assert frame.loc[0, "connection_count"] == 0
    assert isinstance(frame.loc[0, "created"], pd.Timestamp)
    assert [c.id for c in client.companies.iter()] == [made.id]
    assert client.companies.delete(made.id) is None
    assert sandbox.store.company_ids() == []
    with pytest.raises(codat_nb.NotFoundError):
        client.companies.get(made.id)


def test_companies_update_and_replace(sandbox, client):
    made = client.companies.create("Toft stores", description="refurb")
    updated = client.companies.update(made.id, tags={"region": "uk"})
    assert (updated.name, updated.description, updated.tags) == (
        "Toft stores",
        "refurb",
        {"region": "uk"},
    )
    assert sandbox.store.get_company_wire(made.id)["tags"] == {"region": "uk"}
    replaced = client.companies.replace(made.id, "New Name")
    assert (replaced.name, replaced.description, replaced.tags) == ("New Name", "", None)
    before, requests_before = sandbox.store.snapshot(), sandbox.store.request_count
    for call, error in (
        (lambda: client.companies.update(made.id), ValueError),
        (lambda: client.companies.update(made.id, tags={"region": 1}), TypeError),
        (lambda: client.companies.replace(made.id, " "), ValueError),
        (lambda: client.companies.update(made.id, name=" "), ValueError),
        (lambda: client.companies.update(made.id, name=""), ValueError),
        (lambda: client.companies.update("x", name="y"), ValueError),
    ):
        with pytest.raises(error, match="name|tags|company_id|at least one"):
            call()
    assert sandbox.store.snapshot() == before
    assert sandbox.store.request_count == requests_before  # refused before anything was sent
    with pytest.raises(codat_nb.NotFoundError):
        client.companies.update(MISSING, name="Nobody")


def test_not_found_company_and_connection(client, company):
    with pytest.raises(codat_nb.NotFoundError, match=MISSING):
        client.connections.list(MISSING)
    with pytest.raises(codat_nb.NotFoundError):
        client.connections.create(MISSING, "gbol")
    with pytest.raises(codat_nb.NotFoundError):
        client.connections.unlink(company, MISSING)
    with pytest.raises(codat_nb.NotFoundError):
        client.connections.delete(company, MISSING)


def test_bad_query_is_a_bad_request_that_changes_nothing(sandbox, client, company):
    before = sandbox.store.snapshot()
    with pytest.raises(codat_nb.BadRequestError) as info:
        client.connections.list(company, query="status=={Linked")
    err = info.value
    assert err.status_code == 400
    assert err.correlation_id
    assert "query" in str(err).lower()
    assert sandbox.store.snapshot() == before


def test_unknown_platform_is_a_bad_request_naming_the_field(sandbox, client, company):
    before = sandbox.store.snapshot()
    with pytest.raises(codat_nb.BadRequestError, match="platformKey") as info:
        client.connections.create(company, "zzzz")
    assert info.value.validation is not None
    assert sandbox.store.snapshot() == before


def test_wrong_key_is_an_authentication_error(sandbox):
    bad = codat_nb.CodatClient("not-the-key", base_url=sandbox.url, retries=0)
    with bad, pytest.raises(codat_nb.AuthenticationError) as info:
        bad.companies.list()
    assert info.value.status_code == 401
    assert info.value.correlation_id
    assert "not-the-key" not in str(info.value)


def test_rate_limit_error_when_retries_are_off(sandbox, client_for):
    sandbox.faults.rate_limit_rate = 1.0
    sandbox.faults.retry_after = 3
    with pytest.raises(codat_nb.RateLimitError) as info:
        client_for(sandbox, retries=0).companies.list()
    assert info.value.status_code == 429
    assert info.value.retry_after == 3.0


def test_retry_after_beyond_the_budget_gives_up_at_once(sandbox, client_for):
    sandbox.faults.rate_limit_rate = 1.0
    sandbox.faults.retry_after = 3600
    policy = codat_nb.RetryPolicy(max_retries=5, deadline=5.0)
    before = sandbox.store.request_count
    with pytest.raises(codat_nb.RateLimitError, match="deadline"):
        client_for(sandbox, retries=policy).companies.list()
    assert sandbox.store.request_count - before == 1


def test_server_errors_surface_after_retries(sandbox, client_for):
    sandbox.faults.error_rate = 1.0
    policy = codat_nb.RetryPolicy(max_retries=2, backoff=0.001, backoff_max=0.001)
    before = sandbox.store.request_count
    with pytest.raises(codat_nb.ServerError, match="gave up after 3 attempts") as info:
        client_for(sandbox, retries=policy).companies.list()
    assert info.value.status_code in (500, 503)
    assert sandbox.store.request_count - before == 3


def test_rate_limit_headers_are_readable(sandbox, client):
    assert client.rate_limit is None
    client.companies.list()
    limit = client.rate_limit
    assert isinstance(limit, codat_nb.RateLimit)
    assert limit.limit > 0
    assert 0 <= limit.remaining < limit.limit
    assert limit.reset


def test_server_time_is_the_sandbox_clock(sandbox, client):
    now = client.server_time()
    assert now.tzinfo is not None
    assert now == pd.Timestamp(sandbox.clock.now()).floor("s")
