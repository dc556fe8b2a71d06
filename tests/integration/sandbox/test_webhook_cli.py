"""``codat-nb webhook-secret``: a consumer's secret from a running sandbox, alone on stdout, the
key from the environment only; clear one-line errors otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codat_nb.cli import main
from codat_nb.sandbox import Sandbox

KEY_VARIABLES = ("CODAT_NB_SANDBOX_API_KEY", "CODAT_API_KEY", "CODAT_AUTH_HEADER", "CODAT_BASE_URL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_it_prints_the_secret_alone_as_a_process(sandbox):
    consumer = sandbox.webhooks.create("https://example.com/h", ["company.created"])["id"]
    done = subprocess.run(
        [sys.executable, "-m", "codat_nb", "webhook-secret", consumer, "--url", sandbox.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k not in KEY_VARIABLES},
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == sandbox.webhook_secret(consumer) + "\n"


def test_the_key_and_url_come_from_the_environment(monkeypatch, capsys):
    with Sandbox(seed=None, api_key="own-key-123") as sb:
        consumer = sb.webhooks.create("https://example.com/h", ["company.created"])["id"]
        monkeypatch.setenv("CODAT_BASE_URL", sb.url)
        assert main(["webhook-secret", consumer]) == 1  # the default key is refused
        assert "answered 401: Unauthorized" in capsys.readouterr().err
        monkeypatch.setenv("CODAT_AUTH_HEADER", sb.auth_header)
        assert main(["webhook-secret", consumer]) == 0
        assert capsys.readouterr().out == sb.webhook_secret(consumer) + "\n"
        monkeypatch.setenv("CODAT_NB_SANDBOX_API_KEY", "own-key-123")
        monkeypatch.setenv("CODAT_AUTH_HEADER", "Basic d3Jvbmc=")  # the key variable wins
        assert main(["webhook-secret", consumer.upper()]) == 0
        assert capsys.readouterr().out == sb.webhook_secret(consumer) + "\n"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["00000000-0000-4000-8000-000000000000"], 1, "has no webhook consumer"),
        (["not-an-id"], 2, "must be a UUID"),
    ],
)
def test_errors_are_one_line_with_an_exit_code(sandbox, capsys, args, code, words):
    assert main(["webhook-secret", *args, "--url", sandbox.url]) == code
    captured = capsys.readouterr()
    assert captured.out == "" and words in captured.err and captured.err.count("\n") == 1


def test_without_a_url_or_a_sandbox(capsys):
    assert main(["webhook-secret", "00000000-0000-4000-8000-000000000000"]) == 2
    assert "--url" in capsys.readouterr().err
    with Sandbox(seed=None) as gone:
        url = gone.url
    assert main(["webhook-secret", "00000000-0000-4000-8000-000000000000", "--url", url]) == 1
    assert f"cannot reach {url}: nothing answers there" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["notaurl", "127.0.0.1:8765", "ftp://127.0.0.1:8765", "http://"])
def test_a_url_that_is_not_http_is_a_usage_error_naming_it(capsys, url):
    assert main(["webhook-secret", "00000000-0000-4000-8000-000000000000", "--url", url]) == 2
    err = capsys.readouterr().err
    assert "must be http(s)://HOST:PORT" in err and repr(url.rstrip("/")) in err
