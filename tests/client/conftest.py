"""Client fixtures: clients bound to the real sandbox over HTTP, with retries that wait briefly."""

from __future__ import annotations

import pytest

from codat_nb import CodatClient, RetryPolicy

#: Retries as persistent as production's but with millisecond waits, so fault tests stay fast.
FAST_RETRIES = RetryPolicy(
    max_retries=25, backoff=0.001, backoff_max=0.01, jitter=0.5, total_budget=60.0
)


def client_for(sb, **options) -> CodatClient:
    options.setdefault("retries", FAST_RETRIES)
    return CodatClient(auth_header=sb.auth_header, base_url=sb.url, **options)


@pytest.fixture
def client(sandbox):
    with client_for(sandbox) as c:
        yield c


@pytest.fixture
def demo_client(demo_sandbox):
    with client_for(demo_sandbox) as c:
        yield c


def _make_company(sb, n_connections: int, name: str = "Paging Test Ltd") -> str:
    """A company with ``n_connections`` connections of mixed platforms, made via the store."""
    company_id = sb.store.create_company(name)["id"]
    keys = ("gbol", "qhyg", "suuo", "fztf", "exgd", "akxx", "upvr")
    for i in range(n_connections):
        row = sb.store.create_connection(company_id, keys[i % len(keys)])
        if i % 3 == 0:
            sb.store.link(company_id, row["id"])
    return company_id


@pytest.fixture(name="make_company")
def make_company_fixture():
    """``make_company(sb, n)``: a new company with n connections, returning its id."""
    return _make_company


@pytest.fixture(name="client_for")
def client_for_fixture():
    """``client_for(sb, **options)``: a client for any sandbox; closed after the test."""
    made = []

    def make(sb, **options):
        made.append(client_for(sb, **options))
        return made[-1]

    yield make
    for c in made:
        c.close()
