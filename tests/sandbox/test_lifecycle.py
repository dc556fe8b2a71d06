"""Server lifecycle, keep-alive, the key's secrecy, and the CLI."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
import requests

from codat_nb.__main__ import build_parser, main
from codat_nb.sandbox import DEFAULT_API_KEY, Sandbox


def test_stop_frees_the_port_and_is_idempotent():
    sb = Sandbox(seed=None)
    port = sb.port
    assert requests.get(f"{sb.url}/companies").status_code == 401
    sb.stop()
    sb.stop()
    with socket.socket() as s:  # the port can be bound again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sb.url}/companies", timeout=2)


def test_stop_hangs_up_kept_alive_connections():
    """A pooled keep-alive connection must not go on being answered by a stopped sandbox."""
    sb = Sandbox(seed=None)
    with requests.Session() as session:
        session.headers["Authorization"] = sb.auth_header
        assert session.get(f"{sb.url}/companies").status_code == 200
        sb.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(f"{sb.url}/companies", timeout=5)


def test_several_sandboxes_run_at_once_with_their_own_state():
    with Sandbox(seed=None) as one, Sandbox(seed=None, api_key="other-key") as two:
        one.store.create_company("Only In One")
        assert one.port != two.port
        assert len(one.store.company_ids()) == 1 and two.store.company_ids() == []
        headers = {"Authorization": one.auth_header}
        assert requests.get(f"{two.url}/companies", headers=headers).status_code == 401


def test_default_key_and_header():
    with Sandbox(seed=None) as sb:
        assert sb.api_key == DEFAULT_API_KEY
        assert sb.auth_header == "Basic c2FuZGJveC1hcGkta2V5LTAwMDE="
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sb.url)


def test_repr_never_shows_the_key():
    with Sandbox(seed=None, api_key="very-secret-key") as sb:
        assert "very-secret-key" not in repr(sb)
        assert sb.auth_header.split()[1] not in repr(sb)


def test_keep_alive_serves_many_requests_on_one_socket(sandbox):
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port)
    headers = {"Authorization": sandbox.auth_header}
    for body in (None, '{"name": "Kept Alive"}', None):
        conn.request("GET" if body is None else "POST", "/companies", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        assert response.status == 200 and response.getheader("Connection") is None
        assert int(response.getheader("Content-Length")) == len(payload)
    first_socket = conn.sock
    conn.request("GET", "/nowhere", headers=headers)
    assert conn.getresponse().read() and conn.sock is first_socket
    conn.close()


def test_unread_request_body_does_not_corrupt_the_next_request(sandbox):
    """A body on a route that ignores it (or on a 401) must not be read as the next request."""
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port)
    conn.request("POST", "/nowhere", body="x" * 50_000)  # no auth: 401 before any body use
    refused = conn.getresponse()
    assert refused.status == 401 and b"Unauthorized" in refused.read()
    conn.request("GET", "/companies", headers={"Authorization": sandbox.auth_header})
    assert conn.getresponse().status == 200
    conn.close()


def test_constructor_refuses_bad_arguments():
    with pytest.raises(TypeError, match="seed"):
        Sandbox(seed=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="error_rate"):
        Sandbox(seed=None, error_rate=3)


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
