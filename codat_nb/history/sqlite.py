"""The history in one SQLite file: the default, for one person or one machine.

The file is in WAL mode, so readers never wait for the daily job. Writes take the write lock
up front (``BEGIN IMMEDIATE``) and wait up to ``timeout`` seconds for another writer.

A file this user may read but not write (the job runs as another user) is opened read-only:
everything reads, and a write is refused naming the permission. Each read then opens its own
read-only connection: while a writer has the file open, through its ``-wal`` and ``-shm``
files; otherwise the file is read as immutable (so the reader never creates those files, which
would be the reader's and could lock the job out), and the read is kept only if the file did
not change meanwhile (else it is read again).

A new file is created ``rw-r-----`` (0640, whatever the umask): the job's group may read it,
others may not (it names customers). SQLite gives its ``-wal`` and ``-shm`` files the same mode.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import sqlite3
import stat
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.request import pathname2url

from codat_nb.history.backend import (
    APPLICATION_ID,
    Database,
    Dialect,
    HistoryError,
    Identity,
    Params,
)

T = TypeVar("T")
#: The mode of a history file this code creates (see the module docstring).
FILE_MODE = 0o640
_READ_ATTEMPTS = 3  # an immutable read of a file that changed meanwhile is read again

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
SQLITE = Dialect(
    key="INTEGER PRIMARY KEY",
    int="INTEGER",
    text="TEXT",
    without_rowid=" WITHOUT ROWID",
    foreign_keys=True,  # declared, as version 1 declared them; SQLite does not enforce them
)


def _name(lookup: Callable[[int], Any], number: int) -> str:
    try:
        return str(lookup(number)[0])
    except KeyError:
        return str(number)


def permissions(path: Path) -> str:
    """``-rw-r----- owner root, group codat`` for a message about access."""
    info = path.stat()
    owner, group = _name(pwd.getpwuid, info.st_uid), _name(grp.getgrgid, info.st_gid)
    return f"{stat.filemode(info.st_mode)} owner {owner}, group {group}"


def _user() -> str:
    return _name(pwd.getpwuid, os.geteuid())


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise HistoryError(
            f"{path} is a directory; give the history a file path such as {path / 'history.sqlite'}"
        )
    if path.exists():
        if not os.access(path, os.R_OK):
            raise HistoryError(
                f"cannot open {path}: this user ({_user()}) may not read it ({permissions(path)})"
            )
        return
    if not path.parent.is_dir():
        raise HistoryError(f"cannot create {path}: the directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise HistoryError(f"cannot create {path}: the directory {path.parent} is not writable")


def _create(path: Path) -> None:
    """An empty file with FILE_MODE (not left to the umask); another creator first is fine."""
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        try:
            os.fchmod(descriptor, FILE_MODE)
        finally:
            os.close(descriptor)


class SQLiteDatabase(Database):
    """A history file; read-only when this user may not write it."""

    dialect = SQLITE
    kind = "an SQLite database"
    foreign_hint = "give a new file path, or the path of an existing history"

    def __init__(self, path: Path, timeout: float) -> None:
        _check_path(path)
        self.path = path
        self.location = str(path)
        self.timeout = timeout
        self.read_only = path.exists() and not os.access(path, os.W_OK)
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        if not self.read_only:
            _create(path)
            self._conn = self._connect(str(path), uri=False)

    def _connect(self, target: str, *, uri: bool) -> sqlite3.Connection:
        with self.translated("open"):
            return sqlite3.connect(
                target, timeout=self.timeout, isolation_level=None, check_same_thread=False,
                uri=uri,
            )  # fmt: skip

    # ----- statements ---------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._conn

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self._db().execute(sql, params).fetchall()

    def row(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        found: tuple[Any, ...] | None = self._db().execute(sql, params).fetchone()
        return found

    def execute(self, sql: str, params: Params = ()) -> None:
        self._db().execute(sql, params)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        marks = ", ".join("?" * len(columns))
        self._db().executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    # ----- transactions -------------------------------------------------------------------

    def _connected(self) -> None:
        self._db()

    def _abandon(self) -> None:
        if self._conn is not None and self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def read(self, doing: str, work: Callable[[], T]) -> T:
        if not self.read_only or self._closed:
            return self._transaction(doing, work, ("BEGIN",), writing=False)
        for _ in range(_READ_ATTEMPTS):
            before = self._stamp()
            immutable = not before[-1]  # no writer has it open: read it as it is on disk
            mode = "ro&immutable=1" if immutable else "ro"
            self._conn = self._connect(f"file:{pathname2url(str(self.path))}?mode={mode}", uri=True)
            try:
                result = self._transaction(doing, work, ("BEGIN",), writing=False)
            finally:
                self._conn.close()
                self._conn = None
            if not immutable or self._stamp() == before:
                return result
        raise HistoryError(
            f"cannot {doing} {self.path}: it kept changing while being read (a writer is busy); "
            "try again"
        )

    def _stamp(self) -> tuple[int, int, int, bool]:
        """What changes when the file does: inode, size, modification time, and the WAL's
        presence (a writer has it open)."""
        info = self.path.stat()
        wal = self.path.with_name(self.path.name + "-wal").exists()
        return info.st_ino, info.st_size, info.st_mtime_ns, wal

    def stamp(self) -> Hashable:
        """The file's and its WAL's identity, size and modification time: a commit by anyone
        appends to the WAL, a checkpoint writes the file."""
        wal = self.path.with_name(self.path.name + "-wal")
        info = wal.stat() if wal.exists() else None
        return self._stamp(), None if info is None else (info.st_size, info.st_mtime_ns)

    def write(self, doing: str, work: Callable[[], T]) -> T:
        if self.read_only:
            raise HistoryError(f"cannot {doing} {self.path}: {self.who_may_only_read()}")
        return self._transaction(doing, work, ("BEGIN IMMEDIATE",), writing=True)

    def who_may_only_read(self) -> str:
        return (
            f"this user ({_user()}) may only read it ({permissions(self.path)}); writing needs "
            "write permission on the file and its directory, as the daily job's user has"
        )

    # ----- the schema ---------------------------------------------------------------------

    def identity(self) -> Identity:
        application_id = self.value("PRAGMA application_id")
        version = self.value("PRAGMA user_version")
        tables = self.rows("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        return Identity(
            fresh=application_id == 0 and version == 0 and not tables,
            ours=application_id == APPLICATION_ID,
            version=version,
            tables=tuple(name for (name,) in tables),
            foreign_mark=f"application id {application_id}",
        )

    def mark(self, version: int) -> None:
        self.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self.execute(f"PRAGMA user_version = {int(version)}")

    def before_create(self) -> None:
        self._db().execute("PRAGMA journal_mode = WAL")

    # ----- upkeep -------------------------------------------------------------------------

    def damage(self) -> str | None:
        """``PRAGMA quick_check``: every page's structure, read once (not the values)."""
        try:
            problems = [text for (text,) in self.rows("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as error:
            return self.describe(error)
        return None if problems == ["ok"] else "; ".join(problems)

    def recovery(self) -> str:
        return (
            f"keep the file as it is (copy it aside): History({str(self.path)!r}).at() and "
            "changes() still read the snapshots whose pages are intact, and the sqlite3 "
            f"shell's `.recover` salvages what it can; record from now on in a new file "
            "(codat-nb snapshot --db NEW_PATH)"
        )

    def describe(self, error: Exception) -> str:
        """What went wrong, from SQLite's result code (``sqlite_errorcode``, Python 3.11+)."""
        code = getattr(error, "sqlite_errorcode", None)
        if code is None and isinstance(error, sqlite3.ProgrammingError):
            return f"{error} (this History was closed)" if "closed" in str(error) else str(error)
        meaning = _MEANINGS.get(code & 0xFF) if code is not None else None
        return f"{meaning} ({error})" if meaning else str(error)

    def is_driver_error(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.Error)
