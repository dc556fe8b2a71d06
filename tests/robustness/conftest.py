"""Fixtures for the robustness suite: a populated sandbox, fast-retrying clients, error checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import requests

from codat_nb import CodatClient, RetryPolicy
from codat_nb.sandbox import Sandbox
from codat_nb.wire.models import ErrorMessage

#: Persistent retries with millisecond waits, so fault tests stay fast.
FAST_RETRIES = RetryPolicy(
    max_retries=30, backoff=0.001, backoff_max=0.01, jitter=0.5, total_budget=60.0
)
PLATFORM_KEYS = ("gbol", "qhyg", "suuo", "fztf", "exgd", "akxx", "upvr")


@dataclass(frozen=True)
class World:
    """A sandbox holding one company with a Linked, a PendingAuth and an Unlinked connection."""

    sb: Sandbox
    company_id: str
    linked_id: str
    pending_id: str
    unlinked_id: str


def make_company(sb: Sandbox, n_connections: int, name: str = "Robust Ltd") -> str:
    """A company with ``n_connections`` connections (a third Linked), made via the store."""
    company_id = sb.store.create_company(name)["id"]
    for i in range(n_connections):
        row = sb.store.create_connection(company_id, PLATFORM_KEYS[i % len(PLATFORM_KEYS)])
        if i % 3 == 0:
            sb.store.link(company_id, row["id"])
    return company_id


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    company_id = sandbox.store.create_company("Robust Ltd")["id"]
    linked = sandbox.store.create_connection(company_id, "gbol")["id"]
    sandbox.store.link(company_id, linked)
    pending = sandbox.store.create_connection(company_id, "qhyg")["id"]
    unlinked = sandbox.store.create_connection(company_id, "suuo")["id"]
    sandbox.store.link(company_id, unlinked)
    sandbox.store.unlink(company_id, unlinked)
    return World(sandbox, company_id, linked, pending, unlinked)


def client_for(sb: Sandbox, **options) -> CodatClient:
    options.setdefault("retries", FAST_RETRIES)
    return CodatClient(auth_header=sb.auth_header, base_url=sb.url, **options)


@pytest.fixture
def client(sandbox: Sandbox):
    with client_for(sandbox) as c:
        yield c


@pytest.fixture
def raw():
    """A bare requests.Session (no auth header: each case sets its own)."""
    with requests.Session() as session:
        yield session


def assert_error_message(response: requests.Response, status: int) -> ErrorMessage:
    """A 4xx answer is Codat's ErrorMessage: JSON, the status, a message, a correlationId."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json", response.headers
    body = response.json()
    assert isinstance(body, dict)
    assert {"statusCode", "service", "error", "correlationId", "validation"} <= body.keys()
    parsed = ErrorMessage.model_validate(body)
    assert parsed.status_code == status
    assert isinstance(parsed.error, str) and parsed.error.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", parsed.correlation_id or "")
    assert isinstance(body["validation"]["errors"], list)
    return parsed
