"""Server lifecycle, keep-alive and the key's secrecy (the command line: test_cli.py)."""

from __future__ import annotations

import http.client
import re
import socket

import pytest
import requests

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
    with pytest.raises(ValueError, match="read_timeout"):
        Sandbox(seed=None, read_timeout=0)
    with pytest.raises(TypeError, match="read_timeout"):
        Sandbox(seed=None, read_timeout="30")
