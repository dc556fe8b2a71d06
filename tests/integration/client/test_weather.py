"""Listings finish in rough weather: heavy 429s and 5xx, one backoff shared by all workers."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import codat_nb
from codat_nb.sandbox import Sandbox
from codat_nb.transport import POOL_SIZE
from tests.hostile import Answer, connection, hostile, page
from tests.support import make_company


def test_ten_thousand_rows_complete_under_429s_and_5xx_with_the_default_client():
    """30% 429 (Retry-After 1) and 20% 5xx: the default client finishes, every time tried."""
    with Sandbox(seed=None) as sb:
        company = sb.load_scale(10_000)
        truth = [row["id"] for row in sb.store.connections_wire(company)]
        sb.faults.rate_limit_rate, sb.faults.retry_after, sb.faults.error_rate = 0.3, 1, 0.2
        client = codat_nb.CodatClient(auth_header=sb.auth_header, base_url=sb.url)
        for _ in range(3):
            frame = client.connections.list(company)
            assert list(frame["id"]) == truth


def test_a_429_pauses_every_worker_of_the_client_not_just_its_own():
    rows = [connection(n) for n in range(1, 41)]
    told = []

    def answer(asked):
        number, size = int(asked.params["page"]), int(asked.params["pageSize"])
        if number == 3 and size == 2 and not told:
            told.append(asked.at)
            return Answer(429, {"error": "slow down", "correlationId": "x"}, {"Retry-After": "1"})
        start = (number - 1) * size
        return Answer(body=page(rows[start : start + size], total=40, number=number, size=size))

    with hostile(answer) as server:
        client = codat_nb.CodatClient("k", base_url=server.url, max_concurrency=4)
        frame = client.connections.list(
            "7f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f", page_size=2, concurrency=4
        )
    assert len(frame) == 40
    (at,) = told
    during = [a for a in server.asked if at < a.at < at + 0.8]
    # Only requests already on their way when the 429 came (at most the other 3 workers') may
    # arrive during the pause; a worker backing off alone would let the others send ~15 more.
    assert len(during) <= 3, [(a.params, round(a.at - at, 3)) for a in during]


def test_many_threads_sharing_one_client_never_overflow_its_connection_pool(caplog):
    """24 threads, each listing a 100-row company in pages of 10 with the default 4 workers:
    up to 96 requests at once where the pool keeps 32 connections. The client sends at most
    32 at a time (the sandbox answers a 33rd in flight 429, and nothing is retried), the others
    wait for a free connection: no "Connection pool is full", every listing right."""
    with Sandbox(seed=None, rate_limits=False, daily_quota=10**9, latency_ms=30) as sb:
        company = make_company(sb, 100)
        truth = [row["id"] for row in sb.store.connections_wire(company)]
        sb.faults.max_concurrency = POOL_SIZE
        client = codat_nb.CodatClient(
            auth_header=sb.auth_header, base_url=sb.url, retries=codat_nb.RetryPolicy(0)
        )
        with ThreadPoolExecutor(24) as pool:
            listed = pool.map(lambda _: client.connections.list(company, page_size=10), range(48))
            frames = list(listed)
    assert all(list(frame["id"]) == truth for frame in frames)
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_retry_after_is_honoured_when_positive():
    answers = iter([Answer(429, {"error": "wait"}, {"Retry-After": "1"}), Answer(200, page([]))])
    policy = codat_nb.RetryPolicy(backoff=0.01, jitter=0)
    with hostile(lambda asked: next(answers)) as server:
        with codat_nb.CodatClient("k", base_url=server.url, retries=policy) as client:
            started = time.monotonic()
            client.companies.list()
        first, second = (a.at for a in server.asked)
    assert second - first >= 0.99 and time.monotonic() - started >= 0.99
