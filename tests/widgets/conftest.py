"""A small, known portfolio in a fresh sandbox, and clients pointed at it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import codat_nb
from codat_nb.transport import RetryPolicy

FAST_RETRIES = RetryPolicy(max_retries=1, backoff=0, jitter=0, total_budget=5)


def client_for(sb, retries: RetryPolicy = FAST_RETRIES) -> codat_nb.CodatClient:
    return codat_nb.CodatClient(api_key=sb.api_key, base_url=sb.url, retries=retries)


@pytest.fixture
def make_client():
    """client_for(sb), closed after the test."""
    clients = []

    def make(sb, retries: RetryPolicy = FAST_RETRIES) -> codat_nb.CodatClient:
        clients.append(client_for(sb, retries))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def portfolio(sandbox):
    """Two companies. Acme: Xero Linked, Plaid PendingAuth, QuickBooks Deauthorized, Partner
    Expense Linked. Bakery: one Shopify PendingAuth. Returns ids and a client (closed after)."""
    store = sandbox.store
    acme = store.create_company("Acme Trading Ltd", "wholesale")["id"]
    bakery = store.create_company("Brightside Bakery")["id"]
    xero = store.create_connection(acme, "gbol")["id"]
    store.link(acme, xero)
    plaid = store.create_connection(acme, "suuo")["id"]
    qbo = store.create_connection(acme, "qhyg")["id"]
    store.link(acme, qbo)
    store.deauthorize(acme, qbo, message="Token <revoked> by the platform")
    partner = store.create_partner_expense_connection(acme)["id"]
    shopify = store.create_connection(bakery, "fztf")["id"]
    client = client_for(sandbox)
    yield SimpleNamespace(
        sb=sandbox,
        client=client,
        acme=acme,
        bakery=bakery,
        xero=xero,
        plaid=plaid,
        qbo=qbo,
        partner=partner,
        shopify=shopify,
    )
    client.close()
