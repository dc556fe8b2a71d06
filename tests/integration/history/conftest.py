"""History fixtures: a demo sandbox listed over real HTTP, and a history in a real SQLite file
or a real PostgreSQL database (``store``, ``history``: every test that takes them runs on both).

The PostgreSQL server is started once for the session (``tests/postgres.py``) and each test
gets a database of its own. Without PostgreSQL (or psycopg) those tests skip with the reason,
except under ``CODAT_NB_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), where they fail: CI must
prove both backends.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from codat_nb import CodatClient
from codat_nb.history import History
from codat_nb.history.encoding import without_one_time_password
from codat_nb.sandbox import Sandbox
from tests.integration.history.stores import PostgresStore, SQLiteStore
from tests.postgres import PostgresServer, PostgresUnavailable
from tests.support import client_for

REQUIRE_POSTGRES_ENV = "CODAT_NB_REQUIRE_POSTGRES"
BACKENDS = ("sqlite", "postgresql")
_databases = itertools.count(1)


@pytest.fixture
def client(demo_sandbox: Sandbox) -> Iterator[CodatClient]:
    with client_for(demo_sandbox) as c:
        yield c


@pytest.fixture
def listing(client: CodatClient) -> Callable[[], pd.DataFrame]:
    """``listing()``: the demo portfolio as ``list_all()`` returns it now."""
    return lambda: client.connections.list_all(progress=False)


@pytest.fixture
def as_stored() -> Callable[[pd.DataFrame], pd.DataFrame]:
    """``as_stored(portfolio)``: the frame a history gives back for it, link URLs without their
    one-time passwords (fresh in every listing, so never kept)."""

    def strip(portfolio: pd.DataFrame) -> pd.DataFrame:
        links = [without_one_time_password(url) for url in portfolio["link_url"]]
        return portfolio.assign(link_url=pd.Series(links, index=portfolio.index, dtype="str"))

    return strip


@pytest.fixture
def next_day(demo_sandbox: Sandbox) -> Callable[[], None]:
    """Move the sandbox clock on one day, so the next listing is a later snapshot."""
    return lambda: demo_sandbox.clock.set(demo_sandbox.clock.now() + pd.Timedelta(days=1))


@pytest.fixture
def history_path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{reason}, but {REQUIRE_POSTGRES_ENV}=1 requires the PostgreSQL tests to run")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run, started by the tests and torn down after."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable('psycopg is not installed (pip install "codat-nb[postgres]")')
    try:
        server = PostgresServer()
    except PostgresUnavailable as error:
        _unavailable(f"cannot start PostgreSQL: {error}")
    try:
        server.start()
    except PostgresUnavailable as error:
        server.stop()  # its directory
        _unavailable(f"cannot start PostgreSQL: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_store(postgres_server: PostgresServer) -> Iterator[PostgresStore]:
    """An empty database of its own on the tests' server, dropped afterwards."""
    import psycopg

    name = f"history_{next(_databases)}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield PostgresStore(postgres_server.url(name), postgres_server.password)
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, history_path: Path) -> SQLiteStore | PostgresStore:
    """Where the test's history lives: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return SQLiteStore(history_path)
    return request.getfixturevalue("postgres_store")


@pytest.fixture
def history(store: SQLiteStore | PostgresStore) -> Iterator[History]:
    with store.open() as h:
        yield h


@pytest.fixture
def file_bytes() -> Callable[[Path], str]:
    """``file_bytes(path)``: a hash of the raw file, for files that are not histories."""
    return lambda path: hashlib.sha256(path.read_bytes()).hexdigest()
