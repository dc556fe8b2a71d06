"""``codat-nb listen --db PATH_OR_URL`` as a real process, on both backends: the URL it prints,
one line per stored event, ``--on-event``, the secret kept out of everything, its exit codes,
and README's walkthrough with the sandbox as written."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import pandas as pd
import pytest
import requests

from codat_nb.cli.listen import EXIT_CODES
from codat_nb.events import CommandHook
from codat_nb.history import History
from codat_nb.history.event_log import from_webhook
from tests.integration.history.test_receiver import SECRET, body, signed
from tests.support import ROOT


class Listening:
    """The command running in the background, its stdout read line by line."""

    def __init__(self, *args: str, env: dict[str, str], port_given: bool = False) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CODAT_")}
        port = [] if port_given else ["--port", "0"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "codat_nb", "listen", *port, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**clean, "PYTHONPATH": str(ROOT), **env},
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self.line(timeout=60)
        assert first.startswith("Listening for Codat webhooks at http://127.0.0.1:"), first
        self.url = first.rsplit(" ", 1)[1]
        self.line()  # where events are stored

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 30) -> str:
        return self.lines.get(timeout=timeout)

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


def made_event(n: int):
    """``body(n)`` as the receiver stores it."""
    return from_webhook(f"msg_{n}", body(n), pd.Timestamp("2026-11-02T10:00:00Z"))


@pytest.fixture
def listen(store):
    """``listen(*flags, secret=SECRET)``: the command on the test's history."""
    started: list[Listening] = []
    db, db_env = store.cli()

    def start(*flags: str, secret: str = SECRET) -> Listening:
        started.append(Listening("--db", db, *flags,
                                 env={**db_env, "CODAT_WEBHOOK_SECRET": secret}))  # fmt: skip
        return started[-1]

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.communicate()


def test_it_prints_its_url_and_a_line_per_stored_event(listen, store):
    running = listen()
    for n in (1, 2):
        assert requests.post(running.url, data=body(n), headers=signed(body(n), f"msg_{n}"),
                             timeout=10).status_code == 200  # fmt: skip
    requests.post(running.url, data=body(1), headers=signed(body(1), "msg_1"), timeout=10)
    requests.post(running.url, data=body(3), headers=signed(body(1), "msg_3"), timeout=10)

    lines = [running.line(), running.line()]
    code, err = running.stop()

    assert code == 0, err
    for n, line in enumerate(lines, start=1):
        assert line.startswith("2026-11-02T10:00:00+00:00 connection.disconnected ")
        assert f'company="Acme" (c1) connection=k{n} status=Deauthorized' in line
    assert running.lines.empty()  # the duplicate and the tampered message printed nothing
    assert "duplicate msg_1" in err and "refused (401)" in err
    assert "stopped: 2 stored, 1 duplicates, 1 refused" in err
    with store.open() as history:
        assert history.events()["connection_id"].tolist() == ["k1", "k2"]
    assert SECRET not in err and SECRET.removeprefix("whsec_") not in err


def test_on_event_runs_a_command_per_stored_event(listen, tmp_path: Path):
    out = tmp_path / "alerts.jsonl"
    secret = "${CODAT_WEBHOOK_SECRET:-none}"
    command = (f'{{ cat; echo; echo "$CODAT_EVENT_TYPE {secret}"; }} >> {out}'
               '; test "$CODAT_CONNECTION_ID" != k2')  # fmt: skip
    running = listen("--on-event", command)
    for n in (1, 2):
        requests.post(running.url, data=body(n), headers=signed(body(n), f"msg_{n}"), timeout=10)
    running.line(), running.line()
    code, err = running.stop()

    assert code == 0
    written = out.read_text().splitlines()
    assert [json.loads(line)["id"] for line in written[::2]] == [
        json.loads(body(n))["id"] for n in (1, 2)]  # fmt: skip
    assert written[1::2] == ["connection.disconnected none"] * 2  # the secret is not passed on
    assert "--on-event exited with status 1 for connection.disconnected" in err


def test_a_command_that_hangs_is_killed_with_everything_it_started(tmp_path: Path):
    """A hung alert (a pipeline, a script waiting on the network) is killed after its time
    with its children: each event must not leave a process behind for good."""
    started = tmp_path / "started.pid"
    reports: list[str] = []
    hook = CommandHook(f"sleep 60 & echo $! > {started}; wait", reports.append, timeout=1.0)
    hook(made_event(1))
    hook.close()

    child = int(started.read_text())
    assert any("was killed after 1 s" in line for line in reports), reports
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the command's child outlived it"


def test_runs_left_at_shutdown_get_a_grace_in_all_then_are_skipped_and_said(tmp_path: Path):
    """A stop must end before a service manager kills it (systemd: 90 s): the runs left share
    ``grace``; the one running is cut at its end and the rest are skipped, and said so."""
    ran = tmp_path / "ran"
    reports: list[str] = []
    hook = CommandHook(f"echo x >> {ran}; sleep 30", reports.append, timeout=60.0)
    for n in range(1, 4):
        hook(made_event(n))
    while not ran.exists():  # the first run is under way (its 60 s must not hold the stop)
        time.sleep(0.01)
    started = time.monotonic()
    hook.close(grace=1.0)

    assert time.monotonic() - started < 10  # not 3 x 30 s
    assert ran.read_text().count("x") == 1
    assert any("was killed at shutdown" in line for line in reports), reports
    assert "--on-event skipped for 2 event(s) at shutdown (stored)" in reports


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed and not yet reaped by init, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("secret", "expected"),
    [("", "set CODAT_WEBHOOK_SECRET"), ("whsec_not-base64!", "not an endpoint signing secret")],
)
def test_a_missing_or_malformed_secret_is_exit_2_and_never_printed(store, secret, expected):
    db, db_env = store.cli()
    ran = subprocess.run(
        [sys.executable, "-m", "codat_nb", "listen", "--db", db, "--port", "0"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, **db_env, "PYTHONPATH": str(ROOT), "CODAT_WEBHOOK_SECRET": secret},
    )  # fmt: skip
    assert ran.returncode == 2 and expected in ran.stderr
    assert not secret or "not-base64" not in ran.stderr + ran.stdout


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(tmp_path, port):
    ran = subprocess.run(
        [sys.executable, "-m", "codat_nb", "listen", "--db", str(tmp_path / "h.sqlite"),
         "--port", port],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CODAT_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert f"--port: must be a port number from 0 to 65535, got '{port}'" in ran.stderr
    assert "Traceback" not in ran.stderr and not (tmp_path / "h.sqlite").exists()


def test_an_unusable_history_is_exit_3(tmp_path):
    ran = subprocess.run(
        [sys.executable, "-m", "codat_nb", "listen", "--db", str(tmp_path / "no" / "h.sqlite")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CODAT_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip
    assert ran.returncode == 3 and "the directory" in ran.stderr and "does not exist" in ran.stderr
    assert set(EXIT_CODES) == {0, 2, 3}


def test_a_history_this_user_may_only_read_is_exit_3_at_once(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).close()
    path.chmod(0o444)
    if os.access(path, os.W_OK):  # root: make it immutable instead
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        ran = subprocess.run(
            [sys.executable, "-m", "codat_nb", "listen", "--db", str(path), "--port", "0"],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT), "CODAT_WEBHOOK_SECRET": SECRET},
        )  # fmt: skip
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    assert ran.returncode == 3 and "may only read it" in ran.stderr, ran.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _readme_terminals() -> list[str]:
    """README's three-terminal walkthrough of the receiver against the sandbox, as written,
    split at its ``# terminal N`` comments."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"\*\*Try it without an account\*\*.*?```bash\n(.*?)```", readme, re.S)
    assert block is not None
    return re.split(r"^# terminal \d: .*\n", block.group(1), flags=re.M)[1:]


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout, line by line, as it comes (``get(timeout=...)`` never hangs)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_readmes_walkthrough_with_the_sandbox_prints_the_event(tmp_path: Path) -> None:
    """README's walkthrough, run as written (free ports for 8765 and 8080, this checkout's
    codat-nb): the sandbox's signed company.created reaches the receiver, which prints it."""
    ports = {"8765": str(_free_port()), "8080": str(_free_port())}

    def as_here(script: str) -> str:
        for written, free in ports.items():
            script = script.replace(f"127.0.0.1:{written}", f"127.0.0.1:{free}")
            script = script.replace(f"--port {written}", f"--port {free}")
        return script.replace("codat-nb ", f"{sys.executable} -m codat_nb ")

    sandbox_script, listen_script, change_script = map(as_here, _readme_terminals())
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CODAT_")}
    env = {**clean, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    started: list[subprocess.Popen[str]] = []
    try:
        for script in (sandbox_script, listen_script):
            started.append(subprocess.Popen(
                ["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            ))  # fmt: skip
            printed = _lines(started[-1])
            ready = printed.get(timeout=60)
            assert ready.startswith(("Codat sandbox serving at", "Listening for Codat")), ready
        received = printed
        assert received.get(timeout=30).startswith("Storing events in events.sqlite.")
        made = subprocess.run(["bash", "-c", change_script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        company = json.loads(made.stdout)["id"]
        line = received.get(timeout=60)
        assert " company.created " in line and f'company="Newcomer Ltd" ({company})' in line
    finally:
        for process in reversed(started):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.communicate(timeout=60)
