"""``codat-nb console`` refuses, in one line and exit code 2, what would make a broken page:
a busy port, credentials Codat refuses, a Codat it cannot reach. (Serving the page itself is
tested in a browser: tests/e2e/browser/test_console_browser.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from codat_nb.cli import build_parser
from codat_nb.sandbox import Sandbox


def console(*flags: str, **env: str) -> subprocess.CompletedProcess:
    """The command as a user runs it, with no Codat credentials but those in ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CODAT_")}
    return subprocess.run(
        [sys.executable, "-m", "codat_nb", "console", *flags],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_a_busy_port_is_named_with_what_to_do():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = console("--port", str(port))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"codat-nb console: port {port} on 127.0.0.1 is in use (another console?); "
        "pass --port with another number, or --port 0 for a free one"
    )


def test_credentials_codat_refuses_are_one_line_without_the_key(sandbox: Sandbox):
    done = console("--port", "0", CODAT_API_KEY="not-the-key", CODAT_BASE_URL=sandbox.url)
    assert done.returncode == 2
    assert done.stderr.startswith(f"codat-nb console: {sandbox.url} refused the credentials (401")
    assert "correlationId" in done.stderr and "CODAT_API_KEY" in done.stderr
    assert "not-the-key" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1  # no traceback


def test_an_unreachable_codat_is_one_line():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening
        done = console("--port", "0", CODAT_API_KEY="key", CODAT_BASE_URL=url)
    assert done.returncode == 2
    assert done.stderr.startswith(f"codat-nb console: cannot use {url}: CodatConnectionError")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_base_url_without_a_key_is_refused_as_connect_refuses_it():
    done = console("--port", "0", CODAT_BASE_URL="http://127.0.0.1:9")
    assert done.returncode == 2
    assert "no API key for http://127.0.0.1:9" in done.stderr


@pytest.mark.parametrize("port", ["http", "-1", "70000"])
def test_a_bad_port_is_a_usage_error(port, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["console", "--port", port])
    assert exit_info.value.code == 2
    assert "--port: must be a port number" in capsys.readouterr().err


def test_console_is_listed_in_the_help():
    assert "console" in build_parser().format_help()


def test_a_missing_python_kernel_is_named_before_serving(tmp_path):
    """A plain install without a Python kernel served a 500 page; the console now says what is
    missing (and how to get it) instead of printing a URL."""
    from jupyter_client.kernelspec import KernelSpecManager

    from codat_nb.cli.console import kernel_problem

    none_here = KernelSpecManager(kernel_dirs=[str(tmp_path)], ensure_native_kernel=False)
    assert "pip install ipykernel" in kernel_problem(none_here)
    assert kernel_problem() is None  # this install has one (ipykernel is a dependency)


@pytest.fixture
def console_env(monkeypatch, demo_sandbox):
    """The environment ``codat-nb console`` gives its page's kernels on its demo sandbox."""
    for name in [n for n in os.environ if n.startswith("CODAT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CODAT_AUTH_HEADER", demo_sandbox.auth_header)
    monkeypatch.setenv("CODAT_BASE_URL", demo_sandbox.url)
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)  # not a heated kernel: no waiting
    return monkeypatch


def test_the_page_says_demo_when_the_console_runs_its_own_sandbox(console_env, tmp_path):
    from codat_nb.notebook.console import DEMO_ENV, HEATED_ENV, page

    heated = tmp_path / "heated"
    console_env.setenv(DEMO_ENV, "1")
    console_env.setenv(HEATED_ENV, str(heated))
    view = page()
    assert "Demo sandbox (no API key set)</div>" in view.banner.value
    assert view.table.total == len(view.portfolio) > 0  # listed at the visit
    assert heated.exists()  # the console announces its URL once a kernel got this far
    view.client.close()


def test_the_page_names_the_codat_it_talks_to_otherwise(console_env, demo_sandbox):
    from codat_nb.notebook.console import page

    view = page()
    assert f"Codat API at {demo_sandbox.url}</div>" in view.banner.value
    view.client.close()


def test_voila_keeps_a_kernel_heated_and_refills_it_after_a_pause():
    from codat_nb.notebook.console import POOL_SIZE, REFILL_DELAY_S, voila_argv

    argv = voila_argv(8866, "t0ken")
    assert "--VoilaConfiguration.preheat_kernel=True" in argv
    assert f"--VoilaConfiguration.default_pool_size={POOL_SIZE}" in argv and POOL_SIZE >= 1
    assert f"--VoilaKernelManager.fill_delay={REFILL_DELAY_S}" in argv
    assert "--Voila.ip=127.0.0.1" in argv and "--Voila.token=t0ken" in argv


def test_the_page_has_a_title():
    import json

    from codat_nb.notebook.console import NOTEBOOK

    assert json.loads(NOTEBOOK.read_text())["metadata"]["title"] == "Codat support console"
