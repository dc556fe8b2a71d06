"""``codat-nb snapshot --db PATH`` as a real process: against a sandbox named in the
environment, against the embedded sandbox (no CODAT_* variables), and with every kind of
failure mapped to its documented exit code, nothing recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pandas as pd
import pytest

from codat_nb.cli.snapshot import EXIT_CODES
from codat_nb.history import History
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


def test_the_daily_job_records_and_reports_what_changed(
    history_path, env, demo_sandbox, listing, next_day
):
    first = snapshot("--db", str(history_path), env=env)
    assert first.code == 0, first.err
    assert f"{demo_counts()} (the first snapshot)" in first.out

    portfolio = listing()
    lost = portfolio[portfolio["status"] == "Linked"].head(2)
    for _, row in lost.iterrows():
        demo_sandbox.store.deauthorize(row["company_id"], row["id"])
    next_day()
    second = snapshot("--db", str(history_path), env=env)

    assert second.code == 0, second.err
    assert "since 2026-11-01T09:00:00+00:00: 2 changed status" in second.out
    assert "Changed status (2):" in second.out
    for _, row in lost.iterrows():
        assert row["company_name"] in second.out and row["id"] in second.out
    assert "Linked Deauthorized" in " ".join(second.out.split())
    with History(history_path) as history:
        table = history.snapshots()
    assert table["connections"].tolist() == [len(listing())] * 2
    assert table["source"].tolist() == [demo_sandbox.url] * 2


def test_fail_on_deauthorized_exits_1_only_for_new_losses(
    history_path, env, demo_sandbox, listing, next_day
):
    assert snapshot("--db", str(history_path), env=env).code == 0
    target = listing().query("status == 'Linked'").iloc[0]
    demo_sandbox.store.deauthorize(target["company_id"], target["id"])
    next_day()

    alert = snapshot("--db", str(history_path), "--fail-on-deauthorized", env=env)
    assert alert.code == 1
    assert "1 connection(s) newly Deauthorized" in alert.err
    assert target["id"] in alert.out

    again = snapshot("--db", str(history_path), "--fail-on-deauthorized", env=env)
    assert again.code == 0 and again.out.startswith("already recorded")
    next_day()
    quiet = snapshot("--db", str(history_path), "--fail-on-deauthorized", env=env)
    assert quiet.code == 0, quiet.err
    assert "0 changed status" in quiet.out and "Changed status" not in quiet.out


def test_with_no_credentials_it_records_the_embedded_sandbox(history_path):
    ran = snapshot("--db", str(history_path))

    assert ran.code == 0, ran.err
    assert "embedded local sandbox" in ran.out
    assert f"recorded 2026-11-01T09:00:00+00:00: {demo_counts()}" in ran.out
    with History(history_path) as history:
        assert history.snapshots()["source"].tolist() == ["embedded sandbox"]
        held = int(demo_counts().split(" connections")[0].replace(",", ""))
        assert len(history.at("2026-11-01T09:00:00Z")) == held


def test_a_job_that_lost_its_credentials_cannot_mix_in_the_demo(history_path, env, contents):
    assert snapshot("--db", str(history_path), env=env).code == 0
    before = contents(history_path)

    ran = snapshot("--db", str(history_path))  # the scheduler lost CODAT_*: embedded sandbox

    assert ran.code == 3
    assert "listed from embedded sandbox, but the history's snapshots come from http" in ran.err
    assert "Traceback" not in ran.err
    assert contents(history_path) == before


def test_wrong_credentials_exit_4_and_record_nothing(history_path, demo_sandbox):
    wrong = {"CODAT_API_KEY": "not-the-key", "CODAT_BASE_URL": demo_sandbox.url}

    ran = snapshot("--db", str(history_path), env=wrong)

    assert ran.code == 4
    assert f"cannot list the portfolio from {demo_sandbox.url}" in ran.err
    assert "not-the-key" not in ran.err + ran.out
    with History(history_path) as history:
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
    for code, meaning in EXIT_CODES.items():
        assert f"{code:>3}  {meaning}" in ran.out
    listed = subprocess.run(
        [sys.executable, "-m", "codat_nb", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "snapshot" in listed.stdout


def test_the_report_is_what_changes_returns(history_path, env, demo_sandbox, listing, next_day):
    """Every status change the history holds for the new snapshot is in the printed report."""
    assert snapshot("--db", str(history_path), env=env).code == 0
    portfolio = listing()
    pending = portfolio[portfolio["status"] == "PendingAuth"].head(3)
    for _, row in pending.iterrows():
        demo_sandbox.store.link(row["company_id"], row["id"])
    next_day()

    ran = snapshot("--db", str(history_path), env=env)

    with History(history_path) as history:
        times = history.snapshots()["taken_at"]
        changes = history.changes(since=times.iloc[0], until=times.iloc[1])
    moved = changes[changes["change"] == "status_changed"]
    assert sorted(moved["connection_id"]) == sorted(pending["id"])
    assert f"Changed status ({len(moved)}):" in ran.out
    assert all(connection_id in ran.out for connection_id in moved["connection_id"])
    assert pd.Series(moved["to_status"]).eq("Linked").all()


@pytest.fixture
def in_process(env, monkeypatch, capsys):
    """The command run in this process (so a step can be made to raise Ctrl-C), with the demo
    sandbox's credentials as its only CODAT_* variables."""
    from codat_nb import cli

    for name in [n for n in os.environ if n.startswith("CODAT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> Ran:
        code = cli.main(["snapshot", *args])
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def ctrl_c(*_args, **_kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_before_recording_exits_130_with_nothing_recorded(
    history_path, in_process, monkeypatch
):
    from codat_nb.connections import ConnectionsAPI

    monkeypatch.setattr(ConnectionsAPI, "list_all", ctrl_c)

    ran = in_process("--db", str(history_path), "--fail-on-deauthorized")

    assert ran.code == 130
    assert "interrupted; nothing recorded" in ran.err and "Traceback" not in ran.err
    with History(history_path) as history:
        assert history.snapshots().empty


@pytest.mark.parametrize("alerting, code", [(True, 1), (False, 130)], ids=["alert", "plain"])
def test_ctrl_c_after_recording_says_so_and_still_alerts(
    history_path, in_process, monkeypatch, demo_sandbox, listing, next_day, alerting, code
):
    """Once recorded, the next run compares with this snapshot, so a loss interrupted while
    being reported would never alert: the exit code still says it."""
    assert in_process("--db", str(history_path)).code == 0
    target = listing().query("status == 'Linked'").iloc[0]
    demo_sandbox.store.deauthorize(target["company_id"], target["id"])
    next_day()
    monkeypatch.setattr(History, "changes", ctrl_c)  # Ctrl-C while the report is built

    flags = ["--fail-on-deauthorized"] if alerting else []
    ran = in_process("--db", str(history_path), *flags)

    with History(history_path) as history:
        times = history.snapshots()["taken_at"]
    assert len(times) == 2
    assert ran.code == code
    assert f"interrupted after recording {times.iloc[1].isoformat()}" in ran.err
    assert ("1 connection(s) newly Deauthorized" in ran.err) is alerting
