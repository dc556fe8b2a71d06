"""The history in a PostgreSQL database: for a team, one daily job and many readers.

Needs psycopg 3 (``pip install "codat-nb[postgres]"``); nothing imports it until a
``postgresql://`` history is opened. The history lives in the connection's current schema
(``public`` unless the URL says ``?options=-csearch_path%3D<schema>``), so one database can hold
several histories, one per schema.

Writers serialise on a transaction-scoped advisory lock keyed by the schema, waiting up to
``timeout`` seconds (``lock_timeout``), whichever machine they run on; the lock goes with the
transaction, so a writer that dies holds nothing. Readers use one ``REPEATABLE READ READ ONLY``
transaction per call: one state of the history, never waiting for a writer. Rows go in with
``COPY``. A role granted only ``SELECT`` reads everything and is refused writing, naming the
privilege it lacks. A dropped connection is opened again on the next call.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from codat_nb.history.backend import (
    APPLICATION_ID,
    Database,
    Dialect,
    HistoryError,
    Identity,
    Params,
    UnstorableText,
    pyformat,
)

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
SCHEMES = ("postgresql://", "postgres://")
MARK_TABLE = "codat_nb_history"
CONNECT_TIMEOUT = 10  # seconds, unless the URL says connect_timeout=
POSTGRES = Dialect(
    key="BIGINT PRIMARY KEY",
    int="BIGINT",
    text='TEXT COLLATE "C"',  # sorted byte by byte, as SQLite sorts
    without_rowid="",
    foreign_keys=False,
)
_DENIED = (
    "the role {user} lacks a privilege this needs ({error}); reading needs SELECT on the "
    "history's tables (and USAGE on its schema), recording also INSERT and UPDATE"
)
#: What PostgreSQL's SQLSTATE codes mean for someone holding a history.
_MEANINGS = {
    "42501": _DENIED,
    "55P03": "another process is writing to it (the write lock stayed busy for the whole timeout)",
    "53100": "the server's disk is full ({error})",
    "53200": "the server is out of memory ({error})",
    "XX001": "it is corrupt ({error})",
    "XX002": "it is corrupt ({error})",
    "3D000": "the database does not exist ({error})",
    "28P01": "the server refused the user name or password ({error})",
    "28000": "the server refused this user ({error})",
    "25006": "the server only allows reading here ({error})",
}


#: The indexes of the tables named (``?``) in the current schema: table, index, the constraint
#: it belongs to (None: a plain index) and how to build it again (the constraint's definition,
#: or the index's ``CREATE INDEX``).
_INDEXES = """
SELECT t.relname, i.relname, c.conname,
       coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(i.oid))
FROM pg_index AS x
JOIN pg_class AS t ON t.oid = x.indrelid
JOIN pg_class AS i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint AS c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
WHERE t.relname = ANY(?)
  AND t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
"""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _drop_and_build(
    table: str, index: str, constraint: str | None, definition: str
) -> tuple[str, str]:
    """The statements that drop one of ``_INDEXES`` and build it again as it was."""
    if constraint is None:
        return f"DROP INDEX {_quoted(index)}", definition
    named = f"ALTER TABLE {_quoted(table)} {{}} CONSTRAINT {_quoted(constraint)}"
    return named.format("DROP"), f"{named.format('ADD')} {definition}"


def is_url(target: str) -> bool:
    return target.startswith(SCHEMES)


def redacted(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            netloc = f"{user.partition(':')[0]}:***@{host}"
    query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise HistoryError(
            'a PostgreSQL history needs psycopg 3: pip install "codat-nb[postgres]"'
        ) from None
    return psycopg


class PostgresDatabase(Database):
    """A history in a PostgreSQL database (the URL's current schema)."""

    dialect = POSTGRES
    stores_nul = False
    kind = "a PostgreSQL database"
    foreign_hint = (
        "give an empty database, or a schema of its own "
        "(add ?options=-csearch_path%3D<schema> to the URL)"
    )

    def __init__(self, url: str, timeout: float) -> None:
        self.psycopg = _driver()
        self.url = url
        self.location = redacted(url)
        self.timeout = timeout
        self._closed = False
        self._conn: psycopg.Connection[Any] | None = None
        self._connect()
        self.read_only = False

    def _connect(self) -> None:
        options: dict[str, Any] = {"autocommit": True, "application_name": "codat-nb history"}
        with self.translated("connect to"):
            given = self.psycopg.conninfo.conninfo_to_dict(self.url)
            if "connect_timeout" not in given:
                options["connect_timeout"] = CONNECT_TIMEOUT
            self._conn = self.psycopg.connect(self.url, **options)

    def _db(self) -> psycopg.Connection[Any]:
        if self._closed or self._conn is None:
            raise self.psycopg.InterfaceError("the connection is closed (this History was closed)")
        return self._conn

    def _ready(self) -> psycopg.Connection[Any]:
        """The connection, opened again if it dropped (only between transactions: a statement
        of a transaction never runs on another connection)."""
        db = self._db()
        if db.closed or db.broken:  # the server restarted, or the network failed
            db.close()
            self._connect()
        return self._db()

    # ----- statements ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _storable(self) -> Iterator[None]:
        """psycopg's refusal of a NUL character in text as UnstorableText (the caller names
        the value); other errors as they are."""
        try:
            yield
        except self.psycopg.DataError as error:
            if "NUL" in str(error):
                raise UnstorableText(str(error)) from error
            raise

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._storable():
            return self._db().execute(pyformat(sql), params).fetchall()

    def row(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        with self._storable():
            found: tuple[Any, ...] | None = self._db().execute(pyformat(sql), params).fetchone()
        return found

    def execute(self, sql: str, params: Params = ()) -> None:
        with self._storable():
            self._db().execute(pyformat(sql), params)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self._storable(), self._db().cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def matching(
        self, table: str, key: str, values: Sequence[Any], columns: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """One query with an array parameter, however many values (one round trip); none for
        no values, so a reader of an empty history never opens a table a first snapshot may
        be filling (``bulk_load``). Integer keys go as one array literal: psycopg adapts a
        list value by value (80 ms for the 62,000 connections a month of changes names)."""
        if not values:
            return []
        names = ", ".join((key, *columns))
        if all(type(value) is int for value in values):
            literal = "{" + ",".join(map(str, values)) + "}"
            found = f"SELECT {names} FROM {table} WHERE {key} = ANY(CAST(? AS BIGINT[]))"
            return self.rows(found, (literal,))
        return self.rows(f"SELECT {names} FROM {table} WHERE {key} = ANY(?)", (list(values),))

    @contextlib.contextmanager
    def bulk_load(self, tables: Sequence[str]) -> Iterator[None]:
        """The indexes of ``tables`` dropped before the rows go in and built again after,
        with the same names and definitions, when all of them are empty (the first snapshot):
        building an index sorts once, where ``COPY`` into an indexed table adds every row to
        every index one by one (0.2 s of the server's 0.5 s for 100,000 connections)."""
        rebuild = self._set_indexes_aside(tables) if tables else []
        yield
        for statement in rebuild:  # raw: a definition's "::" casts are not parameter marks
            self._db().execute(statement)

    def _set_indexes_aside(self, tables: Sequence[str]) -> list[str]:
        """Drop the indexes of ``tables`` if all are empty and this role may; the statements
        that build them again. Left as they are (none returned) if another transaction has
        one of the tables open (``NOWAIT``: the writer never waits for a reader; the lock
        that dropping takes is held to the commit) or anything else fails."""
        db = self._db()
        db.execute("SAVEPOINT bulk_load")
        rebuild: list[str] = []
        try:
            db.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE NOWAIT")
            empty = " AND ".join(f"NOT EXISTS (SELECT FROM {table})" for table in tables)
            if self.value(f"SELECT {empty}"):
                for found in self.rows(_INDEXES, (list(tables),)):
                    drop, build = _drop_and_build(*found)
                    db.execute(drop)
                    rebuild.append(build)
        except self.psycopg.Error:  # e.g. not the tables' owner: they are filled as they are
            rebuild = []
        if not rebuild:  # also releases the lock
            db.execute("ROLLBACK TO SAVEPOINT bulk_load")
        db.execute("RELEASE SAVEPOINT bulk_load")
        return rebuild

    # ----- transactions -------------------------------------------------------------------

    def _connected(self) -> None:
        self._ready()

    def _abandon(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            try:
                conn.execute("ROLLBACK")
            except self.psycopg.Error:
                conn.close()  # the next call connects again

    def read(self, doing: str, work: Callable[[], T]) -> T:
        begin = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",)
        return self._transaction(doing, work, begin, writing=False)

    def write(self, doing: str, work: Callable[[], T]) -> T:
        wait = f"{max(1, math.ceil(self.timeout * 1000))}ms"  # 0 would mean "for ever"
        begin = (
            "BEGIN",
            f"SET LOCAL lock_timeout = '{wait}'",
            f"SELECT pg_advisory_xact_lock({APPLICATION_ID}, hashtext(current_schema()))",
            "SET LOCAL lock_timeout = 0",  # the lock is ours: statements may take their time
        )
        return self._transaction(doing, work, begin, writing=True)

    def who_may_only_read(self) -> str:
        return _DENIED.format(user=self._user(), error="it may only read")

    def _user(self) -> str:
        return str(self._conn.info.user) if self._conn is not None else "?"

    # ----- the schema ---------------------------------------------------------------------

    def identity(self) -> Identity:
        schema = self.value("SELECT current_schema()")
        if schema is None:
            raise HistoryError(
                f"cannot open {self.location}: no schema on its search_path exists; create it "
                "(CREATE SCHEMA ...) or name an existing one"
            )
        tables = self.rows(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
            "ORDER BY tablename"
        )
        names = tuple(name for (name,) in tables)
        if MARK_TABLE not in names:
            return Identity(fresh=not names, ours=False, version=0, tables=names)
        found = self.row(f"SELECT application_id, version FROM {MARK_TABLE}")
        application_id, version = found if found is not None else (0, 0)
        return Identity(
            fresh=False,
            ours=application_id == APPLICATION_ID,
            version=int(version),
            tables=names,
            foreign_mark=f"application id {application_id}",
        )

    def mark(self, version: int) -> None:
        self.execute(
            f"CREATE TABLE IF NOT EXISTS {MARK_TABLE} "
            "(application_id BIGINT NOT NULL, version BIGINT NOT NULL)"
        )
        self.execute(f"DELETE FROM {MARK_TABLE}")
        self.execute(f"INSERT INTO {MARK_TABLE} VALUES (?, ?)", (APPLICATION_ID, version))

    def before_create(self) -> None:
        """Nothing: a new database needs no setting outside a transaction."""

    # ----- upkeep -------------------------------------------------------------------------

    def damage(self) -> str | None:
        """None: PostgreSQL checks its own pages as it reads them (with data checksums on,
        ``initdb --data-checksums``); ``amcheck`` is the administrator's deeper check."""
        return None

    def stamp(self) -> Hashable:
        return None  # nothing to check again (``damage``)

    def recovery(self) -> str:
        return "restore the database from its last backup (pg_dump or the server's backups)"

    def describe(self, error: Exception) -> str:
        code = getattr(error, "sqlstate", None)
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if code in _MEANINGS:
            return _MEANINGS[code].format(user=self._user(), error=message)
        if code is None and isinstance(error, self.psycopg.OperationalError):
            return f"the connection failed ({message})"
        return message

    def is_driver_error(self, error: BaseException) -> bool:
        return isinstance(error, self.psycopg.Error)
