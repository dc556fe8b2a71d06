"""Readers who may read the history but not write it: an analyst reading the file the daily job
(another user) writes, and a PostgreSQL role granted only SELECT. Everything reads, the same
as for the job; only recording is refused, naming the permission, and nothing changes.

The file reader is a real other user: as root (CI), a child process drops to ``nobody`` in the
job's group (after its imports: the interpreter lives under /root, closed to others); otherwise
the file and its directory are made read-only for the user running the tests.
"""

from __future__ import annotations

import base64
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from codat_nb.history import History, HistoryError
from tests.integration.history.made_events import connection_event, wire
from tests.support import ROOT

READER = r"""
import base64, os, pickle, sqlite3, sys, tempfile
import pandas as pd
from codat_nb import CodatClient
from codat_nb.history import History, HistoryError
from codat_nb.notebook.portfolio_view import PortfolioView


def read(target):
    out = {}
    with History(target) as history:
        out["read_only"], out["repr"] = history.read_only, repr(history)
        snapshots = history.snapshots()
        out["snapshots"] = snapshots
        out["at"] = history.at(snapshots["taken_at"].iloc[-1])
        out["changes"] = history.changes(since=snapshots["taken_at"].iloc[0])
        out["trend"] = history.status_over_time(by="platform_name")
        out["events"] = history.events()
        out["disagreements"] = history.disagreements(since=snapshots["taken_at"].iloc[0])
        auth, url = os.environ["READER_AUTH"], os.environ["READER_URL"]
        view = PortfolioView(CodatClient(auth_header=auth, base_url=url), history=history)
        view.changed_filter.value = "In the latest snapshot"
        out["view"] = list(view.table.ids)
        try:
            history.record(out["at"], at=snapshots["taken_at"].iloc[-1] + pd.Timedelta(days=1))
        except HistoryError as error:
            out["refused"] = str(error)
    return out


target, user = sys.argv[1], sys.argv[2]
if user:  # root: become the analyst, a member of the job's group
    import pwd
    # Once as root on a copy, so every module is imported: /root, where the interpreter
    # lives, is closed to the analyst.
    copy = os.path.join(tempfile.mkdtemp(), "copy.sqlite")
    source = sqlite3.connect(f"file:{target}?mode=ro", uri=True)  # read-only: it never
    source.backup(sqlite3.connect(copy))  # checkpoints the job's file; the -wal's data too
    source.close()
    read(copy)
    entry = pwd.getpwnam(user)
    os.setgroups([entry.pw_gid]); os.setgid(entry.pw_gid); os.setuid(entry.pw_uid)
sys.stdout.write(base64.b64encode(pickle.dumps(read(target))).decode())
"""
ANALYST = "nobody"  # as root: the reader's user, put in the file's group


def read_as_analyst(path: Path, sandbox) -> dict:
    """What READER found, run as a user who may only read ``path``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "READER_AUTH": sandbox.auth_header,
           "READER_URL": sandbox.url}  # fmt: skip
    user = ANALYST if os.geteuid() == 0 else ""
    ran = subprocess.run(
        [sys.executable, "-c", READER, str(path), user],
        capture_output=True, text=True, timeout=120, env=env, cwd="/",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return pickle.loads(base64.b64decode(ran.stdout))


@pytest.fixture
def shared_folder():
    """A directory the job writes and the analyst may only read and enter (0755)."""
    folder = Path(tempfile.mkdtemp(prefix="codat-nb-shared-"))
    folder.chmod(0o755)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(folder)


def make_read_only(path: Path) -> None:
    """The analyst's access: as root, the file's group is the analyst's (mode 0640 as the job
    created it); otherwise the file and directory are read-only for this user."""
    if os.geteuid() == 0:
        gid = int(subprocess.run(["id", "-g", ANALYST], capture_output=True, text=True).stdout)
        for file in path.parent.iterdir():
            os.chown(file, 0, gid)
    else:
        path.chmod(0o444)
        path.parent.chmod(0o555)


@pytest.fixture
def job_history(shared_folder, listing, demo_sandbox, next_day):
    """The job's history file with two snapshots (two connections lost access between them);
    the job's History, still open."""
    path = shared_folder / "history.sqlite"
    history = History(path)
    first = listing()
    history.record(first)
    for _, row in first[first["status"] == "Linked"].head(2).iterrows():
        demo_sandbox.store.deauthorize(row["company_id"], row["id"])
    record_a_lost_connections_event(history, first)
    next_day()
    history.record(listing())
    yield path, history
    history.close()


def expected(history: History) -> dict:
    snapshots = history.snapshots()
    return {
        "snapshots": snapshots,
        "at": history.at(snapshots["taken_at"].iloc[-1]),
        "changes": history.changes(since=snapshots["taken_at"].iloc[0]),
        "trend": history.status_over_time(by="platform_name"),
        "events": history.events(),
        "disagreements": history.disagreements(since=snapshots["taken_at"].iloc[0]),
    }


def record_a_lost_connections_event(history: History, first: pd.DataFrame) -> None:
    """The webhook event of the first Linked connection's loss (events are read like the rest)."""
    row = first[first["status"] == "Linked"].iloc[0]
    company, connection = (row["company_id"], row["company_name"]), wire(row, "Deauthorized")
    at = first.attrs["server_time"] + pd.Timedelta(hours=1)
    history.record_events([connection_event("connection.disconnected", company, connection, at)])


@pytest.mark.parametrize("writer_open", [False, True], ids=["job-finished", "job-running"])
def test_an_analyst_reads_the_jobs_file_and_may_not_write_it(
    job_history, demo_sandbox, file_bytes, writer_open
):
    """Job finished: no -wal file, and the analyst cannot create one (the directory is the
    job's): the file is read as immutable. Job running: its -wal and -shm are read."""
    path, job = job_history
    truth = expected(job)
    if not writer_open:
        job.close()
    make_read_only(path)
    before = file_bytes(path)

    found = read_as_analyst(path, demo_sandbox)

    assert found["read_only"] and found["repr"].endswith(", read-only)")
    for name, frame in truth.items():
        pd.testing.assert_frame_equal(found[name], frame)
    lost = truth["changes"][truth["changes"]["change"] == "status_changed"]
    assert sorted(found["view"]) == sorted(lost["connection_id"]) and len(lost) == 2
    assert "cannot record a snapshot in" in found["refused"]
    assert "may only read it (-rw-r-----" in found["refused"] or os.geteuid() != 0
    assert "writing needs write permission on the file and its directory" in found["refused"]
    assert file_bytes(path) == before
    assert len(job.snapshots() if writer_open else History(path).snapshots()) == 2


def test_a_read_only_reader_sees_what_the_job_records_next(job_history, listing, next_day):
    """An analyst's History stays open (a notebook) while the job records again."""
    path, job = job_history
    job.close()
    reader = History(path)
    reader._db.read_only = True  # the same code path as a user without write permission
    seen = len(reader.snapshots())
    with History(path) as again:
        next_day()
        again.record(listing())

    assert (seen, len(reader.snapshots())) == (2, 3)
    with pytest.raises(HistoryError, match="may only read it"):
        reader.record(listing())
    reader.close()


def test_a_reader_cannot_upgrade_or_create(tmp_path):
    """Read-only, a history that needs writing to be used says who can fix it."""
    path = tmp_path / "empty.sqlite"
    path.touch()
    path.chmod(0o444)
    if os.access(path, os.W_OK):
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        with pytest.raises(HistoryError, match=r"it holds no history yet, and this user .* may "
                           r"only read it.*the daily job .* creates or upgrades it"):  # fmt: skip
            History(path)
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


# ----- PostgreSQL: a role granted SELECT only ----------------------------------------------


@pytest.fixture
def analyst_url(postgres_store, postgres_server):
    """A role that may connect and read the history's tables, and nothing else."""
    import psycopg

    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'analyst'").fetchone()
        if not exists:
            admin.execute("CREATE ROLE analyst LOGIN PASSWORD 'analyst-secret'")
    database = postgres_store.target.rsplit("/", 1)[1]
    return postgres_server.url(database, user="analyst", password="analyst-secret")


def grant_reading(store) -> None:
    """What README's "for teams" tells the administrator to grant readers."""
    store.sql(
        "GRANT USAGE ON SCHEMA public TO analyst",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO analyst",
    )


def test_a_select_only_role_reads_everything_and_may_not_record(
    postgres_store, analyst_url, listing, demo_sandbox, next_day, make_client
):
    from codat_nb.notebook.portfolio_view import PortfolioView

    with postgres_store.open() as job:
        first = listing()
        job.record(first)
        for _, row in first[first["status"] == "Linked"].head(2).iterrows():
            demo_sandbox.store.deauthorize(row["company_id"], row["id"])
        record_a_lost_connections_event(job, first)
        next_day()
        job.record(listing())
        truth = expected(job)
    assert len(truth["events"]) == 1
    grant_reading(postgres_store)
    before = postgres_store.contents()

    with History(analyst_url) as reader:
        for name, frame in expected(reader).items():
            pd.testing.assert_frame_equal(frame, truth[name])
        view = PortfolioView(make_client(demo_sandbox), history=reader)
        view.changed_filter.value = "In the latest snapshot"
        with pytest.raises(HistoryError) as refused:
            reader.record(
                listing(), at=truth["snapshots"]["taken_at"].iloc[-1] + pd.Timedelta("1D")
            )

    lost = truth["changes"][truth["changes"]["change"] == "status_changed"]
    assert sorted(view.table.ids) == sorted(lost["connection_id"])
    message = str(refused.value)
    assert message.startswith("cannot record a snapshot in postgresql://analyst:***@127.0.0.1:")
    assert "the role analyst lacks a privilege this needs (permission denied for table" in message
    assert "recording also INSERT and UPDATE" in message and "analyst-secret" not in message
    assert postgres_store.contents() == before


def test_a_role_without_select_is_told_what_to_grant(postgres_store, analyst_url, listing):
    with postgres_store.open() as job:
        job.record(listing())
    postgres_store.sql("GRANT USAGE ON SCHEMA public TO analyst")

    denied = (
        r"cannot read .*: the role analyst lacks a privilege this needs "
        r"\(permission denied for table .*\); reading needs SELECT"
    )
    with pytest.raises(HistoryError, match=denied):
        History(analyst_url).snapshots()


def readme_permissions() -> tuple[list[str], list[str]]:
    """The SQL README's "For teams" gives: (as an administrator, then in the database)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### For teams: PostgreSQL") :]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)[:2]
    statements = [
        [s.strip() for s in re.sub(r"--[^\n]*", "", block).split(";") if s.strip()]
        for block in blocks
    ]
    return statements[0], statements[1]


def test_the_permissions_readme_gives_teams_work(postgres_server, listing, next_day):
    """The job's role creates and writes the history; an analyst reads it all, may not record."""
    import psycopg

    administrator, in_database = readme_permissions()
    assert any("CREATE DATABASE codat OWNER codat_job" in s for s in administrator)
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        for statement in administrator:
            admin.execute(statement)
        admin.execute("ALTER ROLE codat_job PASSWORD 'job-secret'")
        admin.execute("ALTER ROLE alice PASSWORD 'alice-secret'")
    try:
        with psycopg.connect(postgres_server.url("codat"), autocommit=True) as admin:
            for statement in in_database:
                admin.execute(statement)
        with History(postgres_server.url("codat", "codat_job", "job-secret")) as job:
            job.record(listing())
            next_day()
            job.record(listing())
            truth = expected(job)
        with History(postgres_server.url("codat", "alice", "alice-secret")) as alice:
            for name, frame in expected(alice).items():
                pd.testing.assert_frame_equal(frame, truth[name])
            next_day()
            with pytest.raises(HistoryError, match="the role alice lacks a privilege"):
                alice.record(listing())
            assert len(alice.snapshots()) == 2
    finally:
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS codat WITH (FORCE)")
            for role in ("alice", "analysts", "codat_job"):
                admin.execute(f"DROP ROLE IF EXISTS {role}")
