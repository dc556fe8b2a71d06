"""What the history needs from a database, so one set of SQL serves SQLite and PostgreSQL.

The history's SQL (``schema``, ``writer``, ``queries``, ``interning``) is written once, in the
subset both databases speak, with SQLite's parameter marks (``?`` and ``:name``). A backend
(``sqlite``, ``postgres``) supplies what differs: connecting, the parameter style, column
types in DDL, bulk inserts (``executemany`` or ``COPY``), the write lock, how the schema
version is kept, what the driver's errors mean, and a damage check. Every statement runs inside
``read`` or ``write``, each one transaction, so a reader sees one state of the history and a
write is all or nothing.
"""

from __future__ import annotations

import abc
import contextlib
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

T = TypeVar("T")
Params = Sequence[Any] | Mapping[str, Any]

#: The application a history belongs to: SQLite's ``PRAGMA application_id`` ("CNBH" in
#: ASCII), and PostgreSQL's advisory-lock class.
APPLICATION_ID = 0x434E4248


class HistoryError(Exception):
    """The history cannot be used as asked (missing, foreign, newer, corrupt, locked, denied)."""


class CommitFailed(Exception):
    """The database reported an error on COMMIT: the write may or may not have been stored
    (SQLite reports a checkpoint failing after the commit; a PostgreSQL connection can drop
    after the server committed). ``error`` is the HistoryError to raise if it was not."""

    def __init__(self, error: HistoryError, result: Any) -> None:
        super().__init__(str(error))
        self.error = error
        self.result = result


class UnstorableText(ValueError):
    """Text the database cannot store (PostgreSQL: a NUL character); raised by ``insert``."""


@dataclass(frozen=True)
class Identity:
    """Whose database this is: ``fresh`` (empty: it may become a history), ``ours`` (a
    codat-nb history) at schema ``version``, the tables it holds, and how to name another
    application's mark in a message."""

    fresh: bool
    ours: bool
    version: int
    tables: tuple[str, ...]
    foreign_mark: str = ""


@dataclass(frozen=True)
class Dialect:
    """How DDL is spelled. ``{key}``, ``{int}``, ``{text}`` and ``{without_rowid}`` in the
    schema become these; ``foreign_keys=False`` drops ``REFERENCES`` clauses."""

    key: str
    int: str
    text: str
    without_rowid: str
    foreign_keys: bool

    def ddl(self, statement: str) -> str:
        spelled = statement.format(
            key=self.key, int=self.int, text=self.text, without_rowid=self.without_rowid
        )
        return spelled if self.foreign_keys else re.sub(r"\s+REFERENCES \w+ \(\w+\)", "", spelled)


_BATCH = 500  # values per IN (...) list
_MARKS = re.compile(r"'(?:[^']|'')*'|\?|:(\w+)|%")


@lru_cache(maxsize=512)
def pyformat(sql: str) -> str:
    """SQLite's ``?`` and ``:name`` marks as psycopg's ``%s`` and ``%(name)s`` (a literal ``%``
    doubled; quoted text left alone)."""

    def mark(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("'"):
            return token
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return f"%({match.group(1)})s"

    return _MARKS.sub(mark, sql)


class Database(abc.ABC):
    """One connection to a history's database, used by one caller at a time.

    ``location`` names it in messages (a path, or a URL without its password)."""

    location: str
    dialect: Dialect
    read_only: bool = False
    _conn: Any = None  # the driver's connection (None: none open)
    _closed = False
    stores_nul: bool = True  # whether text may hold a NUL character
    kind: str  # "an SQLite database", for messages
    foreign_hint: str  # what to give instead of another application's database

    # ----- statements (only inside read() or write()) ---------------------------------------

    @abc.abstractmethod
    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Every row ``sql`` selects."""

    @abc.abstractmethod
    def row(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        """The first row ``sql`` selects, or None."""

    def value(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None when there is none)."""
        found = self.row(sql, params)
        return None if found is None else found[0]

    @abc.abstractmethod
    def execute(self, sql: str, params: Params = ()) -> None:
        """Run one statement that returns no rows."""

    @abc.abstractmethod
    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Add rows to ``table`` as fast as the database allows."""

    def matching(
        self, table: str, key: str, values: Sequence[Any], columns: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """``(key, *columns)`` of ``table``'s rows whose ``key`` is one of ``values`` (in
        batches well under any limit on parameters)."""
        names = ", ".join((key, *columns))
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(values), _BATCH):
            batch = values[start : start + _BATCH]
            marks = ", ".join("?" * len(batch))
            found += self.rows(f"SELECT {names} FROM {table} WHERE {key} IN ({marks})", batch)
        return found

    @contextlib.contextmanager
    def bulk_load(self, tables: Sequence[str]) -> Iterator[None]:
        """Rows go into ``tables`` in bulk inside this block (``insert``): a backend may set
        the indexes of those still empty aside and build them once the rows are in, which costs
        less than adding 100,000 entries one by one (PostgreSQL). Nothing to do here."""
        yield

    # ----- transactions -------------------------------------------------------------------

    def _transaction(
        self, doing: str, work: Callable[[], T], begin: Sequence[str], *, writing: bool
    ) -> T:
        """``work()`` after the ``begin`` statements, then COMMIT (a write) or ROLLBACK (a
        read: nothing to commit, and it also ends the error state SQLite keeps after reading a
        damaged page); rolled back on any error. An error on COMMIT raises CommitFailed."""
        with self.translated(doing):
            self._connected()
        try:
            with self.translated(doing):
                for statement in begin:  # the write lock's wait can fail: rolled back too
                    self.execute(statement)
                result = work()
        except BaseException:
            self._abandon()
            raise
        if not writing:
            with self.translated(doing):
                self.execute("ROLLBACK")
            return result
        try:
            self.execute("COMMIT")
        except Exception as error:
            if not self.is_driver_error(error):
                raise
            self._abandon()
            failed = HistoryError(f"cannot {doing} {self.location}: {self.describe(error)}")
            raise CommitFailed(failed, result) from error
        return result

    @abc.abstractmethod
    def _connected(self) -> None:
        """Make sure there is a connection to run a transaction on (or raise)."""

    @abc.abstractmethod
    def _abandon(self) -> None:
        """Roll back whatever transaction is open, if the connection still can."""

    @abc.abstractmethod
    def read(self, doing: str, work: Callable[[], T]) -> T:
        """``work()`` in one read transaction (one consistent state; never waits for a
        writer); driver errors become a HistoryError saying what was being done."""

    @abc.abstractmethod
    def write(self, doing: str, work: Callable[[], T]) -> T:
        """``work()`` in one write transaction holding the history's write lock (waiting up to
        the timeout for another writer): all of it or, on any error, none of it. An error on
        COMMIT itself raises CommitFailed."""

    # ----- the schema ---------------------------------------------------------------------

    @abc.abstractmethod
    def identity(self) -> Identity:
        """Whose database this is (inside a transaction)."""

    @abc.abstractmethod
    def mark(self, version: int) -> None:
        """Mark the database as a codat-nb history at ``version`` (inside ``write``)."""

    @abc.abstractmethod
    def before_create(self) -> None:
        """Settings a new history needs outside any transaction (SQLite's WAL mode)."""

    # ----- upkeep -------------------------------------------------------------------------

    @abc.abstractmethod
    def damage(self) -> str | None:
        """What is damaged in the stored pages, or None (inside a transaction)."""

    @abc.abstractmethod
    def stamp(self) -> Hashable:
        """What changes whenever anyone writes to the history (None: not known), so a damage
        check need not be repeated before a write when nothing was written since."""

    @abc.abstractmethod
    def recovery(self) -> str:
        """What to do with a damaged history (for the message that refuses to write to it)."""

    @abc.abstractmethod
    def who_may_only_read(self) -> str:
        """Why this user may read but not write, naming the permission writing needs."""

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @abc.abstractmethod
    def describe(self, error: Exception) -> str:
        """What a driver error means for someone holding this history."""

    @abc.abstractmethod
    def is_driver_error(self, error: BaseException) -> bool:
        """Whether ``error`` comes from the database driver (and gets translated)."""

    @contextlib.contextmanager
    def translated(self, doing: str) -> Iterator[None]:
        """Driver errors as a HistoryError naming the history and what was being done."""
        try:
            yield
        except Exception as error:
            if not self.is_driver_error(error):
                raise
            raise HistoryError(f"cannot {doing} {self.location}: {self.describe(error)}") from error
