"""``codat-nb snapshot --db PATH_OR_URL`` as a real process, on both backends: against a
sandbox named in the environment, against the embedded sandbox (no CODAT_* variables), and with
every kind of failure mapped to its documented exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pandas as pd
import pytest

from codat_nb.cli.snapshot import EXIT_CODES
from codat_nb.history import History, HistoryError
from codat_nb.sandbox import Sandbox
from tests.support import ROOT


@dataclass
class Ran:
    code: int
    out: str
    err: str


def snapshot(*args: str, env: dict[str, str] | None = None) -> Ran:
    """The command in a fresh process, with only the CODAT_* variables given in ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CODAT_")}
    result = subprocess.run(
        [sys.executable, "-m", "codat_nb", "snapshot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    return Ran(result.returncode, result.stdout, result.stderr)


def demo_counts() -> str:
    """What the snapshot says of the demo portfolio: its connections, and the companies that
    hold one, counted from a demo sandbox of its own."""
    with Sandbox(seed="demo") as sb:
        held = [len(sb.store.connections_wire(c)) for c in sb.store.company_ids()]
    return f"{sum(held):,} connections of {sum(n > 0 for n in held)} companies"


@pytest.fixture
def env(demo_sandbox):
    """The credentials of the (in-process, loopback) demo sandbox, as a daily job has them."""
    return {"CODAT_AUTH_HEADER": demo_sandbox.auth_header, "CODAT_BASE_URL": demo_sandbox.url}


@pytest.fixture
def job(store, env):
    """``job(*flags, credentials=True)``: the daily job on the test's history (SQLite, then
    PostgreSQL with the password in PGPASSWORD), with the demo sandbox's credentials."""
    db, db_env = store.cli()

    def run(*flags: str, credentials: bool = True) -> Ran:
        return snapshot("--db", db, *flags, env={**db_env, **(env if credentials else {})})

    return run


def test_the_daily_job_records_and_reports_what_changed(
    job, store, demo_sandbox, listing, next_day
):
    first = job()
    assert first.code == 0, first.err
    assert f"{demo_counts()} (the first snapshot)" in first.out

    portfolio = listing()
    lost = portfolio[portfolio["status"] == "Linked"].head(2)
    for _, row in lost.iterrows():
        demo_sandbox.store.deauthorize(row["company_id"], row["id"])
    next_day()
    second = job()

    assert second.code == 0, second.err
    assert "since 2026-11-01T09:00:00+00:00: 2 changed status" in second.out
    assert "Changed status (2):" in second.out
    for _, row in lost.iterrows():
        assert row["company_name"] in second.out and row["id"] in second.out
    assert "Linked Deauthorized" in " ".join(second.out.split())
    with store.open() as history:
        table = history.snapshots()
    assert table["connections"].tolist() == [len(listing())] * 2
    assert table["source"].tolist() == [demo_sandbox.url] * 2


def test_fail_on_deauthorized_exits_1_only_for_new_losses(job, demo_sandbox, listing, next_day):
    assert job().code == 0
    target = listing().query("status == 'Linked'").iloc[0]
    demo_sandbox.store.deauthorize(target["company_id"], target["id"])
    next_day()

    alert = job("--fail-on-deauthorized")
    assert alert.code == 1
    assert "1 connection(s) newly Deauthorized" in alert.err
    assert target["id"] in alert.out

    again = job("--fail-on-deauthorized")
    assert again.code == 0 and again.out.startswith("already recorded")
    next_day()
    quiet = job("--fail-on-deauthorized")
    assert quiet.code == 0, quiet.err
    assert "0 changed status" in quiet.out and "Changed status" not in quiet.out


def test_with_no_credentials_it_records_the_embedded_sandbox(job, store):
    ran = job(credentials=False)

    assert ran.code == 0, ran.err
    assert "embedded local sandbox" in ran.out
    assert f"recorded 2026-11-01T09:00:00+00:00: {demo_counts()}" in ran.out
    with store.open() as history:
        assert history.snapshots()["source"].tolist() == ["embedded sandbox"]
        held = int(demo_counts().split(" connections")[0].replace(",", ""))
        assert len(history.at("2026-11-01T09:00:00Z")) == held


def test_demo_days_builds_a_demo_history_in_one_command(job, store):
    """``--demo-days N`` (README's way to see history change): N+1 daily snapshots of the
    embedded demo, each day's line printed, the same N giving the same history again."""
    ran = job("--demo-days", "3", credentials=False)

    assert ran.code == 0, ran.err
    days = [line for line in ran.out.splitlines() if line.startswith("recorded 2026-11-0")]
    assert [line[len("recorded ") :][:10] for line in days] == [
        "2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04",
    ]  # fmt: skip
    assert "4 daily snapshots of the demo" in ran.out
    assert "changes(since='2026-11-01')" in ran.out
    with store.open() as history:
        assert history.snapshots()["source"].tolist() == ["embedded sandbox"] * 4
        changed = history.changes(since="2026-11-01")
    assert (changed["change"] == "status_changed").sum() > 0  # something to show
    before = store.contents()

    again = job("--demo-days", "3", credentials=False)

    assert again.code == 0, again.err
    assert again.out.count("already recorded") == 4
    assert store.contents() == before


def test_demo_days_refuses_a_real_account_and_bad_numbers(job, store):
    before = store.contents()

    live = job("--demo-days", "2")  # the daily job's credentials are set
    bad = [job("--demo-days", value, credentials=False) for value in ("-1", "two", "400")]

    assert live.code == 2
    assert "--demo-days moves the embedded demo sandbox's clock" in live.err
    assert [ran.code for ran in bad] == [2, 2, 2]
    assert "-1 is not between 0 and 366" in bad[0].err
    assert "'two' is not a whole number of days" in bad[1].err
    assert store.contents() == before


def test_a_job_that_lost_its_credentials_cannot_mix_in_the_demo(job, store):
    assert job().code == 0
    before = store.contents()

    ran = job(credentials=False)  # the scheduler lost CODAT_*: embedded sandbox

    assert ran.code == 3
    assert "listed from embedded sandbox, but the history's snapshots come from http" in ran.err
    assert "Traceback" not in ran.err
    assert store.contents() == before


def test_wrong_credentials_exit_4_and_record_nothing(store, demo_sandbox):
    db, db_env = store.cli()
    wrong = {"CODAT_API_KEY": "not-the-key", "CODAT_BASE_URL": demo_sandbox.url, **db_env}

    ran = snapshot("--db", db, env=wrong)

    assert ran.code == 4
    assert f"cannot list the portfolio from {demo_sandbox.url}" in ran.err
    assert "not-the-key" not in ran.err + ran.out
    with store.open() as history:
        assert history.snapshots().empty


@pytest.mark.parametrize(
    "setup, code, message",
    [
        (lambda path: path.mkdir(), 3, "is a directory"),
        (lambda path: path.write_text("not a database " * 50), 3, "not an SQLite database"),
        (None, 2, "no API key for http://127.0.0.1:9"),
    ],
    ids=["directory", "not-sqlite", "url-without-key"],
)
def test_failures_have_their_exit_code_and_no_traceback(history_path, setup, code, message):
    if setup is not None:
        setup(history_path)
    env = {"CODAT_BASE_URL": "http://127.0.0.1:9"} if setup is None else None

    ran = snapshot("--db", str(history_path), env=env)

    assert ran.code == code
    assert message in ran.err and "Traceback" not in ran.err
    assert ran.err.startswith("codat-nb snapshot: ")


def test_usage_errors_exit_2():
    ran = snapshot()

    assert ran.code == 2
    assert "the following arguments are required: --db" in ran.err


def test_help_documents_every_exit_code():
    ran = snapshot("--help")

    assert ran.code == 0
    flowing = " ".join(ran.out.split())  # each meaning wrapped under its code
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {' '.join(meaning.split())}" in flowing
    epilog = ran.out[ran.out.index("exit codes:") :]
    assert max(len(line) for line in epilog.splitlines()) <= 79
    listed = subprocess.run(
        [sys.executable, "-m", "codat_nb", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "snapshot" in listed.stdout


def test_the_report_is_what_changes_returns(job, store, demo_sandbox, listing, next_day):
    """Every status change the history holds for the new snapshot is in the printed report."""
    assert job().code == 0
    portfolio = listing()
    pending = portfolio[portfolio["status"] == "PendingAuth"].head(3)
    for _, row in pending.iterrows():
        demo_sandbox.store.link(row["company_id"], row["id"])
    next_day()

    ran = job()

    with store.open() as history:
        times = history.snapshots()["taken_at"]
        changes = history.changes(since=times.iloc[0], until=times.iloc[1])
    moved = changes[changes["change"] == "status_changed"]
    assert sorted(moved["connection_id"]) == sorted(pending["id"])
    assert f"Changed status ({len(moved)}):" in ran.out
    assert all(connection_id in ran.out for connection_id in moved["connection_id"])
    assert pd.Series(moved["to_status"]).eq("Linked").all()


@pytest.fixture
def in_process(env, store, monkeypatch, capsys):
    """``in_process(*flags)``: the command run in this process on the test's history (so a
    step can be made to fail), with the demo sandbox's credentials as its only CODAT_*
    variables."""
    from codat_nb import cli

    db, db_env = store.cli()
    for name in [n for n in os.environ if n.startswith("CODAT_")]:
        monkeypatch.delenv(name)
    for name, value in {**env, **db_env}.items():
        monkeypatch.setenv(name, value)

    def run(*flags: str) -> Ran:
        code = cli.main(["snapshot", "--db", db, *flags])
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def ctrl_c(*_args, **_kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_before_recording_exits_130_with_nothing_recorded(store, in_process, monkeypatch):
    from codat_nb.connections import ConnectionsAPI

    monkeypatch.setattr(ConnectionsAPI, "list_all", ctrl_c)

    ran = in_process("--fail-on-deauthorized")

    assert ran.code == 130
    assert "interrupted; nothing recorded" in ran.err and "Traceback" not in ran.err
    with store.open() as history:
        assert history.snapshots().empty


@pytest.mark.parametrize("alerting, code", [(True, 1), (False, 130)], ids=["alert", "plain"])
def test_ctrl_c_after_recording_says_so_and_still_alerts(
    store, in_process, monkeypatch, demo_sandbox, listing, next_day, alerting, code
):
    """Once recorded, the next run compares with this snapshot, so a loss interrupted while
    being reported would never alert: the exit code still says it."""
    assert in_process().code == 0
    target = listing().query("status == 'Linked'").iloc[0]
    demo_sandbox.store.deauthorize(target["company_id"], target["id"])
    next_day()
    monkeypatch.setattr(History, "changes", ctrl_c)  # Ctrl-C while the report is built

    flags = ["--fail-on-deauthorized"] if alerting else []
    ran = in_process(*flags)

    with store.open() as history:
        times = history.snapshots()["taken_at"]
    assert len(times) == 2
    assert ran.code == code
    assert f"interrupted after recording {times.iloc[1].isoformat()}" in ran.err
    assert ("1 connection(s) newly Deauthorized" in ran.err) is alerting


# ----- failures after the snapshot is committed: it is recorded, and the alert is raised -----


@pytest.fixture
def lost_one(in_process, demo_sandbox, listing, next_day):
    """Day one recorded by the job; then a Linked connection lost access, and a day passed."""
    assert in_process().code == 0
    target = listing().query("status == 'Linked'").iloc[0]
    demo_sandbox.store.deauthorize(target["company_id"], target["id"])
    next_day()
    return target


def disk_full(*_args, **_kwargs):
    raise HistoryError("cannot read the history: the disk is full (database or disk is full)")


@pytest.mark.parametrize("alerting, code", [(True, 1), (False, 5)], ids=["alert", "plain"])
def test_a_failure_after_the_commit_reports_recorded_and_keeps_the_alert(
    store, in_process, lost_one, monkeypatch, alerting, code
):
    """The issue's lost alert: an I/O error after the commit (here while the report is
    read) made the job exit 3, "nothing recorded", and the next day compared with this
    snapshot, so the loss was never alerted."""
    monkeypatch.setattr(History, "changes", disk_full)

    ran = in_process(*(["--fail-on-deauthorized"] if alerting else []))

    with store.open() as history:
        times = history.snapshots()["taken_at"]
    assert len(times) == 2
    assert ran.code == code
    assert f"recorded {times.iloc[1].isoformat()}, but then: HistoryError: " in ran.err
    assert "the disk is full" in ran.err and "Traceback" not in ran.err
    assert ("1 connection(s) newly Deauthorized" in ran.err) is alerting


@pytest.fixture
def failing_commit(monkeypatch, store):
    """``failing_commit(stored, lookup_fails=False)``: make this backend's COMMIT report an
    error, after storing or instead of it; with ``lookup_fails`` the history cannot be asked
    afterwards either."""
    from codat_nb.history.backend import CommitFailed
    from codat_nb.history.postgres import PostgresDatabase
    from codat_nb.history.sqlite import SQLiteDatabase

    backend = SQLiteDatabase if store.name == "sqlite" else PostgresDatabase
    original = backend.write

    def fail(stored: bool, lookup_fails: bool = False) -> None:
        def write(db, doing, work):
            done = []

            def undone():  # not stored: the work is done, then rolled back
                done.append(work())
                raise KeyboardInterrupt

            try:
                result = original(db, doing, work if stored else undone)
            except KeyboardInterrupt:
                result = done[0]
            if lookup_fails:
                monkeypatch.setattr(db, "read", disk_full)
            error = HistoryError(f"cannot {doing} {db.location}: the disk is full (SQLITE_FULL)")
            raise CommitFailed(error, result)

        monkeypatch.setattr(backend, "write", write)

    return fail


@pytest.mark.parametrize("alerting, code", [(True, 1), (False, 5)], ids=["alert", "plain"])
def test_a_commit_that_stored_the_snapshot_but_reported_an_error_is_recorded(
    store, in_process, lost_one, failing_commit, alerting, code
):
    """SQLite reports a checkpoint failing after the commit as the COMMIT's error; a
    PostgreSQL connection can drop after the server committed. The history is asked."""
    failing_commit(stored=True)

    ran = in_process(*(["--fail-on-deauthorized"] if alerting else []))

    with store.open() as history:
        assert len(history.snapshots()) == 2
    assert ran.code == code
    assert "but then: the snapshot is recorded, but committing it reported: cannot record" in (
        ran.err
    )
    assert ("1 connection(s) newly Deauthorized" in ran.err) is alerting


def test_a_commit_that_failed_records_nothing_and_exits_3(
    store, in_process, lost_one, failing_commit
):
    failing_commit(stored=False)

    ran = in_process("--fail-on-deauthorized")

    assert ran.code == 3
    assert "cannot record a snapshot in" in ran.err and "the disk is full" in ran.err
    with store.open() as history:
        assert len(history.snapshots()) == 1


@pytest.mark.parametrize("alerting, code", [(True, 1), (False, 3)], ids=["alert", "plain"])
def test_when_it_is_not_known_whether_it_was_recorded_the_alert_is_raised(
    store, in_process, lost_one, failing_commit, alerting, code
):
    """The commit failed and the history cannot be asked: alert anyway (if it was not
    recorded, the next run alerts again: a repeat, never a loss)."""
    failing_commit(stored=True, lookup_fails=True)

    ran = in_process(*(["--fail-on-deauthorized"] if alerting else []))

    assert ran.code == code
    assert "was recorded is not known" in ran.err and "recording it again is safe" in ran.err
    assert ("1 connection(s) newly Deauthorized" in ran.err) is alerting


def test_the_python_api_returns_the_recorded_snapshot_with_a_warning(
    history, listing, failing_commit
):
    failing_commit(stored=True)

    with pytest.warns(RuntimeWarning, match="the snapshot is recorded, but committing it"):
        summary = history.record(listing())

    assert summary.new and "the disk is full" in summary.warning
    assert len(history.snapshots()) == 1


def test_a_full_disk_after_the_commit_still_alerts(tmp_path, unlimited_sandbox, monkeypatch):
    """The issue's own case, SQLite: 10,000 companies of 5 connections, and the job's second
    run under a 2.5 MiB file-size limit (RLIMIT_FSIZE), as a full disk: the snapshot's log
    fits, the writes after it do not. Recorded, and the lost connections alerted."""
    import resource

    sb = unlimited_sandbox
    sb.load_portfolio(10_000, 5)
    env = {"CODAT_AUTH_HEADER": sb.auth_header, "CODAT_BASE_URL": sb.url}
    path = tmp_path / "history.sqlite"
    assert snapshot("--db", str(path), env=env).code == 0
    linked = [
        (company_id, row["id"])
        for company_id in sb.store.company_ids()[:200]
        for row in sb.store.connections_wire(company_id)
        if row["status"] == "Linked"
    ]
    for company_id, connection_id in linked[:8]:
        sb.store.deauthorize(company_id, connection_id)
    sb.clock.set(sb.clock.now() + pd.Timedelta(days=1))
    limit = 5 * 2**19

    full = subprocess.run(
        [sys.executable, "-m", "codat_nb", "snapshot", "--db", str(path),
         "--fail-on-deauthorized"],
        capture_output=True, text=True, timeout=300,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CODAT_")}, **env,
             "PYTHONPATH": str(ROOT)},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )  # fmt: skip

    assert path.stat().st_size > limit  # writes at the end of the file failed
    assert full.returncode == 1, full.stderr
    assert "8 connection(s) newly Deauthorized" in full.stderr
    with History(path) as history:
        assert len(history.snapshots()) == 2
