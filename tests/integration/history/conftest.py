"""History fixtures: a demo sandbox listed over real HTTP, and a history in a real SQLite file."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from codat_nb import CodatClient
from codat_nb.history import History
from codat_nb.history.encoding import without_one_time_password
from codat_nb.sandbox import Sandbox
from tests.support import client_for


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


@pytest.fixture
def history(history_path: Path) -> Iterator[History]:
    with History(history_path) as h:
        yield h


def _contents(path: Path) -> str:
    """Everything a history file holds, as SQL text, read through a separate connection."""
    db = sqlite3.connect(path)
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


@pytest.fixture
def contents() -> Callable[[Path], str]:
    """``contents(path)``: the file's data as SQL text, to show a call changed nothing."""
    return _contents


@pytest.fixture
def file_bytes() -> Callable[[Path], str]:
    """``file_bytes(path)``: a hash of the raw file, for files that are not histories."""
    return lambda path: hashlib.sha256(path.read_bytes()).hexdigest()
