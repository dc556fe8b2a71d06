"""Pure-function tests: error mapping, argument checks, retry policy and the DataFrame schema."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest

import codat_nb
from codat_nb import error_mapping, exceptions, paging
from codat_nb.arguments import check_id
from codat_nb.client import CodatClient
from codat_nb.endpoint import check_timeout
from codat_nb.frames import (
    COMPANY_COLUMNS,
    CONNECTION_COLUMNS,
    companies_frame,
    connections_frame,
)
from codat_nb.retry import RetryPolicy
from codat_nb.wire.dates import to_utc_datetimes
from codat_nb.wire.protocol import basic_auth_header

CID = "7f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f"
KEY = "unit-test-secret-key-123"


def error_body(status: int, **extra) -> bytes:
    body = {
        "statusCode": status,
        "service": "PublicApi",
        "error": "Something went wrong",
        "correlationId": "c0ffee" * 5 + "ab",
        "canBeRetried": "Unknown",
        "detailedErrorCode": 0,
    }
    body.update(extra)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, exceptions.BadRequestError),
        (401, exceptions.AuthenticationError),
        (402, exceptions.PaymentRequiredError),
        (403, exceptions.PermissionDeniedError),
        (404, exceptions.NotFoundError),
        (422, exceptions.BadRequestError),
        (429, exceptions.RateLimitError),
        (500, exceptions.ServerError),
        (503, exceptions.ServerError),
        (504, exceptions.ServerError),
        (418, exceptions.CodatError),
    ],
)
def test_status_maps_to_error_class(status, cls):
    assert error_mapping.error_class_for_status(status) is cls
    err = error_mapping.error_from_response(
        status, error_body(status), method="GET", url="http://x/c"
    )
    assert type(err) is cls
    assert isinstance(err, codat_nb.CodatError)
    assert err.status_code == status
    assert err.service == "PublicApi"
    assert err.correlation_id == "c0ffee" * 5 + "ab"
    assert err.can_be_retried == "Unknown"
    assert err.detailed_error_code == 0
    assert (err.method, err.url) == ("GET", "http://x/c")
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"{status} GET http://x/c: Something went wrong")
    assert text.endswith("(correlationId: " + "c0ffee" * 5 + "ab)")


def test_validation_items_appear_in_the_message():
    body = error_body(
        400,
        error="The request was invalid",
        validation={
            "errors": [{"itemId": "platformKey", "message": "unknown", "validatorName": "K"}],
            "warnings": [],
        },
    )
    err = error_mapping.error_from_response(400, body, method="POST", url="http://x/c")
    assert err.validation_messages == ["platformKey: unknown"]
    assert "[platformKey: unknown]" in str(err)


def test_validation_items_the_error_already_says_are_not_repeated():
    body = error_body(
        400,
        error="Error parsing query - Malformed query at position 7",
        validation={
            "errors": [
                {"itemId": "query", "message": "Malformed query at position 7"},
                {"itemId": "pageSize", "message": "must be from 1 to 5000"},
            ]
        },
    )
    err = error_mapping.error_from_response(400, body, method="GET", url="http://x/c")
    assert str(err).count("Malformed query at position 7") == 1
    assert "[pageSize: must be from 1 to 5000]" in str(err)
    assert len(err.validation_messages) == 2  # the full list stays on the error


def test_rate_limit_error_carries_retry_after():
    err = error_mapping.error_from_response(
        429, error_body(429), method="GET", url="http://x", retry_after="7"
    )
    assert isinstance(err, exceptions.RateLimitError)
    assert err.retry_after == 7.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty response body"),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "502 Bad Gateway"),
        (b'{"statusCode": 500, "error": "trunc', "trunc"),
        (b"[1, 2, 3]", "[1, 2, 3]"),
        (b'{"unrelated": true}', "unrelated"),
        (b"\xff\xfe garbage bytes", "garbage bytes"),
    ],
)
def test_non_error_message_bodies_still_give_a_clean_error(body, expected):
    err = error_mapping.error_from_response(502, body, method="GET", url="http://x/p")
    assert isinstance(err, exceptions.ServerError)
    assert err.status_code == 502
    assert err.correlation_id is None
    assert expected in str(err)
    assert str(err).startswith("502 GET http://x/p:")


def test_long_bodies_are_cut_to_a_snippet():
    err = error_mapping.error_from_response(500, b"x" * 10_000, method="GET", url="http://x")
    assert len(str(err)) < 300


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0), (None, None), ("soon", None), ("", None)],
)
def test_parse_retry_after(header, seconds):
    assert error_mapping.parse_retry_after(header) == seconds


def test_parse_retry_after_http_date_in_the_past_is_zero():
    assert error_mapping.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_delay_backs_off_exponentially_within_cap_and_jitter():
    policy = RetryPolicy(backoff=1.0, backoff_factor=2.0, backoff_max=5.0, jitter=0.5)
    for retry, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delay = policy.delay(retry, None)
        assert base <= delay <= base * 1.5


def test_retry_delay_honours_retry_after():
    policy = RetryPolicy(backoff=0.001, jitter=0.5)
    assert 10.0 <= policy.delay(1, 10.0) <= 10.5


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"max_retries": -1}, ValueError),
        ({"max_retries": 1.5}, TypeError),
        ({"max_retries": True}, TypeError),
        ({"backoff": -1}, ValueError),
        ({"deadline": "60"}, ValueError),
    ],
)
def test_retry_policy_rejects_bad_values(kwargs, exc):
    with pytest.raises(exc):
        RetryPolicy(**kwargs)


def test_auth_header_is_basic_base64_of_the_key():
    assert basic_auth_header("abc") == "Basic YWJj"


def test_check_timeout():
    assert check_timeout(3) == (3.0, 3.0)
    assert check_timeout((1, 2.5)) == (1.0, 2.5)
    for bad in (0, -1, "5", (1,), (1, 0), None, True):
        with pytest.raises(ValueError, match="timeout"):
            check_timeout(bad)


def test_check_id_normalises_and_names_the_argument():
    assert check_id("company_id", CID.upper()) == CID
    assert check_id("company_id", uuid.UUID(CID)) == CID
    with pytest.raises(ValueError, match="connection_id"):
        check_id("connection_id", CID.replace("-", ""))


@pytest.mark.parametrize(
    "text",
    [
        "urn:" + CID.replace("-", ""),  # 36 characters, and uuid.UUID() takes it
        CID.replace("-", "") + "----",  # hyphens in the wrong places
        "\uff17" + CID[1:],  # a full-width digit, which int(..., 16) accepts
        "{" + CID[1:-1] + "}",
        CID + "\n",
    ],
    ids=["urn", "stray hyphens", "full-width digit", "braces", "newline"],
)
def test_check_id_takes_only_the_8_4_4_4_12_form(text):
    with pytest.raises(ValueError, match="company_id must be a UUID"):
        check_id("company_id", text)


def offline_client(**options):
    """A client pointed at a closed port: argument checks must fail before any request."""
    return CodatClient(KEY, base_url="http://127.0.0.1:9", retries=0, timeout=0.2, **options)


BAD_CALLS = [
    ("connections.list", ("not-a-uuid",), {}, ValueError, "company_id"),
    ("connections.list", (None,), {}, TypeError, "company_id"),
    ("connections.list", (12345,), {}, TypeError, "company_id"),
    ("connections.list", (CID + "0",), {}, ValueError, "company_id"),
    ("connections.list", ("'; DROP TABLE companies;--",), {}, ValueError, "company_id"),
    ("connections.list", ("ü" * 10_000,), {}, ValueError, "company_id"),
    ("connections.list", (CID,), {"page_size": 0}, ValueError, "page_size"),
    ("connections.list", (CID,), {"page_size": 5001}, ValueError, "page_size"),
    ("connections.list", (CID,), {"page_size": "100"}, TypeError, "page_size"),
    ("connections.list", (CID,), {"page_size": 10.0}, TypeError, "page_size"),
    ("connections.list", (CID,), {"page_size": True}, TypeError, "page_size"),
    ("connections.list", (CID,), {"query": 5}, TypeError, "query"),
    ("connections.list", (CID,), {"query": {"status": "Linked"}}, TypeError, "query"),
    ("connections.list", (CID,), {"query": "   "}, ValueError, "query"),
    ("connections.list", (CID,), {"query": "a=" + "x" * 3000}, ValueError, "query"),
    ("connections.list", (CID,), {"order_by": ["created"]}, TypeError, "order_by"),
    ("connections.list", (CID,), {"order_by": "created desc"}, ValueError, "order_by"),
    ("connections.list", (CID,), {"limit": 0}, ValueError, "limit"),
    ("connections.list", (CID,), {"limit": "10"}, TypeError, "limit"),
    ("connections.list", (CID,), {"concurrency": 11}, ValueError, "concurrency"),
    ("connections.list", (CID,), {"concurrency": 0}, ValueError, "concurrency"),
    ("connections.list", (CID,), {"progress": "yes"}, TypeError, "progress"),
    ("connections.iter", ("nope",), {}, ValueError, "company_id"),
    ("connections.iter", (CID,), {"page_size": -3}, ValueError, "page_size"),
    ("connections.get", (CID, "nope"), {}, ValueError, "connection_id"),
    ("connections.get", (CID, None), {}, TypeError, "connection_id"),
    ("connections.create", (CID, "GBOL"), {}, ValueError, "platform_key"),
    ("connections.create", (CID, "gbo"), {}, ValueError, "platform_key"),
    ("connections.create", (CID, "gbol1"), {}, ValueError, "platform_key"),
    ("connections.create", (CID, "gböl"), {}, ValueError, "platform_key"),
    ("connections.create", (CID, None), {}, TypeError, "platform_key"),
    ("connections.create", ("x", "gbol"), {}, ValueError, "company_id"),
    ("connections.create_partner_expense", ("x",), {}, ValueError, "company_id"),
    ("connections.unlink", (CID, "{}"), {}, ValueError, "connection_id"),
    ("connections.delete", (CID, ""), {}, ValueError, "connection_id"),
    ("connections.list_all", (), {"query": b"status=Linked"}, TypeError, "query"),
    ("connections.list_all", (), {"page_size": 10**9}, ValueError, "page_size"),
    ("companies.get", ("../../etc/passwd",), {}, ValueError, "company_id"),
    ("companies.delete", (42,), {}, TypeError, "company_id"),
    ("companies.create", ("",), {}, ValueError, "name"),
    ("companies.create", (None,), {}, TypeError, "name"),
    ("companies.create", ("Acme",), {"description": 7}, TypeError, "description"),
    ("companies.list", (), {"page_size": 0}, ValueError, "page_size"),
    ("companies.iter", (), {"query": 1.5}, TypeError, "query"),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "exc", "names"), BAD_CALLS)
def test_bad_arguments_fail_before_any_request(method, args, kwargs, exc, names):
    client = offline_client()
    api_name, op = method.split(".")
    with pytest.raises(exc, match=names) as info:
        result = getattr(getattr(client, api_name), op)(*args, **kwargs)
        next(iter(result))  # iterators check arguments when created, before this
    # Not a CodatConnectionError: nothing was sent to the (closed) port.
    assert not isinstance(info.value, codat_nb.CodatError)


@pytest.mark.parametrize(
    ("kwargs", "exc", "names"),
    [
        ({}, ValueError, "api_key"),
        ({"api_key": KEY, "auth_header": "Basic eA=="}, ValueError, "api_key"),
        ({"api_key": 123}, TypeError, "api_key"),
        ({"api_key": "  "}, ValueError, "api_key"),
        ({"auth_header": "Bearer x"}, ValueError, "auth_header"),
        ({"api_key": KEY, "base_url": "api.codat.io"}, ValueError, "base_url"),
        ({"api_key": KEY, "base_url": "ftp://api.codat.io"}, ValueError, "base_url"),
        ({"api_key": KEY, "base_url": f"https://{KEY}@api.codat.io"}, ValueError, "credentials"),
        ({"api_key": KEY, "base_url": f"https://u:{KEY}@api.codat.io"}, ValueError, "credentials"),
        ({"api_key": KEY, "base_url": f"https://api.codat.io?key={KEY}"}, ValueError, "query"),
        ({"api_key": KEY, "base_url": "https://api.codat.io#top"}, ValueError, "fragment"),
        ({"api_key": KEY, "max_concurrency": 11}, ValueError, "max_concurrency"),
        ({"api_key": KEY, "retries": "3"}, TypeError, "retries"),
        ({"api_key": KEY, "timeout": -1}, ValueError, "timeout"),
    ],
)
def test_bad_client_construction(kwargs, exc, names):
    with pytest.raises(exc, match=names) as info:
        CodatClient(**kwargs)
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    ("option", "suffix"),
    [
        ("auth_header", "\r\nX-Injected: 1"),
        ("auth_header", "\u00e9"),
        ("auth_header", " trailing words"),
        ("api_key", "\nX-Injected: 1"),  # a header pasted as the key gets the same check
    ],
    ids=["CRLF header", "non-ASCII header", "spaces in header", "CRLF pasted as key"],
)
def test_a_malformed_header_is_refused_up_front_without_echoing_it(option, suffix):
    header = basic_auth_header(KEY)
    with pytest.raises(ValueError, match=option) as info:
        CodatClient(**{option: header + suffix}, base_url="http://127.0.0.1:9", retries=0)
    assert header[6:] not in str(info.value)


def test_client_repr_and_surfaces_hide_the_key():
    client = offline_client()
    assert repr(client) == "CodatClient(base_url='http://127.0.0.1:9')"
    header = basic_auth_header(KEY)
    for thing in (client, client.connections, client.companies, client._transport):
        for text in (repr(thing), str(thing)):
            assert KEY not in text and header not in text
    assert header not in repr(client._transport._auth)
    assert client.rate_limit is None


def test_pasted_basic_header_is_accepted_as_api_key():
    client = CodatClient("Basic YWJj", base_url="http://127.0.0.1:9")
    assert client._transport._auth._header.reveal() == "Basic YWJj"


def test_connect_uses_environment_credentials(monkeypatch):
    monkeypatch.setenv("CODAT_API_KEY", KEY)
    monkeypatch.setenv("CODAT_BASE_URL", "http://127.0.0.1:9/")
    client = codat_nb.connect()
    assert client.base_url == "http://127.0.0.1:9"
    assert client.sandbox is None
    assert client._transport._auth._header.reveal() == basic_auth_header(KEY)


def test_connect_refuses_a_base_url_without_credentials(monkeypatch):
    for name in ("CODAT_API_KEY", "CODAT_AUTH_HEADER", "CODAT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="no API key"):
        codat_nb.connect(base_url="https://api.codat.io")


# --- DataFrame schema ----------------------------------------------------------------------


def wire_connection(**overrides):
    row = {
        "id": "0f6e1a52-6a0c-4a8e-9d43-1d3c3c5f7a10",
        "integrationId": "bf083d72-62c7-493e-aec9-81b4dbba7e2c",
        "integrationKey": "gbol",
        "sourceId": "56e6575a-3862-4e6b-ad6c-5ff4b7ea8b5b",
        "platformName": "Xero",
        "linkUrl": "https://link-api.codat.io/companies/x/connections/y/start",
        "status": "Linked",
        "lastSync": "2022-10-27T10:22:43.6464237Z",
        "created": "2022-10-27T09:53:29Z",
        "sourceType": "Accounting",
    }
    row.update(overrides)
    return row


def test_empty_frame_has_the_full_schema():
    empty = connections_frame([])
    full = connections_frame([wire_connection()])
    assert tuple(empty.columns) == CONNECTION_COLUMNS == tuple(full.columns)
    assert empty.dtypes.equals(full.dtypes)
    assert str(full["created"].dtype) == "datetime64[us, UTC]"
    assert all(str(full[c].dtype) == "category" for c in ("status", "source_type"))
    assert full["id"].dtype == "str"
    assert full["error_count"].dtype == "int64"
    assert tuple(companies_frame([]).columns) == COMPANY_COLUMNS


def test_three_date_shapes_become_utc():
    values = ["2022-10-27T10:22:43.6464237Z", "2022-10-27T10:22:43-05:00", "2022-10-27T10:22:43"]
    parsed = to_utc_datetimes("created", values)
    assert list(parsed) == [
        pd.Timestamp("2022-10-27 10:22:43.646423", tz="UTC"),
        pd.Timestamp("2022-10-27 15:22:43", tz="UTC"),
        pd.Timestamp("2022-10-27 10:22:43", tz="UTC"),  # unqualified: treated as UTC
    ]


def test_year_one_and_seven_digit_fractions_together():
    parsed = to_utc_datetimes("last_sync", ["0001-01-01T00:00:00", "2022-01-01T00:00:00.1234567Z"])
    assert parsed.iloc[0].year == 1
    assert parsed.iloc[1] == pd.Timestamp("2022-01-01 00:00:00.123456", tz="UTC")


def test_a_bad_date_is_named():
    with pytest.raises(ValueError, match="'created'.*'yesterday'"):
        to_utc_datetimes("created", ["2022-01-01T00:00:00Z", "yesterday"])


def test_missing_optionals_and_errors_summary():
    errors_ = [
        {"errorMessage": "older", "erroredOnUtc": "2022-01-01T00:00:00Z", "status": "Resolved"},
        {"errorMessage": "newest", "erroredOnUtc": "2022-03-01T00:00:00+01:00"},
        {"statusText": "middle", "erroredOnUtc": "2022-02-01T00:00:00"},
    ]
    bare = wire_connection()
    del bare["lastSync"], bare["integrationKey"]
    frame = connections_frame([bare, wire_connection(dataConnectionErrors=errors_)])
    assert pd.isna(frame.loc[0, "last_sync"])
    assert pd.isna(frame.loc[0, "integration_key"])
    assert list(frame["error_count"]) == [0, 3]
    assert pd.isna(frame.loc[0, "latest_error"])
    assert frame.loc[1, "latest_error"] == "newest"
    assert frame.loc[1, "data_connection_errors"] == errors_


def test_unknown_enum_values_are_kept_not_dropped():
    with pytest.warns(codat_nb.CodatWarning, match="'Paused'"):
        frame = connections_frame(
            [wire_connection(), wire_connection(status="Paused", platformName="NewBooks")]
        )
    assert list(frame["status"]) == ["Linked", "Paused"]
    assert list(frame["platform_name"]) == ["Xero", "NewBooks"]
    assert "Paused" in frame["status"].cat.categories
    # Known categories stay in their documented order, first.
    assert tuple(frame["status"].cat.categories[:4]) == codat_nb.wire.schema.CONNECTION_STATUSES


def test_a_new_status_or_source_type_in_a_listing_is_warned_once_a_new_platform_is_not():
    rows = [
        wire_connection(status="FrameOnlyStatus", sourceType="FrameOnlySource"),
        wire_connection(status="FrameOnlyStatus", platformName="BrandNewBooks"),
    ]
    with pytest.warns(codat_nb.CodatWarning) as caught:
        connections_frame(rows)
        connections_frame(rows)  # once per value, not once per frame
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    assert "connection status" in messages[0] and "'FrameOnlyStatus'" in messages[0]
    assert "source type" in messages[1] and "'FrameOnlySource'" in messages[1]


def test_progress_bar_only_when_asked_or_interactive_and_long():
    assert paging.progress_bar(50, False, "x", "page").disable
    assert not paging.progress_bar(2, True, "x", "page").disable
    assert paging.progress_bar(2, None, "x", "page").disable  # too few pages to bother
