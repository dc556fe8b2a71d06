"""Edges a hostile review found: caps a walk had not seen, refused page sizes, odd Retry-After
values, redirects, bodies that would crash a parser, deadlines shared by an operation, and
interrupted listings that must not go on working (or show the key) behind the user's back."""

from __future__ import annotations

import gzip
import os
import signal
import threading
import time
import traceback

import pytest

import codat_nb
from tests.hostile import Answer, connection, hostile, page

COMPANY = "7f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f"
ROWS = [connection(i) for i in range(1, 2501)]


def capped_server(cap: int, refuse_over: int | None = None):
    """Pages of ROWS by offset, serving at most ``cap`` rows a page (saying so); with
    ``refuse_over``, a larger pageSize is a 400 naming pageSize."""

    def answer(asked):
        size, number = int(asked.params["pageSize"]), int(asked.params["page"])
        if refuse_over is not None and size > refuse_over:
            error = {"statusCode": 400, "error": "pageSize must be 1 to 2000", "correlationId": "x"}
            return Answer(400, error)
        size = min(size, cap)
        rows = ROWS[(number - 1) * size : number * size]
        return Answer(body=page(rows, total=len(ROWS), number=number, size=size))

    return answer


def test_small_pages_are_checked_within_a_cap_page_1_did_not_show():
    with (
        hostile(capped_server(2000)) as server,
        codat_nb.CodatClient("k", base_url=server.url) as c,
    ):
        frame = c.connections.list(COMPANY, page_size=100)
    assert list(frame["id"]) == [row["id"] for row in ROWS]


def test_a_server_refusing_pages_over_2000_is_listed_in_pages_of_2000():
    answer = capped_server(2000, refuse_over=2000)
    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.warns(codat_nb.CodatWarning, match="pages of 2,000"),
    ):
        frame = client.connections.list(COMPANY)
    assert list(frame["id"]) == [row["id"] for row in ROWS]


@pytest.mark.parametrize(
    "retry_after",
    ["Wed, 21 Oct 2015 07:28:00", "1e14", "nan", "-inf", "soon"],
    ids=["date without zone", "huge", "nan", "minus infinity", "words"],
)
def test_an_odd_retry_after_is_a_codat_error_never_a_crash(retry_after):
    answer = Answer(429, {"error": "slow down", "correlationId": "c"}, {"Retry-After": retry_after})
    policy = codat_nb.RetryPolicy(max_retries=1, backoff=0.01, deadline=3)
    with (
        hostile(lambda asked: answer) as server,
        codat_nb.CodatClient("k", base_url=server.url, retries=policy) as client,
        pytest.raises(codat_nb.RateLimitError),
    ):
        client.connections.get(COMPANY, ROWS[0]["id"])


def test_a_redirect_is_an_error_and_its_body_is_never_read():
    bomb = gzip.compress(b"\0" * 50_000_000)
    redirect = Answer(302, bomb, {"Location": "/elsewhere", "Content-Encoding": "gzip"})
    with (
        hostile(
            lambda asked: redirect if asked.path != "/elsewhere" else Answer(body=page([]))
        ) as server,
        codat_nb.CodatClient("k", base_url=server.url, max_response_bytes=1_000_000) as client,
        pytest.raises(codat_nb.CodatError, match="redirect") as info,
    ):
        client.companies.list()
    assert info.value.status_code == 302
    assert [a.path for a in server.asked] == ["/companies"]  # not followed


def test_a_body_nested_too_deep_to_parse_is_a_codat_error():
    answer = Answer(body=b"[" * 100_000)
    policy = codat_nb.RetryPolicy(max_retries=0)
    with (
        hostile(lambda asked: answer) as server,
        codat_nb.CodatClient("k", base_url=server.url, retries=policy) as client,
        pytest.raises(codat_nb.CodatError, match="not valid JSON"),
    ):
        client.companies.list()


def test_a_delete_and_its_read_share_one_deadline():
    def answer(asked):
        time.sleep(1.2)
        return Answer(body=ROWS[0]) if asked.method == "GET" else Answer(200)

    policy = codat_nb.RetryPolicy(max_retries=0, deadline=2.0)
    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url, retries=policy, timeout=(5, 30)) as client,
    ):
        started = time.monotonic()
        with pytest.raises(codat_nb.CodatTimeoutError):
            client.connections.delete(COMPANY, ROWS[0]["id"])
        elapsed = time.monotonic() - started
    assert elapsed < 3.0  # the read took 1.2 s of the 2 s; the delete got what was left


def test_an_interrupted_listing_stops_its_workers_and_shows_no_key():
    """Ctrl-C while workers retry failing pages: no request is sent after the interrupt has
    been handled, no worker thread lingers, and no frame of the traceback holds the key."""
    secret = "my-very-secret-codat-key"
    rows = [connection(i) for i in range(1, 501)]

    def answer(asked):
        number, size = int(asked.params["page"]), int(asked.params["pageSize"])
        if number == 1:
            return Answer(body=page(rows[:size], total=500, size=size))
        return Answer(503, {"error": "busy", "correlationId": "c"}, {"Retry-After": "0.05"})

    with hostile(answer) as server:
        client = codat_nb.CodatClient(secret, base_url=server.url, max_concurrency=4)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt) as info:
            client.connections.list(COMPANY, page_size=50, concurrency=4)
        client.close()
        handled = len(server.asked)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            t.name.startswith("codat_nb-page") for t in threading.enumerate()
        ):
            time.sleep(0.05)
        lingering = [t.name for t in threading.enumerate() if t.name.startswith("codat_nb-")]
        time.sleep(0.5)
        assert len(server.asked) <= handled + 4  # at most the attempts already in flight
    assert lingering == []
    frames = traceback.walk_tb(info.value.__traceback__)
    shown = [  # every local of every frame below the test's own, as --showlocals prints them
        repr(value)
        for frame, _ in frames
        if "/tests/" not in frame.f_code.co_filename
        for value in frame.f_locals.values()
    ]
    assert shown and not [text for text in shown if secret in text or "bXktdmVyeS1zZWNy" in text]
    assert codat_nb.RetryPolicy().deadline > 5  # the workers did not simply run out of time


def test_ctrl_c_in_the_middle_of_a_request_leaves_the_key_out_of_the_traceback():
    secret = "another-very-secret-codat-key"

    def answer(asked):
        time.sleep(3)  # the interrupt arrives while the client waits inside urllib3
        return Answer(body=page([]))

    with hostile(answer) as server:
        client = codat_nb.CodatClient(secret, base_url=server.url)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt) as info:
            client.companies.list()
        client.close()
    frames = [frame for frame, _ in traceback.walk_tb(info.value.__traceback__)]
    assert any("/codat_nb/" in f.f_code.co_filename for f in frames)
    shown = [
        repr(v)
        for f in frames
        if "/tests/" not in f.f_code.co_filename
        for v in f.f_locals.values()
    ]
    assert not [text for text in shown if secret in text or "YW5vdGhlci12ZXJ5" in text]
