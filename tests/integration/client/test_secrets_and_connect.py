"""The API key never leaks; ``connect()`` resolves credentials or starts the embedded sandbox."""

from __future__ import annotations

import logging
import uuid

import pytest
import requests

import codat_nb
from codat_nb.sandbox import Sandbox
from codat_nb.wire.protocol import basic_auth_header

SECRET = "sk-live-0d1e2a3d-b33f-4c0d-e5ec-12e7c0da7a11"


def test_key_absent_from_every_repr_str_exception_and_log_record(caplog, client_for):
    forms = (SECRET, basic_auth_header(SECRET), basic_auth_header(SECRET)[6:])
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)  # every logger: codat_nb, urllib3, requests
    with Sandbox(seed="demo", api_key=SECRET) as sb:
        sb.faults.rate_limit_rate = 0.3
        sb.faults.retry_after = 0
        client = client_for(sb, retries=codat_nb.RetryPolicy(max_retries=25, backoff=0.001))
        via_key = codat_nb.connect(api_key=SECRET, base_url=sb.url)
        company = client.companies.list(page_size=50)["company_id"][0]
        frame = client.connections.list(company, page_size=1)  # many requests, all logged
        made = via_key.connections.create(company, "gbol")
        texts += [repr(made), str(made), frame.to_string(), repr(via_key.rate_limit)]
        sb.faults.rate_limit_rate = 0.0
        failures = [
            lambda: client.connections.get(company, str(uuid.UUID(int=7, version=4))),
            lambda: client.connections.list(company, query="status=={"),
            lambda: client.connections.create(company, "zzzz"),
            lambda: codat_nb.CodatClient(SECRET + "x", base_url=sb.url).companies.list(),
        ]
        for fail in failures:
            with pytest.raises(codat_nb.CodatError) as info:
                fail()
            texts += [str(info.value), repr(info.value), str(vars(info.value))]
        for thing in (client, via_key, client.connections, client.companies, client._transport):
            texts += [repr(thing), str(thing)]
        via_key.close()
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    assert len(caplog.records) > 20  # the DEBUG request log really was captured
    for text in texts:
        for form in forms:
            assert form not in text


@pytest.fixture
def no_credentials(monkeypatch):
    for name in ("CODAT_API_KEY", "CODAT_AUTH_HEADER", "CODAT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_connect_without_credentials_starts_the_demo_sandbox(no_credentials, capsys):
    client = codat_nb.connect()
    try:
        printed = capsys.readouterr().out
        assert printed.count("\n") == 1
        assert "sandbox" in printed
        assert client.sandbox is not None
        assert client.sandbox.api_key not in printed
        assert client.base_url == client.sandbox.url
        assert len(client.companies.list()) == len(client.sandbox.store.company_ids()) >= 200
    finally:
        client.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(client.base_url + "/companies", timeout=2)


def test_connect_prefers_explicit_arguments_then_the_environment(
    no_credentials, monkeypatch, sandbox
):
    with codat_nb.connect(api_key=sandbox.api_key, base_url=sandbox.url) as explicit:
        assert explicit.sandbox is None
        assert explicit.companies.list().empty
    monkeypatch.setenv("CODAT_AUTH_HEADER", sandbox.auth_header)
    monkeypatch.setenv("CODAT_BASE_URL", sandbox.url)
    with codat_nb.connect() as from_env:
        sandbox.store.create_company("Env Ltd")
        assert list(from_env.companies.list()["company_name"]) == ["Env Ltd"]
        assert from_env.sandbox is None


def _locals_text(tb) -> str:
    """Every local of every codat_nb frame of a traceback, as --showlocals or %xmode Verbose
    print them (the caller's own frames hold what the caller put there)."""
    texts = []
    while tb is not None:
        if "/codat_nb/" in tb.tb_frame.f_code.co_filename:
            texts += [f"{name}={value!r}" for name, value in tb.tb_frame.f_locals.items()]
        tb = tb.tb_next
    return "\n".join(texts)


@pytest.mark.parametrize(
    "make",
    [
        lambda key: codat_nb.CodatClient(key, base_url="http://127.0.0.1:9", timeout=-1),
        lambda key: codat_nb.CodatClient(key, base_url="not a url"),
        lambda key: codat_nb.CodatClient(key, base_url="http://127.0.0.1:9", retries="many"),
        lambda key: codat_nb.CodatClient(auth_header=key, base_url="http://127.0.0.1:9"),
        lambda key: codat_nb.connect(api_key=key, base_url="http://127.0.0.1:9", timeout=0),
    ],
    ids=["bad timeout", "bad url", "bad retries", "key as header", "connect"],
)
def test_a_failed_construction_keeps_the_key_out_of_the_traceback_locals(make):
    with pytest.raises((ValueError, TypeError)) as info:
        make(SECRET)
    text = _locals_text(info.value.__traceback__) + str(info.value)
    assert "Secret('********')" in text  # the frames were seen, holding the key hidden
    for form in (SECRET, basic_auth_header(SECRET)[6:]):
        assert form not in text


def test_plain_http_to_another_host_warns_loopback_does_not(recwarn):
    codat_nb.CodatClient("k", base_url="http://127.0.0.1:9")
    codat_nb.CodatClient("k", base_url="https://api.codat.io")
    assert not [w for w in recwarn if issubclass(w.category, codat_nb.CodatWarning)]
    with pytest.warns(codat_nb.CodatWarning, match="plain http"):
        codat_nb.CodatClient("k", base_url="http://proxy.example.com")
