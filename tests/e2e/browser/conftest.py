"""JupyterLab, the standalone console and headless Chromium for the end-to-end widget tests,
always torn down.

Chromium comes from Debian (``playwright install`` cannot download browsers here). When it or
playwright is not installed the tests skip, except under ``CODAT_NB_REQUIRE_BROWSER=1`` (set by
``.ci/run``), where any skip fails: it would hide that CI never looked at the widget in a browser.

The machine may be slow and busy (CI, or a full test run alongside): every wait is for a
readiness signal, bounded by a generous deadline, and nothing depends on a port staying free.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from codat_nb.sandbox import Sandbox

REQUIRE_BROWSER_ENV = "CODAT_NB_REQUIRE_BROWSER"
REPO = Path(__file__).resolve().parents[3]
NOTEBOOK = REPO / "notebooks" / "03_manage_connections.ipynb"
ARTIFACTS = REPO / "artifacts" / "browser"  # git-ignored (/artifacts/)
TOKEN = "codat-nb-browser-test"  # fixed on purpose: the server listens on loopback only
STARTUP_TIMEOUT_S = 180  # an upper bound, not a wait: a loaded machine may need minutes
SHUTDOWN_TIMEOUT_S = 15
PORT_ATTEMPTS = 3
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# User settings that keep JupyterLab off the network and free of toasts over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it listens and the notebook it serves."""

    url: str
    notebook: str
    log: Path

    def notebook_url(self) -> str:
        return f"{self.url}/lab/tree/{self.notebook}?token={TOKEN}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def sessions(self) -> list[dict]:
        """The server's sessions: which notebook has which kernel, and what that kernel does."""
        reply = requests.get(f"{self.url}/api/sessions", params={"token": TOKEN}, timeout=30)
        reply.raise_for_status()
        return reply.json()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Child processes, recursively (kernels run in their own session, so killpg misses them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _write_settings(settings_dir: Path) -> None:
    for name, values in LAB_SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_until_ready(proc: subprocess.Popen, lab: Lab) -> bool:
    """Until ``/api/status`` answers (True), or JupyterLab exits because its port was taken
    (False: someone else bound the free port first, so try another)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if "already in use" in lab.log_tail():
                return False
            pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{lab.log_tail()}")
        with suppress(requests.RequestException):
            status = requests.get(f"{lab.url}/api/status", params={"token": TOKEN}, timeout=10)
            if status.status_code == 200:
                return True
        time.sleep(0.25)
    pytest.fail(
        f"JupyterLab did not answer {lab.url}/api/status within {STARTUP_TIMEOUT_S} s:\n"
        f"{lab.log_tail()}"
    )


def _stop(proc: subprocess.Popen, lab: Lab) -> None:
    """Ask politely (kernels shut down cleanly), then kill whatever is left."""
    tree = _descendants(proc.pid)
    with suppress(requests.RequestException):
        requests.post(f"{lab.url}/api/shutdown", params={"token": TOKEN}, timeout=5)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in tree:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=SHUTDOWN_TIMEOUT_S)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    """Under ``CODAT_NB_REQUIRE_BROWSER=1`` a skip is a failure, whatever raised it. A failed
    test's report gets the page's screenshot, the kernel's state and JupyterLab's log: a
    timeout alone does not say what the page was showing."""
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and os.environ.get(REQUIRE_BROWSER_ENV) == "1"
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"{reason}, but {REQUIRE_BROWSER_ENV}=1 requires the browser test to run"
    notebook = getattr(item, "funcargs", {}).get("notebook")
    if report.when == "call" and report.failed and notebook is not None:
        report.sections.append(("browser evidence", notebook.evidence(item.name)))
    return report


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Where screenshots go, for a person to look at (printed by the tests)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("no `chromium` on the PATH (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def demo_sandbox() -> Iterator[Sandbox]:
    """The demo portfolio, shared by the module's tests (the notebook's kernel talks to it)."""
    with Sandbox(seed="demo") as sb:
        yield sb


def _lab_command(port: int, root: Path, home: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # a taken port must show, not move the server elsewhere
        "--ServerApp.allow_root=True",  # CI containers run as root; harmless otherwise
        "--ServerApp.terminals_enabled=False",
        # Unix sockets, not TCP ports picked free and bound later: a kernel whose port was
        # taken meanwhile dies, restarts, and JupyterLab's "Kernel Restarting" dialog then
        # swallows every click.
        "--KernelManager.transport=ipc",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]


@pytest.fixture(scope="module")
def lab(demo_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 serving a copy of notebook 03, its kernel pointed at the sandbox."""
    if not NOTEBOOK.exists():
        pytest.fail(f"{NOTEBOOK} is missing")
    tmp = tmp_path_factory.mktemp("lab")
    root, home = tmp / "root", tmp / "home"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    _write_settings(home / "settings")
    # The kernels' sockets live in the runtime dir: keep its path well under the 107-byte limit.
    runtime = tempfile.TemporaryDirectory(prefix="codat-nb-lab-")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("CODAT_", "JUPYTER"))
    }
    env.update(
        CODAT_API_KEY=demo_sandbox.api_key,
        CODAT_BASE_URL=demo_sandbox.url,
        JUPYTER_CONFIG_DIR=str(home / "config"),  # no user config or lab extensions settings
        JUPYTER_RUNTIME_DIR=runtime.name,
        IPYTHONDIR=str(home / "ipython"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    with runtime:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = _free_port()  # free now; another process may bind it before JupyterLab does
            lab = Lab(f"http://127.0.0.1:{port}", NOTEBOOK.name, tmp / f"jupyter-{attempt}.log")
            with lab.log.open("wb") as log:
                proc = subprocess.Popen(
                    _lab_command(port, root, home),
                    cwd=root,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, so teardown can kill it whole
                )
            try:
                if _wait_until_ready(proc, lab):
                    yield lab
                    return
            finally:
                _stop(proc, lab)
        pytest.fail(f"JupyterLab found its port taken {PORT_ATTEMPTS} times:\n{lab.log_tail()}")


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright."""
    # Skip only when it is not installed: a broken install (or one being reinstalled) must fail.
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed; pip install -e '.[dev]'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS, timeout=120_000
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class ConsolePage:
    """A running ``codat-nb console``: the URL it printed (token included) and its output."""

    url: str
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def serve_console(sb: Sandbox | None, tmp: Path) -> Iterator[ConsolePage]:
    """``codat-nb console --port 0`` as a user runs it, with ``sb``'s credentials in the
    environment (None: no credentials, so the console's own demo sandbox); stopped with
    Ctrl-C, then whatever is left (kernels) killed. It prints its URL once its first kernel
    is heated, so a visit then is a returning user's, not the console's first seconds."""
    log = tmp / "console.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODAT_")}
    if sb is not None:
        env.update(CODAT_API_KEY=sb.api_key, CODAT_BASE_URL=sb.url)
    env.update(
        PYTHONUNBUFFERED="1",
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "codat_nb", "console", "--port", "0"],
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    console = ConsolePage("", log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            found = re.search(r"Support console at (http://127\.0\.0\.1:\d+/\S+)", log.read_text())
            if found:
                console = ConsolePage(found.group(1), log)
                break
            if proc.poll() is not None:
                pytest.fail(
                    f"codat-nb console exited with {proc.returncode}:\n{console.log_tail()}"
                )
            time.sleep(0.25)
        else:
            pytest.fail(
                f"codat-nb console printed no URL in {STARTUP_TIMEOUT_S} s:\n{console.log_tail()}"
            )
        yield console
    finally:
        tree = _descendants(proc.pid)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in tree:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)


@pytest.fixture(scope="module")
def console_server(
    demo_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsolePage]:
    """The standalone console on the demo portfolio (the module's sandbox)."""
    with serve_console(demo_sandbox, tmp_path_factory.mktemp("console")) as console:
        yield console


@pytest.fixture(scope="module")
def demo_console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePage]:
    """The console with no credentials: its own embedded demo sandbox."""
    with serve_console(None, tmp_path_factory.mktemp("console-demo")) as console:
        yield console


@pytest.fixture(scope="module")
def big_console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePage]:
    """The console on a portfolio of 10,000 connections (2,000 companies of 5: Linked,
    Deauthorized, PendingAuth), for the first-screen measurement."""
    keys = ("gbol", "qhyg", "suuo", "fztf", "exgd", "akxx", "upvr")
    with Sandbox(seed=None) as sb:
        for c in range(2_000):
            company = sb.store.create_company(f"Company {c:04d}")["id"]
            for i in range(5):
                connection = sb.store.create_connection(company, keys[(c + i) % len(keys)])["id"]
                if i < 3:
                    sb.store.link(company, connection)
                if i == 2:
                    sb.store.deauthorize(company, connection)
        with serve_console(sb, tmp_path_factory.mktemp("console-10k")) as console:
            yield console
