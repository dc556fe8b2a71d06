"""A damaged history file is found before anything is written (``PRAGMA quick_check``) and
refused with a message that says how to recover; the daily job exits 3 without spending the
listing. Without the check, a snapshot was appended to a file whose damaged pages the write did
not touch (6 runs of 10 in the hostile test), and readers found out weeks later."""

from __future__ import annotations

import random
import sqlite3

import pandas as pd
import pytest

from codat_nb.history import History, HistoryError
from codat_nb.history.sqlite import SQLiteDatabase
from tests.integration.history.test_snapshot_command import snapshot

PAGE = 4096


@pytest.fixture
def three_days(history_path, listing, next_day):
    """A history file with three daily snapshots, closed; their times."""
    times = []
    with History(history_path) as history:
        for _ in range(3):
            times.append(history.record(listing()).taken_at)
            next_day()
    return times


def leaf_pages(path, table: str) -> list[int]:
    """``table``'s leaf pages in key order (for ``member``: the oldest snapshot first)."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY path",
            (table,),
        ).fetchall()
    return [page for (page,) in rows]


def damage(path, page: int, seed: int = 0) -> None:
    """Overwrite one page (numbered from 1) with random bytes, as a failing disk might."""
    data = bytearray(path.read_bytes())
    data[(page - 1) * PAGE : page * PAGE] = random.Random(seed).randbytes(PAGE)
    path.write_bytes(bytes(data))


def test_the_first_snapshots_damaged_page_is_found_before_writing(
    history_path, three_days, listing, file_bytes
):
    """The page holds the first snapshot's members, which recording a fourth never reads:
    the write alone would not notice. The check does, and says what still reads."""
    damage(history_path, leaf_pages(history_path, "member")[0])
    before = file_bytes(history_path)

    with History(history_path) as history:
        with pytest.raises(HistoryError) as refused:
            history.record(listing())
        latest = history.at(three_days[-1])  # the pages of later snapshots still read
        with pytest.raises(HistoryError, match="it is corrupt"):
            history.at(three_days[0])

    message = str(refused.value)
    assert f"{history_path} is damaged (" in message and "nothing was written" in message
    assert "keep the file as it is" in message and "History(" in message and ".at()" in message
    assert "record from now on in a new file (codat-nb snapshot --db NEW_PATH)" in message
    assert file_bytes(history_path) == before
    assert len(latest) == len(listing())  # the demo, as recorded


@pytest.mark.parametrize("seed", range(6))
def test_any_damaged_page_is_refused_and_the_file_left_as_it_was(
    history_path, three_days, listing, file_bytes, seed
):
    """One random page of the file (after the first, which holds the header) overwritten."""
    pages = history_path.stat().st_size // PAGE
    damage(history_path, random.Random(seed).randrange(2, pages + 1), seed)
    before = file_bytes(history_path)

    refused = r"is damaged|it is corrupt|not a database"
    with pytest.raises(HistoryError, match=refused), History(history_path) as history:
        history.record(listing())

    assert file_bytes(history_path) == before


def test_the_daily_job_refuses_a_damaged_file_before_listing(
    history_path, three_days, demo_sandbox, file_bytes
):
    damage(history_path, leaf_pages(history_path, "member")[0])
    before = file_bytes(history_path)
    requests_before = demo_sandbox.store.request_count
    env = {"CODAT_AUTH_HEADER": demo_sandbox.auth_header, "CODAT_BASE_URL": demo_sandbox.url}

    ran = snapshot("--db", str(history_path), "--fail-on-deauthorized", env=env)

    assert ran.code == 3, ran.err
    assert ran.err.startswith(f"codat-nb snapshot: {history_path} is damaged (")
    assert "keep the file as it is" in ran.err and "Traceback" not in ran.err
    assert demo_sandbox.store.request_count == requests_before  # no listing spent
    assert file_bytes(history_path) == before


def test_record_checks_unless_check_passed_and_nothing_was_written_since(
    history_path, three_days, listing, next_day, monkeypatch
):
    """The daily job checks before it lists: recording right after does not read the whole
    file again; any write since (this History's own included) means checking again."""
    checks = []
    original = SQLiteDatabase.damage
    monkeypatch.setattr(SQLiteDatabase, "damage", lambda db: checks.append(1) or original(db))
    with History(history_path) as history:
        history.check()
        history.record(listing())
        assert len(checks) == 1
        next_day()
        history.record(listing())
        assert len(checks) == 2  # its own write since the check
        history.check()
        with History(history_path) as other:  # another writer
            next_day()
            other.record(listing())
        next_day()
        history.record(listing())
    assert len(checks) == 5


def test_a_sound_history_passes_the_check(history, listing):
    history.record(listing())

    history.check()

    assert len(history.snapshots()) == 1


def test_an_unreadable_header_is_refused_at_open(history_path, three_days, file_bytes):
    data = bytearray(history_path.read_bytes())
    data[:100] = b"\x00" * 100  # the header: no longer an SQLite file
    history_path.write_bytes(bytes(data))
    before = file_bytes(history_path)

    with pytest.raises(HistoryError, match=r"cannot read .*: it is not an SQLite database"):
        History(history_path)

    assert file_bytes(history_path) == before
    assert pd.Timestamp(three_days[0]).year == 2026
