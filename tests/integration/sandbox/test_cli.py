"""The command line, ``codat-nb sandbox``: flags, the API key's sources, and usage errors.

Where it serves, it runs as a real process, as a user starts it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from codat_nb.cli import build_parser, main
from codat_nb.cli.sandbox import API_KEY_ENV, add_knob_flags, is_loopback
from codat_nb.sandbox import DEFAULT_API_KEY, Sandbox
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.knobs import knobs
from codat_nb.wire.protocol import basic_auth_header
from tests.support import Settings


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch):
    """The tests expect the default key unless they set the variable (a developer may have)."""
    monkeypatch.delenv(API_KEY_ENV, raising=False)


@dataclass
class Served:
    banner: list[str]  # the five lines printed on start
    url: str
    out: str = ""  # all it printed, once it stopped
    err: str = ""


@contextlib.contextmanager
def serving(*flags: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """``codat-nb sandbox --port 0 --seed none *flags`` as a process, until Ctrl-C after the
    block (which must stop it cleanly); ``out`` and ``err`` are filled in then."""
    process = subprocess.Popen(
        [sys.executable, "-m", "codat_nb", "sandbox", "--port", "0", "--seed", "none", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        banner = [process.stdout.readline() for _ in range(5)]
        assert banner[-1].startswith("Press Ctrl-C"), banner
        served = Served(banner, re.search(r"http://[^ ]+:\d+", banner[0]).group())
        yield served
        process.send_signal(signal.SIGINT)
        rest, served.err = process.communicate(timeout=20)
        served.out = "".join(banner) + rest
        assert process.returncode == 0, served.err
        assert "Sandbox stopped." in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_help_lists_the_sandbox_command():
    result = subprocess.run(
        [sys.executable, "-m", "codat_nb", "--help"], capture_output=True, text=True, check=True
    )
    assert "sandbox" in result.stdout


def test_cli_serves_until_interrupted():
    process = subprocess.Popen(
        [sys.executable, "-m", "codat_nb", "sandbox", "--port", "0", "--seed", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0]).group()
        header = lines[2].split(":", 1)[1].strip()
        assert lines[1].split(":", 1)[1].strip() == DEFAULT_API_KEY
        assert f"curl -H 'Authorization: {header}'" in lines[3]
        page = requests.get(f"{url}/companies", headers={"Authorization": header}).json()
        assert page["totalResults"] >= 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert "Sandbox stopped." in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_reports_a_busy_port_clearly():
    with Sandbox(seed=None) as sb:
        result = subprocess.run(
            [sys.executable, "-m", "codat_nb", "sandbox", "--port", str(sb.port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{sb.port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "-1"], "argument --port: must be a port number from 0 to 65535, got '-1'"),
        (["--port", "70000"], "argument --port: must be a port number from 0 to 65535"),
        (["--latency-ms", "-5"], "argument --latency-ms: must be a number >= 0, got -5"),
        (["--latency-ms", "inf"], "argument --latency-ms: must be a number, got 'inf'"),
        (["--fail-rate", "abc"], "argument --fail-rate: must be a number, got 'abc'"),
        (["--rate-limit-rate", "1.5"], "argument --rate-limit-rate: must be between 0 and 1"),
        (["--api-key="], "argument --api-key: must not be empty"),
        (["--error-rate", "2"], "argument --error-rate: must be between 0 and 1, got 2"),
        (["--drop-rate", "-0.1"], "argument --drop-rate: must be between 0 and 1, got -0.1"),
        (["--retry-after", "1.5"], "argument --retry-after: must be an int, got '1.5'"),
        (["--max-concurrency", "0"], "argument --max-concurrency: must be an int >= 1, got 0"),
        (["--daily-quota", "lots"], "argument --daily-quota: must be an int, got 'lots'"),
    ],
)
def test_cli_refuses_bad_arguments_with_a_usage_error(capsys, args, message):
    """A bad flag is a one-line usage error (exit 2) naming the flag, never a traceback.
    Parsing only: a regression must fail here, not start a sandbox that serves forever."""
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["sandbox", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_suggests_port_0_only_when_the_port_is_busy(capsys):
    """192.0.2.1 (TEST-NET-1) is never a local address: a free port would not help there."""
    assert main(["sandbox", "--host", "192.0.2.1", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "cannot listen on 192.0.2.1:0" in err and "--port 0" not in err


# ----- flags from the knobs -----------------------------------------------------------------
def test_every_fault_knob_is_a_flag_named_like_the_python_option():
    args = build_parser().parse_args(
        ["sandbox", "--latency-ms", "5", "--rate-limit-rate", "0.25", "--error-rate", "0.5"]
        + ["--drop-rate", "0.125", "--retry-after", "3", "--max-concurrency", "4"]
        + ["--daily-quota", "10", "--no-rate-limits", "--company-limit", "0"]
        + ["--one-time-links", "--max-page-size", "2000", "--ignore-query", "--no-error-validation"]
        + ["--webhook-timeout-s", "2.5", "--webhook-duplicate-rate", "0.1"]
        + ["--webhook-reorder-rate", "0.2", "--webhook-delay-rate", "0.3"]
        + ["--webhook-delay-s", "60"]
    )
    given = {name: getattr(args, name) for name in knobs(Faults)}
    assert given == {
        "latency_ms": 5.0,
        "rate_limit_rate": 0.25,
        "error_rate": 0.5,
        "drop_rate": 0.125,
        "retry_after": 3,
        "max_concurrency": 4,
        "daily_quota": 10,
        "rate_limits": False,
        "company_limit": 0,
        "one_time_links": True,
        "max_page_size": 2000,
        "ignore_query": True,
        "error_validation": False,
        "webhook_timeout_s": 2.5,
        "webhook_duplicate_rate": 0.1,
        "webhook_reorder_rate": 0.2,
        "webhook_delay_rate": 0.3,
        "webhook_delay_s": 60.0,
    }
    defaults = build_parser().parse_args(["sandbox"])
    assert {name: getattr(defaults, name) for name in knobs(Faults)} == {
        name: knob.default for name, knob in knobs(Faults).items()
    }


def test_fail_rate_is_the_old_name_of_error_rate():
    assert build_parser().parse_args(["sandbox", "--fail-rate", "0.5"]).error_rate == 0.5


def test_no_cap_is_spelled_none():
    args = build_parser().parse_args(["sandbox", "--max-concurrency", "none"])
    assert args.max_concurrency is None


def settings_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="settings")
    add_knob_flags(parser, Settings)
    return parser


def test_knob_flags_cover_every_kind_of_knob():
    parser = settings_parser()
    assert vars(parser.parse_args([])) == {
        "enabled": False,
        "quota": 100,
        "limit": None,
        "delay": 0.0,
        "share": 0.0,
    }
    given = ["--enabled", "--quota", "7", "--limit", "3", "--delay", "2.5", "--share", "1"]
    assert vars(parser.parse_args(given)) == {
        "enabled": True,
        "quota": 7,
        "limit": 3,
        "delay": 2.5,
        "share": 1.0,
    }
    assert parser.parse_args(["--enabled", "--no-enabled"]).enabled is False
    assert parser.parse_args(["--limit", "3", "--limit", "None"]).limit is None
    help_text = parser.format_help()
    assert "50% at most" in help_text and "(default: none)" in help_text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quota", "0"], "argument --quota: must be an int >= 1, got 0"),
        (["--quota", "2.5"], "argument --quota: must be an int, got '2.5'"),
        (["--limit", "-1"], "argument --limit: must be an int >= 1, got -1"),
        (["--delay", "nan"], "argument --delay: must be a number, got 'nan'"),
        (["--share", "2"], "argument --share: must be between 0 and 1, got 2"),
        (["--enabled=yes"], "argument --enabled/--no-enabled: ignored explicit argument 'yes'"),
    ],
)
def test_knob_flags_refuse_bad_values_naming_the_flag(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        settings_parser().parse_args(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_a_bad_flag_value_as_a_real_process():
    result = subprocess.run(
        [sys.executable, "-m", "codat_nb", "sandbox", "--error-rate", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "argument --error-rate: must be between 0 and 1, got 2" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cli_flags_reach_the_running_sandbox():
    with serving("--rate-limit-rate", "1", "--retry-after", "7") as served:
        headers = {"Authorization": basic_auth_header(DEFAULT_API_KEY)}
        response = requests.get(f"{served.url}/companies", headers=headers, timeout=30)
        assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert served.err == ""  # loopback: no warning


def test_cli_fail_rate_reaches_the_running_sandbox():
    with serving("--fail-rate", "1") as served:
        headers = {"Authorization": basic_auth_header(DEFAULT_API_KEY)}
        response = requests.get(f"{served.url}/companies", headers=headers, timeout=30)
        assert response.status_code in (500, 503)


# ----- the API key ----------------------------------------------------------------------------
def test_cli_help_recommends_the_environment_variable_for_the_key():
    help_text = " ".join(
        subprocess.run(
            [sys.executable, "-m", "codat_nb", "sandbox", "--help"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    )
    assert f"${API_KEY_ENV}" in help_text and "process list" in help_text


def test_cli_takes_the_key_from_the_environment_and_never_prints_it():
    key = "env-only-key-7f3a"
    with serving(env={API_KEY_ENV: key}) as served:
        assert f"from ${API_KEY_ENV}" in served.banner[1]
        headers = {"Authorization": basic_auth_header(key)}
        assert requests.get(f"{served.url}/companies", headers=headers).status_code == 200
        default = {"Authorization": basic_auth_header(DEFAULT_API_KEY)}
        assert requests.get(f"{served.url}/companies", headers=default).status_code == 401
        # The curl line builds the header from the variable: a shell expands it to the right one.
        expression = re.search(r'-H ("Authorization: .*\)")', served.banner[3]).group(1)
        shell = subprocess.run(
            ["sh", "-c", f"printf %s {expression}"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, API_KEY_ENV: key},
        )
        assert shell.stdout == f"Authorization: {basic_auth_header(key)}"
    assert key not in served.out + served.err
    assert basic_auth_header(key).split()[1] not in served.out + served.err


def test_cli_api_key_flag_wins_over_the_environment():
    with serving("--api-key", "flag-key", env={API_KEY_ENV: "env-key"}) as served:
        assert served.banner[1].split(":", 1)[1].strip() == "flag-key"
        headers = {"Authorization": basic_auth_header("flag-key")}
        assert requests.get(f"{served.url}/companies", headers=headers).status_code == 200


# ----- the host ------------------------------------------------------------------------------
def test_cli_warns_when_the_host_is_not_loopback():
    with serving("--host", "0.0.0.0") as served:
        pass
    assert "warning: '0.0.0.0' is not a loopback address" in served.err
    assert "other machines can reach this sandbox" in served.err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.0.2.1", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
