"""Under injected faults listings stay complete and duplicate-free and no write is applied twice."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

import codat_nb
from codat_nb import RetryPolicy
from tests import support


def truth_ids(sb, company_id):
    return [row["id"] for row in sb.store.connections_wire(company_id)]


@pytest.fixture
def company_230(sandbox, make_company):
    return make_company(sandbox, 230)


PROFILES = {
    "429 storm": {"rate_limit_rate": 0.3, "retry_after": 0},
    "503 burst": {"error_rate": 0.2},
    "latency": {"latency_ms": 15},
    "dropped sockets": {"drop_rate": 0.2},
    "everything": {"rate_limit_rate": 0.3, "retry_after": 0, "error_rate": 0.2, "latency_ms": 5},
}


@pytest.mark.parametrize("profile", PROFILES, ids=list(PROFILES))
def test_listing_is_complete_under_faults(sandbox, client, company_230, profile):
    for name, value in PROFILES[profile].items():
        setattr(sandbox.faults, name, value)
    before = sandbox.store.request_count
    frame = client.connections.list(company_230, page_size=10, concurrency=4)
    assert list(frame["id"]) == truth_ids(sandbox, company_230)
    assert frame["id"].is_unique
    if profile != "latency":
        assert sandbox.store.request_count - before > 23  # faults really happened and were retried


def test_iter_is_complete_under_faults(sandbox, client, company_230):
    sandbox.faults.rate_limit_rate = 0.3
    sandbox.faults.retry_after = 0
    sandbox.faults.error_rate = 0.2
    assert [c.id for c in client.connections.iter(company_230, page_size=25)] == truth_ids(
        sandbox, company_230
    )


def test_creates_under_429s_each_make_exactly_one_connection(sandbox, client):
    company = sandbox.store.create_company("Busy Ltd")["id"]
    sandbox.faults.rate_limit_rate = 0.5
    sandbox.faults.retry_after = 0
    before = sandbox.store.request_count
    made = [client.connections.create(company, "gbol").id for _ in range(20)]
    made.append(client.connections.create_partner_expense(company).id)
    assert sandbox.store.request_count - before > 21  # some creates were answered 429 first
    assert truth_ids(sandbox, company) == made


def test_a_create_answered_503_is_not_retried(sandbox, client):
    company = sandbox.store.create_company("Fragile Ltd")["id"]
    sandbox.faults.error_rate = 1.0
    before = sandbox.store.request_count
    with pytest.raises(codat_nb.ServerError) as info:
        client.connections.create(company, "gbol")
    assert sandbox.store.request_count - before == 1
    assert "attempts" not in str(info.value)
    assert len(truth_ids(sandbox, company)) <= 1  # never two


def test_a_create_whose_answer_was_lost_is_retried_with_its_key(sandbox, client):
    """The sandbox applies the create and drops the answer; the retry (same key) gets the
    kept answer: one connection, the one returned."""
    company = sandbox.store.create_company("Dropped Ltd")["id"]
    sandbox.faults.drop_rate = 1.0
    made = client.connections.create(company, "gbol")
    assert truth_ids(sandbox, company) == [made.id]


def test_creates_under_30_percent_dropped_answers_each_make_exactly_one(sandbox, client):
    company = sandbox.store.create_company("Lossy Ltd")["id"]
    sandbox.faults.drop_rate = 0.3
    made = [client.connections.create(company, "gbol").id for _ in range(20)]
    assert truth_ids(sandbox, company) == made


def test_a_callers_own_key_makes_a_repeated_create_harmless(sandbox, client):
    company = sandbox.store.create_company("Careful Ltd")["id"]
    key = "0b5f3c1e-8f0a-4c55-9a3e-2d7b6c5a4f31"
    first = client.connections.create(company, "gbol", idempotency_key=key)
    again = client.connections.create(company, "gbol", idempotency_key=key)
    assert first == again and truth_ids(sandbox, company) == [first.id]
    with pytest.raises(ValueError, match="idempotency_key must be a UUID"):
        client.connections.create(company, "gbol", idempotency_key="my-key")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connections_are_retried_even_for_creates_then_named():
    url = f"http://127.0.0.1:{closed_port()}"
    policy = codat_nb.RetryPolicy(max_retries=2, backoff=0.001, backoff_max=0.001)
    client = codat_nb.CodatClient("k", base_url=url, retries=policy)
    with pytest.raises(codat_nb.CodatConnectionError) as info:
        client.connections.create("7f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f", "gbol")
    text = str(info.value)
    assert text.startswith(f"POST {url}/companies/")
    assert "connection refused" in text and "CODAT_BASE_URL" in text
    assert isinstance(info.value, codat_nb.CodatTransportError)


class _Unavailable(http.server.BaseHTTPRequestHandler):
    """A proxy in maintenance: every request gets 503 with Retry-After: 30."""

    hits = 0

    def do_GET(self):  # noqa: N802 (the name http.server dispatches to)
        type(self).hits += 1
        self.send_response(503)
        self.send_header("Retry-After", "30")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_nothing_listening_fails_fast_with_a_hint_even_with_default_retries():
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with (
        codat_nb.CodatClient("k", base_url=url) as client,
        pytest.raises(codat_nb.CodatConnectionError, match="nothing is listening") as info,
    ):
        client.companies.list()
    assert time.monotonic() - started < 5  # it used to retry for 16-19 s
    assert "python -m codat_nb sandbox" in str(info.value)


def test_a_closed_client_says_so_at_once(sandbox, client_for):
    client = client_for(sandbox)
    client.close()
    before = sandbox.store.request_count
    with pytest.raises(codat_nb.ClientClosedError, match="closed"):
        client.companies.list()
    assert sandbox.store.request_count == before


def test_retry_after_on_a_503_is_honoured_too():
    """The server says 'not for 30 s'; with a 5 s budget the client stops at once."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    policy = codat_nb.RetryPolicy(max_retries=5, backoff=0.001, deadline=5.0)
    try:
        with (
            codat_nb.CodatClient("k", base_url=url, retries=policy) as client,
            pytest.raises(codat_nb.ServerError, match="deadline") as info,
        ):
            client.companies.list()
    finally:
        server.shutdown()
        server.server_close()
    assert info.value.status_code == 503
    assert _Unavailable.hits == 1


def test_a_slow_server_trips_the_read_timeout(sandbox, client_for):
    sandbox.faults.latency_ms = 400
    policy = codat_nb.RetryPolicy(max_retries=1, backoff=0.001, backoff_max=0.001)
    slow = client_for(sandbox, timeout=(2.0, 0.05), retries=policy)
    with pytest.raises(codat_nb.CodatTimeoutError, match="timed out reading") as info:
        slow.companies.list()
    assert f"GET {sandbox.url}/companies" in str(info.value)
    assert "gave up after 2 attempts" in str(info.value)


def test_keyboard_interrupt_mid_listing_leaves_the_client_usable(
    sandbox, client, company_230, sigint_after
):
    sandbox.faults.latency_ms = 20
    start = sandbox.store.request_count
    watcher = sigint_after(sandbox, 5)
    try:
        with pytest.raises(KeyboardInterrupt):
            client.connections.list(company_230, page_size=2, concurrency=2)
            time.sleep(30)  # only reached if the listing finished first: wait for the signal
    finally:
        watcher.join()
    assert sandbox.store.request_count - start < 115  # it really stopped part-way
    sandbox.faults.latency_ms = 0
    frame = client.connections.list(company_230, page_size=50)
    assert list(frame["id"]) == truth_ids(sandbox, company_230)
    leftovers = [t for t in threading.enumerate() if t.name.startswith("codat_nb-page")]
    for thread in leftovers:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in leftovers)


def test_keyboard_interrupt_stops_a_portfolio_listing_promptly(
    sandbox, client, make_company, sigint_after
):
    sb = sandbox
    for n in range(8):
        make_company(sb, 30, name=f"Portfolio {n} Ltd")
    sb.faults.latency_ms = 5
    watcher = sigint_after(sb, 20)
    try:
        with pytest.raises(KeyboardInterrupt):
            client.connections.list_all(page_size=1, strategy="per_company")
            time.sleep(30)  # only reached if the listing finished first: wait for the signal
    finally:
        watcher.join()
    at_interrupt = sb.store.request_count
    for thread in threading.enumerate():
        if thread.name.startswith("codat_nb-company"):
            thread.join(timeout=10)
    # Each of the 4 workers may finish the page it was fetching, and no more.
    assert sb.store.request_count - at_interrupt <= client.max_concurrency
    sb.faults.latency_ms = 0
    frame = client.connections.list_all()
    assert len(frame) == 8 * 30


def test_after_a_5xx_the_same_key_gets_the_same_5xx_so_the_error_says_check_then_use_a_new_key(
    sandbox, client
):
    """Codat keeps a key's 5xx for 90 minutes: sending the key again gets that 5xx back (the
    same correlationId) and retries nothing. The error says so; here the write had not been
    applied, so a new key makes the connection."""
    company = sandbox.store.create_company("Unlucky Ltd")["id"]
    sandbox.faults.error_rate = 1.0
    with pytest.raises(codat_nb.ServerError) as first:
        client.connections.create(company, "gbol")
    key, text = first.value.idempotency_key, str(first.value)
    assert "90 minutes" in text and "check whether it took effect" in text
    assert "without idempotency_key" in text
    sandbox.faults.error_rate = 0.0
    with pytest.raises(codat_nb.ServerError) as again:
        client.connections.create(company, "gbol", idempotency_key=key)
    assert again.value.correlation_id == first.value.correlation_id  # the kept answer
    assert truth_ids(sandbox, company) == []  # checked: it was not applied
    made = client.connections.create(company, "gbol")  # a new key
    assert truth_ids(sandbox, company) == [made.id]


def test_after_a_lost_answer_the_same_key_applies_the_write_once(sandbox):
    """No answer came (the sandbox applied the create, then dropped the connection) and the
    retries are spent: the error says to pass the key again, and doing so returns the
    connection the first attempt made, no second one."""
    company = sandbox.store.create_company("Lossy Line Ltd")["id"]
    sandbox.faults.drop_rate = 1.0
    with (
        support.client_for(sandbox, retries=RetryPolicy(max_retries=0)) as client,
        pytest.raises(codat_nb.CodatConnectionError) as lost,
    ):
        client.connections.create(company, "gbol")
    key = lost.value.idempotency_key
    assert f"pass idempotency_key={key!r}" in str(lost.value)
    sandbox.faults.drop_rate = 0.0
    with support.client_for(sandbox) as client:
        made = client.connections.create(company, "gbol", idempotency_key=key)
    assert truth_ids(sandbox, company) == [made.id]


def test_a_refused_write_says_nothing_was_applied_and_to_use_a_new_key(sandbox, client):
    """The same key with another request is refused (422) and kept: a new key is needed."""
    company = sandbox.store.create_company("Careful Two Ltd")["id"]
    key = "5d0c0e6a-3b7b-4c8e-9a55-1f2e3d4c5b6a"
    client.connections.create(company, "gbol", idempotency_key=key)
    with pytest.raises(codat_nb.BadRequestError) as refused:
        client.connections.create(company, "qhyg", idempotency_key=key)
    assert "Nothing was applied" in str(refused.value)
    assert "without idempotency_key" in str(refused.value)
