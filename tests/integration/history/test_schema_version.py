"""The file's schema version: an older history is upgraded in place, in one transaction.

``data/history-v1.sqlite`` was written by the schema-version-1 code of ``codat_nb.history``
(commit 749089c): a seed=None sandbox with Alpha Ltd, Beta LLP and Gamma Inc. (four connections
each, two of them Linked), recorded on 2026-11-01; then one of Alpha Ltd's Linked connections
was deauthorized and the portfolio recorded again a week later.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from codat_nb import frames
from codat_nb.history import History, HistoryError
from codat_nb.history.schema import SCHEMA_VERSION
from tests.integration.history.stores import SQLiteStore

V1_FILE = Path(__file__).parent / "data" / "history-v1.sqlite"
FIRST, SECOND = pd.Timestamp("2026-11-01T09:00:21Z"), pd.Timestamp("2026-11-08T09:00:22Z")
LOST = "ddef71cd-1b0f-41a1-906e-4d0d474803a5"
#: Version 1's text columns of ``state``, all of which version 2 stores differently.
V1_STATE_TEXT = (
    "company_name",
    "platform_name",
    "integration_key",
    "source_type",
    "latest_error",
    "link_url",
    "integration_id",
    "source_id",
)


def version_of(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def v1_history(tmp_path: Path) -> Path:
    path = tmp_path / "old.sqlite"
    shutil.copyfile(V1_FILE, path)
    assert version_of(path) == 1
    return path


def test_a_version_1_history_is_upgraded_and_keeps_everything(v1_history):
    with History(v1_history) as history:
        snapshots = history.snapshots()
        portfolio = history.at(SECOND)
        changes = history.changes(since=FIRST)

    assert version_of(v1_history) == SCHEMA_VERSION
    assert snapshots["taken_at"].tolist() == [FIRST, SECOND]
    assert snapshots[["connections", "companies", "status_changed", "stalled"]].values.tolist() == [
        [12, 3, 0, 0],
        [12, 3, 1, 5],
    ]
    assert snapshots["source"].isna().all()  # version 1 did not record it
    assert list(portfolio.columns) == ["company_id", "company_name", *frames.CONNECTION_COLUMNS]
    assert portfolio.set_index("id").at[LOST, "status"] == "Deauthorized"
    lost = changes[changes["change"] == "status_changed"]
    assert lost[["connection_id", "company_name", "from_status", "to_status"]].values.tolist() == [
        [LOST, "Alpha Ltd", "Linked", "Deauthorized"]
    ]


def test_the_upgrade_keeps_every_value_version_1_stored(v1_history):
    """Version 2 stores repeated text once and link URLs as templates: what comes back is what
    version 1 held, value for value."""
    columns = ", ".join(f"s.{c}" for c in V1_STATE_TEXT)
    db = sqlite3.connect(v1_history)
    stored = {
        (snapshot, connection_id): values
        for snapshot, connection_id, *values in db.execute(
            f"SELECT m.snapshot, c.connection_id, {columns} FROM member AS m "
            "JOIN connection AS c ON c.id = m.connection JOIN state AS s ON s.id = m.state"
        )
    }
    db.close()

    with History(v1_history) as history:
        frames = {1: history.at(FIRST), 2: history.at(SECOND)}

    assert len(stored) == 24
    for (snapshot, connection_id), values in stored.items():
        row = frames[snapshot].set_index("id").loc[connection_id, list(V1_STATE_TEXT)]
        assert [None if pd.isna(v) else v for v in row] == values
    assert frames[2]["link_url"].str.endswith("/start").all()


def test_an_upgraded_history_records_on_from_where_it_was(v1_history):
    with History(v1_history) as history:
        later = history.at(SECOND)
        later.loc[later["id"] == LOST, "status"] = "Linked"  # the customer re-authorised
        summary = history.record(later, at=SECOND + pd.Timedelta(days=7), source="sandbox")

        assert summary.status_changed == 1 and summary.source == "sandbox"
        assert history.snapshots()["source"].tolist()[-1] == "sandbox"


def test_an_upgrade_that_fails_leaves_the_file_at_its_version(v1_history):
    store = SQLiteStore(v1_history)
    store.sql("ALTER TABLE snapshot ADD COLUMN source INTEGER")  # hand-edited: v2's column
    before = store.contents()

    with pytest.raises(HistoryError, match=r"cannot upgrade .*old.sqlite: duplicate column name"):
        History(v1_history)

    assert version_of(v1_history) == 1
    assert store.contents() == before


def test_a_new_file_is_created_at_the_current_version(tmp_path):
    path = tmp_path / "new.sqlite"

    History(path).close()

    assert version_of(path) == SCHEMA_VERSION


def test_an_empty_file_becomes_a_history(tmp_path):
    path = tmp_path / "touched.sqlite"
    path.touch()

    with History(path) as history:
        assert history.snapshots().empty
    assert version_of(path) == SCHEMA_VERSION


def test_the_upgrade_drops_one_time_passwords_version_1_kept(v1_history):
    """A one-time password is a credential and useless later: an upgraded file keeps none."""
    db = sqlite3.connect(v1_history)
    with db:
        db.execute("UPDATE state SET link_url = link_url || '?otp=7f3a9c&lang=en'")
    db.close()

    with History(v1_history) as history:
        links = history.at(SECOND)["link_url"]

    assert links.str.endswith("/start?lang=en").all()
    db = sqlite3.connect(v1_history)
    dump = "\n".join(db.iterdump())
    db.close()
    assert "7f3a9c" not in dump
