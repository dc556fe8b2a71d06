"""Bad input gets a clear error naming the problem, and the file loses nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime

import pandas as pd
import pytest

from codat_nb.exceptions import ServerError
from codat_nb.history import History, HistoryError
from codat_nb.history.database import SCHEMA_VERSION
from codat_nb.portfolio import failures_frame


@pytest.fixture
def recorded(history, history_path, listing, contents):
    """A history holding one snapshot, and its contents (to show later calls changed nothing)."""
    portfolio = listing()
    history.record(portfolio)
    return portfolio, contents(history_path)


# ----- the frame and the time ------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda df: df.drop(columns=["status", "company_name"]),
         r"no column 'company_name', 'status'; record the frame client.connections.list_all"),
        (lambda df: df.assign(created=df["created"].dt.tz_localize(None)),
         r"portfolio\['created'\] holds naive timestamps .*tz_localize\('UTC'\)"),
        (lambda df: df.assign(last_sync=df["last_sync"].astype(str)),
         r"portfolio\['last_sync'\] must hold tz-aware timestamps, not str"),
        (lambda df: df.assign(error_count=df["error_count"].astype(float)),
         r"portfolio\['error_count'\] must hold integers, not float64"),
        (lambda df: df.assign(status=df["status"].where(df.index != 3)),
         r"portfolio\['status'\] has missing values"),
        (lambda df: df.iloc[[*range(len(df)), 5]],
         r"lists a connection more than once \(id [0-9a-f-]{36}\)"),
        (lambda df: df.assign(connection_info=[object()] * len(df)),
         r"portfolio\['connection_info'\] holds a value JSON cannot store"),
    ],
    ids=["missing-columns", "naive-timestamps", "text-dates", "float-counts", "no-status",
         "duplicate", "not-json"],
)  # fmt: skip
def test_a_bad_frame_is_refused_before_anything_is_written(
    history, history_path, recorded, contents, next_day, change, message
):
    portfolio, before = recorded
    bad = change(portfolio.copy())
    bad.attrs["server_time"] = portfolio.attrs["server_time"] + pd.Timedelta(days=1)

    with pytest.raises(ValueError, match=message):
        history.record(bad)

    assert contents(history_path) == before


def test_an_incomplete_listing_is_refused(history, history_path, recorded, contents):
    """list_all() leaves out companies it could not read and names them in attrs['failures']:
    recorded, their connections would look deleted."""
    portfolio, before = recorded
    partial = portfolio[portfolio["company_id"] != portfolio["company_id"].iloc[0]].copy()
    partial.attrs["failures"] = failures_frame(
        [({"id": portfolio["company_id"].iloc[0], "name": portfolio["company_name"].iloc[0]},
          ServerError("Internal Server Error", status_code=500))]
    )  # fmt: skip
    partial.attrs["server_time"] += pd.Timedelta(days=1)

    with pytest.raises(
        ValueError, match=r"this listing is incomplete: 1 companies could not be read"
    ):
        history.record(partial)

    assert contents(history_path) == before


def test_not_a_frame_is_a_type_error(history):
    with pytest.raises(TypeError, match="portfolio must be a pandas DataFrame, not list"):
        history.record([{"id": "x"}])


@pytest.mark.parametrize(
    "at, error, message",
    [
        ("2026-11-05T09:00:00", ValueError, "has no time zone"),
        (datetime(2026, 11, 5, 9), ValueError, "has no time zone"),
        ("next tuesday", ValueError, "is not a date-time"),
        (1793523600, TypeError, "at must be a timezone-aware datetime, Timestamp or ISO string"),
        (pd.NaT, ValueError, "not NaT"),
    ],
    ids=["naive-text", "naive-datetime", "not-a-time", "a-number", "nat"],
)
def test_a_bad_snapshot_time_is_refused(
    history, history_path, recorded, contents, at, error, message
):
    portfolio, before = recorded

    with pytest.raises(error, match=message):
        history.record(portfolio, at=at)

    assert contents(history_path) == before


def test_a_frame_without_a_server_time_needs_at(history, history_path, listing):
    portfolio = listing()
    portfolio.attrs.clear()

    with pytest.raises(ValueError, match=r"no snapshot time: pass at=.*attrs\['server_time'\]"):
        history.record(portfolio)

    assert history.snapshots().empty
    assert history.record(portfolio, at="2026-11-01T09:00:00Z").new


def test_a_snapshot_older_than_the_latest_is_refused(history, history_path, recorded, contents):
    portfolio, before = recorded
    earlier = portfolio.attrs["server_time"] - pd.Timedelta(days=1)

    with pytest.raises(ValueError, match="older than the latest one .* recorded in time order"):
        history.record(portfolio, at=earlier)

    assert contents(history_path) == before


def test_a_snapshot_from_another_source_is_refused(history, history_path, listing, contents):
    portfolio = listing()
    history.record(portfolio, source="https://api.codat.io")
    before = contents(history_path)
    later = portfolio.attrs["server_time"] + pd.Timedelta(days=1)

    with pytest.raises(
        ValueError,
        match=r"listed from embedded sandbox, but the history's snapshots come from "
        r"https://api.codat.io; a history follows one portfolio: record it in another file",
    ):
        history.record(portfolio, at=later, source="embedded sandbox")
    with pytest.raises(ValueError, match="listed from embedded sandbox"):  # not "already there"
        history.record(portfolio, source="embedded sandbox")

    assert contents(history_path) == before
    assert history.record(portfolio, at=later, source="https://api.codat.io").new
    assert history.record(portfolio, at=later + pd.Timedelta(days=1)).new  # not said: no check


def test_a_snapshot_without_a_source_does_not_open_the_door_to_another(history, listing):
    """A snapshot recorded without saying its source does not reset the check: the history
    still follows the portfolio its snapshots named."""
    portfolio = listing()
    at = portfolio.attrs["server_time"]
    history.record(portfolio, source="https://api.codat.io")
    history.record(portfolio, at=at + pd.Timedelta(days=1))  # not said

    with pytest.raises(ValueError, match="listed from embedded sandbox, but the history's"):
        history.record(portfolio, at=at + pd.Timedelta(days=2), source="embedded sandbox")
    with pytest.raises(ValueError, match="listed from embedded sandbox"):  # the unsaid one too
        history.record(portfolio, at=at + pd.Timedelta(days=1), source="embedded sandbox")

    assert len(history.snapshots()) == 2


def test_text_that_is_not_unicode_is_named_and_nothing_written(
    history, history_path, recorded, contents
):
    """A lone surrogate (from a bad decode upstream) cannot be stored as UTF-8: the error names
    the column and connection, and the snapshot is rolled back."""
    portfolio, before = recorded
    bad = portfolio.copy()
    bad.loc[bad.index[2], "company_name"] = "Caf\udce9 Ltd"
    bad.attrs["server_time"] = portfolio.attrs["server_time"] + pd.Timedelta(days=1)

    with pytest.raises(HistoryError) as caught:
        history.record(bad)

    message = str(caught.value)
    assert "'company_name' of connection " + bad.at[bad.index[2], "id"] in message
    assert "not valid Unicode" in message
    assert contents(history_path) == before


def test_a_source_must_be_text(history, listing):
    with pytest.raises(ValueError, match="source must be a non-empty string or None, got ''"):
        history.record(listing(), source="")


def test_a_failure_inside_the_write_leaves_nothing_half_written(
    history, history_path, recorded, contents, listing, next_day, demo_sandbox
):
    """The last step of a write fails (a trigger in the file refuses it): all of it is undone."""
    portfolio, _ = recorded
    with sqlite3.connect(history_path) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON tally "
            "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
        )
    before = contents(history_path)
    target = portfolio[portfolio["status"] == "Linked"].iloc[0]
    demo_sandbox.store.deauthorize(target["company_id"], target["id"])
    next_day()

    with pytest.raises(HistoryError, match=r"cannot record a snapshot in .*disk trouble"):
        history.record(listing())

    assert contents(history_path) == before
    assert len(history.snapshots()) == 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda h: h.at("yesterday"), "when='yesterday' is not a date-time"),
        (lambda h: h.changes(since="2026-11-01"), "since='2026-11-01' has no time zone"),
        (lambda h: h.status_over_time(by="company_name"), "by must be None or one of"),
    ],
    ids=["at", "changes", "status-over-time"],
)
def test_bad_query_arguments_are_named(history, call, message):
    with pytest.raises(ValueError, match=message):
        call(history)


# ----- the file ------------------------------------------------------------------------


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(HistoryError, match=r"is a directory; give the history a file path"):
        History(tmp_path)


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(HistoryError, match=r"the directory .*nowhere does not exist"):
        History(tmp_path / "nowhere" / "history.sqlite")
    assert not (tmp_path / "nowhere").exists()


@pytest.fixture
def read_only():
    """``read_only(path)``: make a file or directory unwritable, even for root (which ignores
    permission bits: then the immutable attribute is used, or the test is skipped)."""
    made = []

    def make(path):
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        made.append((path, mode))
        if os.access(path, os.W_OK):
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if result.returncode != 0:
                pytest.skip("cannot make a path read-only for this user (root without chattr)")

    yield make
    for path, mode in made:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        path.chmod(mode)


def test_a_directory_that_is_not_writable_is_named(tmp_path, read_only):
    locked = tmp_path / "locked"
    locked.mkdir()
    read_only(locked)

    with pytest.raises(
        HistoryError, match=r"cannot create .*history.sqlite: the directory .* is not writable"
    ):
        History(locked / "history.sqlite")


def test_a_history_file_that_is_not_writable_is_named(
    history_path, recorded, read_only, history, file_bytes
):
    history.close()
    before = file_bytes(history_path)
    read_only(history_path)

    with pytest.raises(HistoryError, match="is not readable and writable by this user"):
        History(history_path)
    assert file_bytes(history_path) == before


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path, file_bytes):
    path = tmp_path / "notes.txt"
    path.write_text("connection ids to check on Monday\n" * 100)
    before = file_bytes(path)

    with pytest.raises(
        HistoryError,
        match=r"cannot read .*notes.txt: it is not an SQLite database \(file is not a database\)",
    ):
        History(path)
    assert file_bytes(path) == before


def test_a_corrupt_history_is_refused_and_left_as_it_was(
    history_path, recorded, history, file_bytes
):
    portfolio, _ = recorded
    history.close()
    data = bytearray(history_path.read_bytes())
    page = 4096
    data[page:] = b"\xa5" * (len(data) - page)  # every page after the schema page
    history_path.write_bytes(bytes(data))
    before = file_bytes(history_path)

    with History(history_path) as damaged:
        with pytest.raises(HistoryError, match=r"cannot read .*: it is corrupt \(database disk"):
            damaged.snapshots()
        with pytest.raises(HistoryError, match=r"cannot record a snapshot in .*corrupt"):
            damaged.record(portfolio, at=portfolio.attrs["server_time"] + pd.Timedelta(days=1))
    assert file_bytes(history_path) == before


def test_a_truncated_history_is_refused(history_path, recorded, history):
    history.close()
    data = history_path.read_bytes()
    history_path.write_bytes(data[: len(data) // 3])

    with pytest.raises(HistoryError, match="it is corrupt"), History(history_path) as damaged:
        damaged.at(pd.Timestamp.now(tz="UTC"))


@pytest.mark.parametrize(
    "setup, message",
    [
        ("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)", r"tables: orders"),
        ("PRAGMA application_id = 1598903374", r"application id 1598903374"),
    ],
    ids=["other-tables", "other-application"],
)
def test_another_applications_database_is_refused_untouched(tmp_path, file_bytes, setup, message):
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(setup)
    before = file_bytes(path)

    with pytest.raises(
        HistoryError,
        match=r"shop.sqlite is an SQLite database but not a codat-nb history \(" + message,
    ):
        History(path)
    assert file_bytes(path) == before


def test_a_history_from_a_newer_version_is_refused_untouched(
    history_path, recorded, history, file_bytes
):
    history.close()
    with sqlite3.connect(history_path) as db:
        db.execute("PRAGMA user_version = 99")
    before = file_bytes(history_path)

    with pytest.raises(
        HistoryError,
        match=r"written by a newer codat-nb \(history schema version 99; this version reads up "
        rf"to {SCHEMA_VERSION}\): upgrade codat-nb",
    ):
        History(history_path)
    assert file_bytes(history_path) == before


def test_a_closed_history_says_so(history):
    history.close()
    history.close()  # twice is fine

    with pytest.raises(
        HistoryError, match=r"cannot read .*history.sqlite: .*this History was closed"
    ):
        history.snapshots()


def test_bad_constructor_arguments(history_path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, not int"):
        History(3)
    with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
        History(history_path, timeout=-1)


# ----- two writers -----------------------------------------------------------------------

HOLD_THE_WRITE_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO company (company_id) VALUES ('uncommitted')")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


@pytest.fixture
def other_writer(history_path):
    """Another process holding the history's write lock (with an uncommitted write)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WRITE_LOCK, str(history_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.stdin.write("\n")
        process.stdin.flush()
        process.wait(10)


def test_a_second_writer_gives_up_clearly_and_writes_nothing(
    history_path, recorded, contents, next_day, listing, other_writer
):
    _, before = recorded
    next_day()
    later = listing()

    with History(history_path, timeout=0.2) as impatient:
        with pytest.raises(
            HistoryError, match=r"cannot record a snapshot in .*another process is writing to it"
        ):
            impatient.record(later)
        assert len(impatient.snapshots()) == 1  # reading does not wait for the writer (WAL)

        other_writer.stdin.write("\n")
        other_writer.stdin.flush()
        other_writer.wait(10)
        assert contents(history_path) == before
        assert impatient.record(later).new
    assert len(History(history_path).snapshots()) == 2


def test_two_writers_recording_the_same_snapshot_write_it_once(history_path, listing):
    portfolio = listing()
    results = []

    def write():
        with History(history_path) as h:
            results.append(h.record(portfolio))

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.new for r in results) == [False, True]
    with History(history_path) as h:
        assert h.snapshots()["connections"].tolist() == [len(portfolio)]


def test_the_file_is_in_wal_mode(history, history_path):
    with sqlite3.connect(history_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
