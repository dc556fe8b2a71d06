"""PostgreSQL's first snapshot fills ``connection``, ``state`` and ``member`` with their indexes
set aside and builds them after (``PostgresDatabase.bulk_load``): the tables end as the schema
made them, readers of the empty history never wait for it, and it never waits for anyone; when
it cannot set them aside (a reader has a table open, or the role does not own the tables) it
fills them as they are."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from codat_nb.history import History

FILLED = ("connection", "state", "member")
# Each index of the three tables: (table, index, its definition, its constraint's, its oid).
_INDEXES = """
SELECT t.relname, i.relname, pg_get_indexdef(i.oid), pg_get_constraintdef(c.oid), i.oid
FROM pg_index AS x JOIN pg_class AS t ON t.oid = x.indrelid
JOIN pg_class AS i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint AS c ON c.conindid = i.oid
WHERE t.relname IN ('connection', 'state', 'member') ORDER BY 1, 2
"""
WAIT_S = 60  # an upper bound for a loaded machine, not a wait


def indexes(store) -> tuple[list[tuple[str, ...]], set[int]]:
    """The three tables' indexes as defined, and their oids (new when one is built again)."""
    found = store.rows(_INDEXES)
    return [row[:4] for row in found], {row[4] for row in found}


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT_S} s for {what}"
        time.sleep(0.05)


def recording(store, portfolio: pd.DataFrame) -> tuple[threading.Thread, list]:
    """``record(portfolio)`` in a thread of its own; its result (or error) lands in the list."""
    outcome: list = []

    def record() -> None:
        try:
            with store.open() as history:
                outcome.append(history.record(portfolio))
        except Exception as error:  # noqa: BLE001 - handed to the test to assert on
            outcome.append(error)

    thread = threading.Thread(target=record, daemon=True)
    thread.start()
    return thread, outcome


def test_the_first_snapshot_builds_the_indexes_the_schema_made(postgres_store, listing):
    import psycopg

    portfolio = listing()
    postgres_store.open().close()  # the schema, empty
    made, made_oids = indexes(postgres_store)

    with postgres_store.open() as history:
        history.record(portfolio)
        stored = history.at(portfolio.attrs["server_time"])
    built, built_oids = indexes(postgres_store)

    assert built == made and len(made) == 4  # the two primary keys, state's, UNIQUE connection
    assert not built_oids & made_oids  # every one was built again, after the rows went in
    assert len(stored) == len(portfolio)
    first = postgres_store.rows("SELECT company, connection_id FROM connection LIMIT 1")[0]
    with pytest.raises(psycopg.errors.UniqueViolation):  # and it holds, as it did before
        postgres_store.sql(f"INSERT INTO connection VALUES (0, {first[0]}, '{first[1]}')")


def test_readers_of_an_empty_history_do_not_wait_for_its_first_snapshot(
    postgres_store, postgres_server, listing
):
    """The writer holds the three tables exclusively until it commits: a reader of the empty
    history sees no snapshot, so it never opens them (a wait would time out: lock_timeout)."""
    import psycopg

    portfolio = listing()
    postgres_store.open().close()
    pid = "SELECT pid FROM pg_stat_activity WHERE application_name = 'codat-nb history'"
    holds_member = (
        f"SELECT count(*) FROM pg_locks WHERE pid IN ({pid}) AND granted AND "
        "relation = 'member'::regclass AND mode = 'AccessExclusiveLock'"
    )
    waits = (
        f"SELECT count(*) FROM pg_stat_activity WHERE pid IN ({pid}) AND wait_event_type = 'Lock'"
    )
    with psycopg.connect(postgres_store.target) as pause:
        pause.execute("LOCK TABLE tally IN SHARE MODE")  # the writer stops at its tally
        writer, outcome = recording(postgres_store, portfolio)
        wait_until(lambda: postgres_store.rows(waits)[0][0] == 1, "the writer to wait")
        assert postgres_store.rows(holds_member) == [(1,)]
        with History(postgres_store.target + "?options=-clock_timeout%3D2000") as reader:
            assert reader.snapshots().empty
            assert reader.changes(since="2020-01-01").empty
            assert reader.status_over_time().empty
            assert reader.disagreements(since="2020-01-01").empty
            with pytest.raises(ValueError, match="the history is empty"):
                reader.at(portfolio.attrs["server_time"])
        pause.rollback()
    writer.join(WAIT_S)

    assert not writer.is_alive() and outcome[0].new and outcome[0].connections == len(portfolio)


def test_the_first_snapshot_does_not_wait_for_a_reader_of_its_tables(postgres_store, listing):
    """Someone's open transaction has read ``member``: the writer fills the tables as they are
    (it cannot take them exclusively without waiting), and the reader is not disturbed."""
    import psycopg

    portfolio = listing()
    postgres_store.open().close()
    made, made_oids = indexes(postgres_store)
    with psycopg.connect(postgres_store.target) as other:
        other.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # as History reads
        assert other.execute("SELECT count(*) FROM member").fetchone() == (0,)
        writer, outcome = recording(postgres_store, portfolio)
        writer.join(WAIT_S)
        assert not writer.is_alive(), "the first snapshot waited for a reader"
        assert other.execute("SELECT count(*) FROM member").fetchone() == (0,)  # one state

    assert outcome[0].new and outcome[0].connections == len(portfolio)
    assert indexes(postgres_store) == (made, made_oids)  # left as they were, never dropped


def test_a_role_that_may_write_but_not_own_the_tables_records_a_first_snapshot(
    postgres_store, postgres_server, listing
):
    """Dropping an index needs the tables' owner; INSERT and UPDATE are all recording needs."""
    import psycopg

    portfolio = listing()
    postgres_store.open().close()
    made = indexes(postgres_store)
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'recorder'").fetchone():
            admin.execute("CREATE ROLE recorder LOGIN PASSWORD 'recorder-secret'")
    postgres_store.sql(
        "GRANT USAGE ON SCHEMA public TO recorder",
        "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO recorder",
    )
    database = postgres_store.target.rsplit("/", 1)[1]

    with History(postgres_server.url(database, "recorder", "recorder-secret")) as job:
        recorded = job.record(portfolio)
        assert len(job.at(portfolio.attrs["server_time"])) == len(portfolio)

    assert recorded.new and recorded.connections == len(portfolio)
    assert indexes(postgres_store) == made
