"""Shared fixtures: real sandboxes on loopback, and an authenticated requests.Session."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from codat_nb.sandbox import Sandbox


def auth_session(sb: Sandbox) -> requests.Session:
    """A keep-alive session that sends the sandbox's Authorization header on every request."""
    session = requests.Session()
    session.headers["Authorization"] = sb.auth_header
    return session


@pytest.fixture(name="auth_session")
def auth_session_factory() -> Iterator[Callable[[Sandbox], requests.Session]]:
    """``auth_session(sb)`` as a fixture: sessions it makes are closed after the test."""
    made: list[requests.Session] = []

    def make(sb: Sandbox) -> requests.Session:
        made.append(auth_session(sb))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """An empty sandbox (seed=None), fresh for each test."""
    with Sandbox(seed=None) as sb:
        yield sb


@pytest.fixture
def demo_sandbox() -> Iterator[Sandbox]:
    """The demo portfolio (>= 240 companies, >= 1,000 connections), fresh for each test."""
    with Sandbox(seed="demo") as sb:
        yield sb


@pytest.fixture
def session(sandbox: Sandbox) -> Iterator[requests.Session]:
    """An authenticated session against the empty ``sandbox``."""
    with auth_session(sandbox) as s:
        yield s


@pytest.fixture
def demo_session(demo_sandbox: Sandbox) -> Iterator[requests.Session]:
    """An authenticated session against ``demo_sandbox``."""
    with auth_session(demo_sandbox) as s:
        yield s


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Python's own Ctrl-C handler, as in a notebook kernel, even when pytest was started with
    SIGINT ignored (a background job of a non-interactive shell ignores it): the interrupt tests
    send SIGINT and expect KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


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
