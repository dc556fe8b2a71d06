"""Bad input gets a clear error naming the problem, and the history loses nothing (both
backends); a file that is not a history is refused untouched (SQLite)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import date, datetime

import pandas as pd
import pytest

from codat_nb.exceptions import ServerError
from codat_nb.history import History, HistoryError
from codat_nb.history.schema import SCHEMA_VERSION
from codat_nb.portfolio import failures_frame


@pytest.fixture
def recorded(history, store, listing):
    """A history holding one snapshot, and its contents (to show later calls changed nothing)."""
    portfolio = listing()
    history.record(portfolio)
    return portfolio, store.contents()


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
    history, store, recorded, next_day, change, message
):
    portfolio, before = recorded
    bad = change(portfolio.copy())
    bad.attrs["server_time"] = portfolio.attrs["server_time"] + pd.Timedelta(days=1)

    with pytest.raises(ValueError, match=message):
        history.record(bad)

    assert store.contents() == before


def test_an_incomplete_listing_is_refused(history, store, recorded):
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

    assert store.contents() == before


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
def test_a_bad_snapshot_time_is_refused(history, store, recorded, at, error, message):
    portfolio, before = recorded

    with pytest.raises(error, match=message):
        history.record(portfolio, at=at)

    assert store.contents() == before


def test_a_frame_without_a_server_time_needs_at(history, listing):
    portfolio = listing()
    portfolio.attrs.clear()

    with pytest.raises(ValueError, match=r"no snapshot time: pass at=.*attrs\['server_time'\]"):
        history.record(portfolio)

    assert history.snapshots().empty
    assert history.record(portfolio, at="2026-11-01T09:00:00Z").new


def test_a_snapshot_older_than_the_latest_is_refused(history, store, recorded):
    portfolio, before = recorded
    earlier = portfolio.attrs["server_time"] - pd.Timedelta(days=1)

    with pytest.raises(ValueError, match="older than the latest one .* recorded in time order"):
        history.record(portfolio, at=earlier)

    assert store.contents() == before


def test_a_snapshot_from_another_source_is_refused(history, store, listing):
    portfolio = listing()
    history.record(portfolio, source="https://api.codat.io")
    before = store.contents()
    later = portfolio.attrs["server_time"] + pd.Timedelta(days=1)

    with pytest.raises(
        ValueError,
        match=r"listed from embedded sandbox, but the history's snapshots come from "
        r"https://api.codat.io; a history follows one portfolio: record it in another file",
    ):
        history.record(portfolio, at=later, source="embedded sandbox")
    with pytest.raises(ValueError, match="listed from embedded sandbox"):  # not "already there"
        history.record(portfolio, source="embedded sandbox")

    assert store.contents() == before
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


def test_text_that_is_not_unicode_is_named_and_nothing_written(history, store, recorded):
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
    assert store.contents() == before


def test_a_source_must_be_text(history, listing):
    with pytest.raises(ValueError, match="source must be a non-empty string or None, got ''"):
        history.record(listing(), source="")


REFUSE_TALLY = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON tally "
               "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'disk trouble'; END $$",
                   "CREATE TRIGGER refuse BEFORE INSERT ON tally "
                   "FOR EACH ROW EXECUTE FUNCTION refuse()"],
}  # fmt: skip


def test_a_failure_inside_the_write_leaves_nothing_half_written(
    history, store, recorded, listing, next_day, demo_sandbox
):
    """The last step of a write fails (a trigger in the database refuses it): all of it is
    undone."""
    portfolio, _ = recorded
    store.sql(*REFUSE_TALLY[store.name])
    before = store.contents()
    target = portfolio[portfolio["status"] == "Linked"].iloc[0]
    demo_sandbox.store.deauthorize(target["company_id"], target["id"])
    next_day()

    with pytest.raises(HistoryError, match=r"cannot record a snapshot in .*disk trouble"):
        history.record(listing())

    assert store.contents() == before
    assert len(history.snapshots()) == 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda h: h.at("yesterday"), "when='yesterday' is not a date-time"),
        (
            lambda h: h.changes(since="2026-11-01T09:00"),
            "since='2026-11-01T09:00' has no time zone",
        ),
        (lambda h: h.changes(since="2026-13-01"), "since='2026-13-01' is not a date-time"),
        (lambda h: h.status_over_time(by="company_name"), "by must be None or one of"),
    ],
    ids=["at", "changes-naive-time", "changes-bad-date", "status-over-time"],
)
def test_bad_query_arguments_are_named(history, call, message):
    with pytest.raises(ValueError, match=message):
        call(history)


def test_a_date_alone_is_that_days_start_in_utc(history, demo_sandbox, listing, next_day):
    """A date is the natural thing to type: it reads as 00:00 UTC, the day snapshots are
    dated by (a time of day without a zone is still refused, above)."""
    history.record(listing())  # 2026-11-01 09:00 UTC
    target = demo_sandbox.store.company_ids()[0]
    for connection in demo_sandbox.store.connections_wire(target):
        if connection["status"] == "Linked":
            demo_sandbox.store.deauthorize(target, connection["id"])
    next_day()
    history.record(listing())  # 2026-11-02 09:00 UTC

    by_date = history.changes(since="2026-11-02")
    assert by_date.equals(history.changes(since="2026-11-02T00:00:00Z"))
    assert history.changes(since=date(2026, 11, 2)).equals(by_date)
    assert history.changes(since="2026-11-03").empty  # after the second snapshot
    assert len(history.at("2026-11-02")) == len(history.at("2026-11-01T09:00:00Z"))
    with pytest.raises(ValueError, match="no snapshot"):
        history.at("2026-11-01")  # 00:00, before the first snapshot


@pytest.mark.parametrize(
    "early, late", [("0001-01-01", "9999-12-31"), ("1600-01-01T00:00:00Z", date(2999, 12, 31))]
)
def test_far_bounds_are_bounds_in_every_method(history, listing, early, late):
    """Dates outside pandas' nanosecond range (1677-2262) are the natural "from the start"
    and "until forever": every method that takes a moment reads them, none overflows."""
    portfolio = listing()
    history.record(portfolio)

    assert len(history.at(late)) == len(portfolio)
    with pytest.raises(ValueError, match="no snapshot at or before 0001-01-01|1600-01-01"):
        history.at(early)
    assert history.changes(since=early, until=late).equals(history.changes(since=early))
    assert history.events(since=early, until=late).empty
    assert history.disagreements(since=early, until=late).empty


@pytest.mark.parametrize(
    "call",
    [lambda h: h.changes(since="2026-11-02", until="2026-11-01"),
     lambda h: h.events(since="2026-11-02", until="2026-11-01"),
     lambda h: h.disagreements(since="2026-11-02", until="2026-11-01")],
    ids=["changes", "events", "disagreements"],
)  # fmt: skip
def test_until_before_since_is_refused_by_every_method(history, call):
    """Swapped bounds are a mistake, not a question whose answer is "nothing"."""
    with pytest.raises(ValueError, match=r"until \('2026-11-01'\) is before since"):
        call(history)


# ----- the file (SQLite) -------------------------------------------------------------


@pytest.fixture
def file_recorded(history_path, listing):
    """A history file holding one snapshot, closed; the portfolio recorded."""
    portfolio = listing()
    with History(history_path) as history:
        history.record(portfolio)
    return portfolio


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


def test_a_truncated_history_is_refused(history_path, file_recorded):
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
    history_path, file_recorded, file_bytes
):
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

    with pytest.raises(HistoryError, match=r"cannot read .*: .*this History was closed"):
        history.snapshots()


def test_bad_constructor_arguments(history_path):
    with pytest.raises(
        TypeError, match="target must be a file path or a postgresql:// URL, not int"
    ):
        History(3)
    with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
        History(history_path, timeout=-1)
    with pytest.raises(ValueError, match=r"mysql://me:\*\*\*@db/x is not a history location"):
        History("mysql://me:hunter2@db/x")


def test_a_new_file_can_be_read_by_the_jobs_group_only(history_path):
    """Created rw-r----- whatever the umask (here 077), as are SQLite's -wal and -shm files:
    analysts in the job's group may read it; others may not (it names customers)."""
    old = os.umask(0o077)
    try:
        with History(history_path) as history:
            history.snapshots()  # the -wal and -shm files exist while it is open
            modes = {p.name: oct(p.stat().st_mode & 0o777) for p in history_path.parent.iterdir()}
    finally:
        os.umask(old)

    assert modes == {name: "0o640" for name in ("history.sqlite", "history.sqlite-wal",
                                                 "history.sqlite-shm")}  # fmt: skip


def test_the_file_is_in_wal_mode(history_path, file_recorded):
    with sqlite3.connect(history_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
