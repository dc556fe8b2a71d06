"""Shared fixtures: real sandboxes on loopback, clients and sessions bound to them, and the
Ctrl-C helpers. Plain helpers are in ``tests/support.py``; the layers are in ``tests/README.md``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import matplotlib
import pytest
import requests

from codat_nb import CodatClient, RetryPolicy
from codat_nb.sandbox import Sandbox
from tests import support
from tests.webhook_receiver import Receiver

matplotlib.use("Agg")  # tests draw charts without a display
# Commands the tests start (codat-nb sandbox, console, snapshot) import this checkout's
# codat_nb, as the tests do, whatever checkout the editable install points at.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(support.ROOT), os.environ.get("PYTHONPATH")])
)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """An empty sandbox (seed=None), fresh for each test."""
    with Sandbox(seed=None) as sb:
        yield sb


@pytest.fixture
def unlimited_sandbox() -> Iterator[Sandbox]:
    """An empty sandbox without Codat's rate limits, for tests that hammer it on purpose."""
    with Sandbox(seed=None, rate_limits=False, daily_quota=10**9) as sb:
        yield sb


@pytest.fixture
def demo_sandbox() -> Iterator[Sandbox]:
    """The demo portfolio (>= 240 companies, >= 1,000 connections), fresh for each test."""
    with Sandbox(seed="demo") as sb:
        yield sb


@pytest.fixture(name="auth_session")
def auth_session_factory() -> Iterator[Callable[[Sandbox], requests.Session]]:
    """``auth_session(sb)``: an authenticated keep-alive session, closed after the test."""
    made: list[requests.Session] = []

    def make(sb: Sandbox) -> requests.Session:
        made.append(support.auth_session(sb))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.fixture
def session(sandbox: Sandbox) -> Iterator[requests.Session]:
    """An authenticated session against the empty ``sandbox``."""
    with support.auth_session(sandbox) as s:
        yield s


@pytest.fixture
def demo_session(demo_sandbox: Sandbox) -> Iterator[requests.Session]:
    """An authenticated session against ``demo_sandbox``."""
    with support.auth_session(demo_sandbox) as s:
        yield s


@pytest.fixture
def raw() -> Iterator[requests.Session]:
    """A bare requests.Session (no auth header: each case sets its own)."""
    with requests.Session() as s:
        yield s


@pytest.fixture(name="client_for")
def client_for_factory() -> Iterator[Callable[..., CodatClient]]:
    """``client_for(sb, **options)``: a client for any sandbox (FAST_RETRIES), closed after."""
    made: list[CodatClient] = []

    def make(sb: Sandbox, **options) -> CodatClient:
        made.append(support.client_for(sb, **options))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[CodatClient]:
    with support.client_for(sandbox) as c:
        yield c


@pytest.fixture
def demo_client(demo_sandbox: Sandbox) -> Iterator[CodatClient]:
    with support.client_for(demo_sandbox) as c:
        yield c


@pytest.fixture
def make_client() -> Iterator[Callable[..., CodatClient]]:
    """``make_client(sb, retries=FEW_RETRIES)``: a client that gives up quickly, closed after."""
    made: list[CodatClient] = []

    def make(sb: Sandbox, retries: RetryPolicy = support.FEW_RETRIES) -> CodatClient:
        made.append(CodatClient(api_key=sb.api_key, base_url=sb.url, retries=retries))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture(name="make_receiver")
def make_receiver_fixture() -> Iterator[Callable[[], Receiver]]:
    """``make_receiver()``: a webhook receiver on loopback recording what arrives
    (``tests/webhook_receiver.py``), closed after the test."""
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def receiver(make_receiver: Callable[[], Receiver]) -> Receiver:
    return make_receiver()


@pytest.fixture(name="make_company")
def make_company_fixture() -> Callable[..., str]:
    """``make_company(sb, n)``: a new company with n connections, returning its id."""
    return support.make_company


@pytest.fixture(name="expect_error")
def expect_error_fixture() -> Callable[..., dict]:
    return support.expect_error


@dataclass(frozen=True)
class World:
    """A sandbox holding one company with a Linked, a PendingAuth and an Unlinked connection."""

    sb: Sandbox
    company_id: str
    linked_id: str
    pending_id: str
    unlinked_id: str


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


@pytest.fixture
def portfolio(sandbox: Sandbox, make_client) -> SimpleNamespace:
    """Two companies. Acme: Xero Linked, Plaid PendingAuth, QuickBooks Deauthorized, Partner
    Expense Linked. Bakery: one Shopify PendingAuth. Ids, and a client that gives up quickly."""
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
    return SimpleNamespace(
        sb=sandbox,
        client=make_client(sandbox),
        acme=acme,
        bakery=bakery,
        xero=xero,
        plaid=plaid,
        qbo=qbo,
        partner=partner,
        shopify=shopify,
    )


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Python's own Ctrl-C handler, as in a notebook kernel, even when pytest was started with
    SIGINT ignored (a background job of a non-interactive shell ignores it): the interrupt tests
    send SIGINT and expect KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def _close_figures():
    """Charts never pile up in memory across tests."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def sigint_after() -> Callable[[Sandbox, int], threading.Thread]:
    """Ctrl-C as a user would press it mid-call: SIGINT to the main thread once the sandbox
    has seen ``n_requests`` more requests (bounded wait). Join the returned thread."""

    def start(sb: Sandbox, n_requests: int) -> threading.Thread:
        main, begin = threading.main_thread().ident, sb.store.request_count

        def watch() -> None:
            deadline = time.monotonic() + 30
            while sb.store.request_count < begin + n_requests and time.monotonic() < deadline:
                time.sleep(0.002)
            signal.pthread_kill(main, signal.SIGINT)

        thread = threading.Thread(target=watch)
        thread.start()
        return thread

    return start
