"""What only a PostgreSQL history has: a URL (whose password is never shown), a server that
can be unreachable, restart or drop the connection, other applications' tables in the same
database, one history per schema, and psycopg as an optional install."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from codat_nb.history import History, HistoryError
from codat_nb.history.postgres import redacted
from codat_nb.history.schema import SCHEMA_VERSION
from tests.support import ROOT


def test_the_password_never_shows(postgres_store, postgres_server):
    history = postgres_store.open()
    shown = [repr(history), history.location]
    history.close()
    with pytest.raises(HistoryError) as closed:
        history.snapshots()
    shown.append(str(closed.value))
    wrong = postgres_store.target.replace(postgres_server.password, "not-the-password")
    with pytest.raises(HistoryError) as refused:
        History(wrong)
    shown.append(str(refused.value))

    assert all(postgres_server.password not in text for text in shown)
    assert "not-the-password" not in str(refused.value)
    assert "codat:***@127.0.0.1" in repr(history)
    assert "the server refused the user name or password" in str(refused.value) or (
        "password authentication failed" in str(refused.value)
    )


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://me:s3cret@db:5432/h", "postgresql://me:***@db:5432/h"),
        ("postgresql://me@db/h?password=s3cret&sslmode=require",
         "postgresql://me@db/h?password=***&sslmode=require"),
        ("postgres://db/h?options=-csearch_path%3Dcodat", "postgres://db/h?options=-csearch_path%3Dcodat"),
    ],
)  # fmt: skip
def test_urls_are_shown_without_passwords(url, shown):
    assert redacted(url) == shown


def test_an_unreachable_server_is_named_quickly(postgres_server):
    url = postgres_server.url().replace(f":{postgres_server.port}/", ":9/")

    with pytest.raises(HistoryError, match=r"cannot connect to postgresql://codat:\*\*\*@127\.0"
                       r"\.0\.1:9/postgres: the connection failed \(.*refused"):  # fmt: skip
        History(url)


def test_a_missing_database_is_named(postgres_server):
    with pytest.raises(HistoryError, match=r"the database does not exist|does not exist"):
        History(postgres_server.url("no_such_database"))


def test_another_applications_database_is_refused_untouched(postgres_store):
    postgres_store.sql("CREATE TABLE orders (id BIGINT PRIMARY KEY, total NUMERIC)")
    before = postgres_store.contents()

    foreign = (
        r"is a PostgreSQL database but not a codat-nb history \(tables: orders\); give an "
        r"empty database, or a schema of its own"
    )
    with pytest.raises(HistoryError, match=foreign):
        History(postgres_store.target)

    assert postgres_store.contents() == before


def test_a_history_from_a_newer_version_is_refused_untouched(postgres_store):
    postgres_store.open().close()
    postgres_store.sql("UPDATE codat_nb_history SET version = 99")
    before = postgres_store.contents()

    with pytest.raises(HistoryError, match=r"written by a newer codat-nb \(history schema version "
                       rf"99; this version reads up to {SCHEMA_VERSION}\)"):  # fmt: skip
        History(postgres_store.target)

    assert postgres_store.contents() == before


def test_one_database_holds_a_history_per_schema(postgres_store, listing):
    """``?options=-csearch_path%3D<schema>``: two portfolios' histories in one database."""
    postgres_store.sql("CREATE SCHEMA team_a", "CREATE SCHEMA team_b")
    portfolio = listing()
    with History(postgres_store.target + "?options=-csearch_path%3Dteam_a") as a:
        a.record(portfolio, source="https://api.codat.io")
    with History(postgres_store.target + "?options=-csearch_path%3Dteam_b") as b:
        b.record(portfolio.head(10), source="embedded sandbox")  # another portfolio: fine here
        assert b.snapshots()["connections"].tolist() == [10]
    with pytest.raises(HistoryError, match="no schema on its search_path exists"):
        History(postgres_store.target + "?options=-csearch_path%3Dteam_c")
    tables = postgres_store.rows(
        "SELECT schemaname, count(*) FROM pg_tables WHERE tablename = 'snapshot' GROUP BY 1"
    )
    assert sorted(tables) == [("team_a", 1), ("team_b", 1)]


def test_a_dropped_connection_is_opened_again(postgres_store, postgres_server, listing, next_day):
    """The server restarted, or a firewall cut an idle connection: the next call reconnects."""
    import psycopg

    with postgres_store.open() as history:
        history.record(listing())
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'codat-nb history'"
            )
        with pytest.raises(HistoryError, match="cannot read"):
            history.snapshots()  # the call that finds the connection dead says so
        next_day()
        assert history.record(listing()).new  # and the next one connects again
        assert len(history.snapshots()) == 2


def test_text_postgresql_cannot_store_is_named_and_nothing_written(postgres_store, listing):
    portfolio = listing()
    with postgres_store.open() as history:
        history.record(portfolio)
        before = postgres_store.contents()
        bad = portfolio.copy()
        bad.loc[bad.index[4], "latest_error"] = "token\x00expired"
        with pytest.raises(HistoryError) as caught:
            history.record(bad, at=portfolio.attrs["server_time"] + pd.Timedelta(days=1))
    assert f"'latest_error' of connection {bad.at[bad.index[4], 'id']}" in str(caught.value)
    assert "NUL character" in str(caught.value)
    assert postgres_store.contents() == before


def test_without_psycopg_the_error_says_what_to_install(postgres_server):
    """SQLite needs nothing installed; a postgresql:// history without the extra says how."""
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from codat_nb.history import History, HistoryError\n"
        "History('sqlite-works.sqlite').close()\n"
        "try:\n    History(sys.argv[1])\nexcept HistoryError as e:\n    print(e)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code, postgres_server.url()],
        capture_output=True, text=True, cwd=postgres_server.folder.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip

    assert (
        ran.stdout.strip()
        == 'a PostgreSQL history needs psycopg 3: pip install "codat-nb[postgres]"'
    )
    (postgres_server.folder.parent / "sqlite-works.sqlite").unlink()


def test_the_command_refuses_a_password_in_its_arguments(postgres_store):
    """The process list would show it: PGPASSWORD or ~/.pgpass instead."""
    from tests.integration.history.test_snapshot_command import snapshot

    ran = snapshot("--db", postgres_store.target)

    assert ran.code == 2
    assert "--db holds a password, which the process list would show" in ran.err
    assert postgres_store.password not in ran.err + ran.out
