"""The two places a history can live, as the tests see them: where it is, what it holds (to
show a call changed nothing), and raw SQL behind the history's back (to damage or hand-edit it).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from codat_nb.history import History


class SQLiteStore:
    """A history file."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.target = str(path)

    def open(self, **options: Any) -> History:
        return History(self.target, **options)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.path)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def sql(self, *statements: str) -> None:
        db = sqlite3.connect(self.path)
        try:
            with db:
                for statement in statements:
                    db.execute(statement)
        finally:
            db.close()

    def contents(self) -> str:
        """Everything the file holds, as SQL text, read through a separate connection."""
        db = sqlite3.connect(self.path)
        try:
            return "\n".join(db.iterdump())
        finally:
            db.close()

    def cli(self) -> tuple[str, dict[str, str]]:
        """``--db`` for ``codat-nb snapshot``, and the environment it needs."""
        return self.target, {}


class PostgresStore:
    """A history in a database of its own on the tests' PostgreSQL server."""

    name = "postgresql"

    def __init__(self, url: str, password: str) -> None:
        self.target = url
        self.password = password

    def open(self, **options: Any) -> History:
        return History(self.target, **options)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.target, autocommit=True) as db:
            return db.execute(sql).fetchall()

    def sql(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.target) as db:  # one transaction, committed on leaving
            for statement in statements:
                db.execute(statement)

    def contents(self) -> str:
        """Every row of every table (and the tables' definitions), sorted, as text."""
        tables = self.rows(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        lines = []
        for (table,) in tables:
            columns = self.rows(
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_name = '{table}' ORDER BY ordinal_position"
            )
            lines.append(f"{table} {columns}")
            lines += map(repr, self.rows(f"SELECT * FROM {table} ORDER BY 1, 2"))
        return "\n".join(lines)

    def cli(self) -> tuple[str, dict[str, str]]:
        """The URL without its password (the command refuses one in its arguments, where the
        process list shows it) and the password in PGPASSWORD, as libpq reads it."""
        parts = urlsplit(self.target)
        netloc = parts.netloc.replace(f":{self.password}@", "@")
        return urlunsplit(parts._replace(netloc=netloc)), {"PGPASSWORD": self.password}
