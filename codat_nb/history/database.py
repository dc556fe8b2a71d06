"""The history file: an SQLite database, recognised by its application id and upgraded by version.

Opening refuses, with a message naming the file and the problem, anything that is not a
codat-nb history this code can read: a directory, a path it cannot write, a file that is not
SQLite (or is corrupt), another application's database, or one written by a newer codat-nb. An
empty file or a new path becomes a history; an older one is upgraded in one transaction.

The file is in WAL mode, so a notebook can read while a daily job writes. Writes take the
write lock up front (``BEGIN IMMEDIATE``) and wait up to ``timeout`` seconds for another writer
before giving up, so two writers never interleave and a failed write leaves nothing behind.

Schema (times are INTEGER microseconds since the Unix epoch, UTC; JSON columns are TEXT):

* ``snapshot``: one row per recorded listing, with its counts, its changes since the previous
  snapshot and its ``source`` (where it was listed from, NULL if not said; since version 2).
* ``company``, ``connection``: every company id and (company, connection id) ever seen.
* ``state``: a connection's listed values (all columns but its ids, status and ``last_sync``),
  stored once per change and shared by every snapshot in which they did not change;
  ``fingerprint`` is a 64-bit hash of them that decides whether they changed. Repeated text is
  an id into ``text``, and ``link`` the id of the link URL's template (``interning``).
* ``text``: every repeated text value once (since version 2).
* ``member``: which connections a snapshot holds: state, status and ``last_sync``, the values
  that move daily. About 25 bytes per connection per snapshot.
* ``status``: status names by code (documented ones first; a new one Codat sends is added).
* ``tally``: connections per status, platform and source type per snapshot, for trends.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from codat_nb.history.encoding import STATE_COLUMNS, without_one_time_password
from codat_nb.history.interning import STORED_STATE_COLUMNS, state_values
from codat_nb.wire.schema import CONNECTION_STATUSES

#: ``PRAGMA application_id`` of a history file: "CNBH" in ASCII.
APPLICATION_ID = 0x434E4248
#: ``PRAGMA user_version``: the schema version this code writes.
SCHEMA_VERSION = 2
DEFAULT_TIMEOUT = 10.0

_SCHEMA_V1 = """
CREATE TABLE snapshot (
    id INTEGER PRIMARY KEY,
    taken_at INTEGER NOT NULL UNIQUE,
    connections INTEGER NOT NULL,
    companies INTEGER NOT NULL,
    appeared INTEGER NOT NULL,
    disappeared INTEGER NOT NULL,
    status_changed INTEGER NOT NULL,
    stalled INTEGER NOT NULL
);
CREATE TABLE company (
    id INTEGER PRIMARY KEY,
    company_id TEXT NOT NULL UNIQUE
);
CREATE TABLE connection (
    id INTEGER PRIMARY KEY,
    company INTEGER NOT NULL REFERENCES company (id),
    connection_id TEXT NOT NULL,
    UNIQUE (company, connection_id)
);
CREATE TABLE status (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE state (
    id INTEGER PRIMARY KEY,
    connection INTEGER NOT NULL REFERENCES connection (id),
    fingerprint INTEGER NOT NULL,
    company_name TEXT,
    platform_name TEXT,
    integration_key TEXT,
    source_type TEXT,
    created INTEGER,
    error_count INTEGER NOT NULL,
    latest_error TEXT,
    link_url TEXT,
    integration_id TEXT,
    source_id TEXT,
    data_connection_errors TEXT,
    connection_info TEXT
);
CREATE TABLE member (
    snapshot INTEGER NOT NULL REFERENCES snapshot (id),
    connection INTEGER NOT NULL REFERENCES connection (id),
    state INTEGER NOT NULL REFERENCES state (id),
    status INTEGER NOT NULL REFERENCES status (id),
    last_sync INTEGER,
    PRIMARY KEY (snapshot, connection)
) WITHOUT ROWID;
CREATE TABLE tally (
    snapshot INTEGER NOT NULL REFERENCES snapshot (id),
    status TEXT NOT NULL,
    platform_name TEXT,
    integration_key TEXT,
    source_type TEXT,
    connections INTEGER NOT NULL
);
CREATE INDEX tally_snapshot ON tally (snapshot);
"""


def _create_v1(db: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would commit the open transaction first.
    for statement in filter(str.strip, _SCHEMA_V1.split(";")):
        db.execute(statement)
    db.executemany(
        "INSERT INTO status (id, name) VALUES (?, ?)", list(enumerate(CONNECTION_STATUSES))
    )


_STATE_V2 = """
CREATE TABLE state_v2 (
    id INTEGER PRIMARY KEY,
    connection INTEGER NOT NULL REFERENCES connection (id),
    fingerprint INTEGER NOT NULL,
    company_name INTEGER REFERENCES text (id),
    platform_name INTEGER REFERENCES text (id),
    integration_key INTEGER REFERENCES text (id),
    source_type INTEGER REFERENCES text (id),
    integration_id INTEGER REFERENCES text (id),
    latest_error INTEGER REFERENCES text (id),
    created INTEGER,
    error_count INTEGER NOT NULL,
    link INTEGER REFERENCES text (id),
    link_url TEXT,
    source_id TEXT,
    data_connection_errors TEXT,
    connection_info TEXT
)
"""


def _upgrade_to_v2(db: sqlite3.Connection) -> None:
    """Version 2: each snapshot says where it was listed from, so a daily job that lost its
    credentials (and fell back to the embedded sandbox) cannot mix two portfolios in one file;
    and a state's repeated text is stored once (``interning``): rows about a third the size."""
    db.execute("ALTER TABLE snapshot ADD COLUMN source TEXT")
    db.execute("CREATE TABLE text (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE)")
    db.execute(_STATE_V2)
    names = ", ".join(("id", "connection", "fingerprint", *STORED_STATE_COLUMNS))
    marks = ", ".join("?" * (3 + len(STORED_STATE_COLUMNS)))
    cursor = db.execute(
        f"SELECT s.id, s.connection, s.fingerprint, co.company_id, c.connection_id, "
        f"{', '.join(f's.{column}' for column in STATE_COLUMNS)} FROM state AS s "
        "JOIN connection AS c ON c.id = s.connection JOIN company AS co ON co.id = c.company"
    )
    columns = ["key", "connection", "fingerprint", "company_id", "id", *STATE_COLUMNS]
    while rows := cursor.fetchmany(50_000):
        old = pd.DataFrame(rows, columns=columns, dtype=object)
        # Version 1 kept one-time passwords in link URLs: useless later, and a credential.
        old["link_url"] = [without_one_time_password(url) for url in old["link_url"]]
        new = state_values(db, old)
        keys = [old[c].tolist() for c in ("key", "connection", "fingerprint")]
        values = zip(*keys, *new.values(), strict=True)
        db.executemany(f"INSERT INTO state_v2 ({names}) VALUES ({marks})", values)
    # The order SQLite documents for changing a table: new one, copy, drop old, rename.
    db.execute("DROP TABLE state")
    db.execute("ALTER TABLE state_v2 RENAME TO state")


#: ``MIGRATIONS[n]`` turns a version ``n - 1`` file into version ``n`` (0 is a new file).
MIGRATIONS = {1: _create_v1, 2: _upgrade_to_v2}


class HistoryError(Exception):
    """The history file cannot be used as asked (missing, foreign, newer, corrupt, locked)."""


#: What SQLite's primary result codes mean for someone holding a history file.
_MEANINGS = {
    5: "another process is writing to it (the write lock stayed busy for the whole timeout)",
    6: "another process is writing to it (the write lock stayed busy for the whole timeout)",
    8: "it is read-only here",
    10: "the disk failed to read or write it",
    11: "it is corrupt",
    13: "the disk is full",
    14: "the file could not be opened",
    26: "it is not an SQLite database",
}


def _describe(error: sqlite3.Error) -> str:
    """What went wrong, from SQLite's result code (``sqlite_errorcode``, Python 3.11+)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None and isinstance(error, sqlite3.ProgrammingError):
        return f"{error} (this History was closed)" if "closed" in str(error) else str(error)
    meaning = _MEANINGS.get(code & 0xFF) if code is not None else None
    return f"{meaning} ({error})" if meaning else str(error)


@contextlib.contextmanager
def translated(path: Path, doing: str) -> Iterator[None]:
    """Turn sqlite3's errors into a HistoryError naming the file and what was being done."""
    try:
        yield
    except sqlite3.Error as error:
        raise HistoryError(f"cannot {doing} {path}: {_describe(error)}") from error


@contextlib.contextmanager
def write_transaction(db: sqlite3.Connection, path: Path, doing: str) -> Iterator[None]:
    """One atomic write: the write lock first, everything or nothing."""
    with translated(path, doing):
        db.execute("BEGIN IMMEDIATE")
    try:
        with translated(path, doing):
            yield
            db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise HistoryError(
            f"{path} is a directory; give the history a file path such as {path / 'history.sqlite'}"
        )
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise HistoryError(f"cannot open {path}: it is not readable and writable by this user")
        return
    if not path.parent.is_dir():
        raise HistoryError(f"cannot create {path}: the directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise HistoryError(f"cannot create {path}: the directory {path.parent} is not writable")


def _upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Bring a new or older file to SCHEMA_VERSION, checking it again under the write lock."""
    with write_transaction(db, path, "upgrade"):
        application_id, version, tables = _identity(db)
        if application_id == 0 and version == 0 and not tables:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        else:
            _refuse_foreign_or_newer(path, application_id, version, tables)
        for step in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _identity(db: sqlite3.Connection) -> tuple[int, int, list[str]]:
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = [
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"
        )
    ]
    return application_id, version, tables


def _refuse_foreign_or_newer(path: Path, application_id: int, version: int, tables: list) -> None:
    if application_id != APPLICATION_ID:
        found = f"tables: {', '.join(tables)}" if tables else f"application id {application_id}"
        raise HistoryError(
            f"{path} is an SQLite database but not a codat-nb history ({found}); "
            "give a new file path, or the path of an existing history"
        )
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{path} was written by a newer codat-nb (history schema version {version}; this "
            f"version reads up to {SCHEMA_VERSION}): upgrade codat-nb to use it"
        )


def open_database(path: Path, timeout: float) -> sqlite3.Connection:
    """An open, checked, current-version history database at ``path`` (created if new)."""
    _check_path(path)
    with translated(path, "open"):
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        with translated(path, "read"):
            application_id, version, tables = _identity(db)
        fresh = application_id == 0 and version == 0 and not tables
        if not fresh:
            _refuse_foreign_or_newer(path, application_id, version, tables)
        if fresh:
            with translated(path, "create"):
                db.execute("PRAGMA journal_mode = WAL")
        if version < SCHEMA_VERSION:
            _upgrade(db, path)
    except BaseException:
        db.close()
        raise
    return db
