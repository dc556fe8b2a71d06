"""Shared fixtures: real sandboxes on loopback, and an authenticated requests.Session."""

from __future__ import annotations

import signal
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
