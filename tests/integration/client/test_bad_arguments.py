"""Bad input to the client: a clear typed error naming the problem, and nothing changed.

Argument mistakes raise ValueError/TypeError naming the argument before any request is sent
(the sandbox's request counter does not move). Mistakes only Codat can judge (a malformed
query, an unknown company) raise the CodatError subclass for the real status, with the
correlationId. Either way the sandbox's state is exactly what it was.
"""

from __future__ import annotations

import base64
import uuid
import warnings

import pytest

import codat_nb
from codat_nb import BadRequestError, CodatClient, NotFoundError

MISSING = "00000000-0000-4000-8000-000000000000"
HUGE = "x" * 100_000
VALID = "11111111-2222-4333-8444-555555555555"

# (id, call(client, world), exception type, words the message must contain)
BEFORE_ANY_REQUEST = [
    ("company_id None", lambda c, w: c.connections.list(None), TypeError, "company_id"),
    ("company_id int", lambda c, w: c.connections.list(123), TypeError, "company_id"),
    ("company_id bytes", lambda c, w: c.connections.list(VALID.encode()), TypeError, "company_id"),
    ("company_id empty", lambda c, w: c.connections.list(""), ValueError, "company_id"),
    ("company_id not uuid", lambda c, w: c.connections.list("not-a-uuid"), ValueError, "UUID"),
    (
        "company_id no hyphens",
        lambda c, w: c.connections.list(VALID.replace("-", "")),
        ValueError,
        "company_id",
    ),
    (
        "company_id braces",
        lambda c, w: c.connections.list("{" + VALID + "}"),
        ValueError,
        "company_id",
    ),
    ("company_id huge", lambda c, w: c.connections.list(HUGE), ValueError, "company_id"),
    (
        "company_id unicode",
        lambda c, w: c.connections.list("ünïcødé-ⓤⓤⓘⓓ-😀"),
        ValueError,
        "company_id",
    ),
    (
        "company_id path traversal",
        lambda c, w: c.connections.list("../../etc/passwd"),
        ValueError,
        "company_id",
    ),
    (
        "company_id injection",
        lambda c, w: c.connections.list(VALID + "; DROP TABLE companies"),
        ValueError,
        "company_id",
    ),
    (
        "company_id with slash",
        lambda c, w: c.connections.get(w.company_id + "/x", w.linked_id),
        ValueError,
        "company_id",
    ),
    (
        "connection_id not uuid",
        lambda c, w: c.connections.get(w.company_id, "123"),
        ValueError,
        "connection_id",
    ),
    (
        "connection_id None unlink",
        lambda c, w: c.connections.unlink(w.company_id, None),
        TypeError,
        "connection_id",
    ),
    (
        "connection_id list delete",
        lambda c, w: c.connections.delete(w.company_id, [w.linked_id]),
        TypeError,
        "connection_id",
    ),
    ("query int", lambda c, w: c.connections.list(w.company_id, query=1), TypeError, "query"),
    (
        "query bytes",
        lambda c, w: c.connections.list(w.company_id, query=b"status=Linked"),
        TypeError,
        "query",
    ),
    (
        "query dict",
        lambda c, w: c.connections.list(w.company_id, query={"status": "Linked"}),
        TypeError,
        "query",
    ),
    (
        "query blank",
        lambda c, w: c.connections.list(w.company_id, query="   "),
        ValueError,
        "query",
    ),
    (
        "query huge",
        lambda c, w: c.connections.list(w.company_id, query="status=" + HUGE),
        ValueError,
        "query",
    ),
    (
        "order_by list",
        lambda c, w: c.connections.list(w.company_id, order_by=["created"]),
        TypeError,
        "order_by",
    ),
    (
        "order_by sql",
        lambda c, w: c.connections.list(w.company_id, order_by="created DESC"),
        ValueError,
        "order_by",
    ),
    (
        "page_size 0",
        lambda c, w: c.connections.list(w.company_id, page_size=0),
        ValueError,
        "page_size",
    ),
    (
        "page_size negative",
        lambda c, w: c.connections.list(w.company_id, page_size=-1),
        ValueError,
        "page_size",
    ),
    (
        "page_size 5001",
        lambda c, w: c.connections.list(w.company_id, page_size=5001),
        ValueError,
        "page_size",
    ),
    (
        "page_size huge",
        lambda c, w: c.connections.list(w.company_id, page_size=10**30),
        ValueError,
        "page_size",
    ),
    (
        "page_size str",
        lambda c, w: c.connections.list(w.company_id, page_size="100"),
        TypeError,
        "page_size",
    ),
    (
        "page_size float",
        lambda c, w: c.connections.list(w.company_id, page_size=10.0),
        TypeError,
        "page_size",
    ),
    (
        "page_size bool",
        lambda c, w: c.connections.list(w.company_id, page_size=True),
        TypeError,
        "page_size",
    ),
    (
        "iter page_size 0",
        lambda c, w: c.connections.iter(w.company_id, page_size=0),
        ValueError,
        "page_size",
    ),
    ("limit 0", lambda c, w: c.connections.list(w.company_id, limit=0), ValueError, "limit"),
    (
        "concurrency 0",
        lambda c, w: c.connections.list(w.company_id, concurrency=0),
        ValueError,
        "concurrency",
    ),
    (
        "concurrency above client max",
        lambda c, w: c.connections.list(w.company_id, concurrency=5),
        ValueError,
        "max_concurrency",
    ),
    (
        "concurrency above codat cap",
        lambda c, w: c.connections.list(w.company_id, concurrency=11),
        ValueError,
        "concurrency",
    ),
    (
        "progress str",
        lambda c, w: c.connections.list(w.company_id, progress="yes"),
        TypeError,
        "progress",
    ),
    (
        "platform_key upper",
        lambda c, w: c.connections.create(w.company_id, "GBOL"),
        ValueError,
        "platform_key",
    ),
    (
        "platform_key short",
        lambda c, w: c.connections.create(w.company_id, "gbo"),
        ValueError,
        "platform_key",
    ),
    (
        "platform_key injection",
        lambda c, w: c.connections.create(w.company_id, "gbol'; --"),
        ValueError,
        "platform_key",
    ),
    (
        "platform_key unicode",
        lambda c, w: c.connections.create(w.company_id, "ğbol"),
        ValueError,
        "platform_key",
    ),
    (
        "platform_key None",
        lambda c, w: c.connections.create(w.company_id, None),
        TypeError,
        "platform_key",
    ),
    (
        "platform_key huge",
        lambda c, w: c.connections.create(w.company_id, HUGE),
        ValueError,
        "platform_key",
    ),
    (
        "partner expense bad id",
        lambda c, w: c.connections.create_partner_expense("x"),
        ValueError,
        "company_id",
    ),
    (
        "list_all page_size 0",
        lambda c, w: c.connections.list_all(page_size=0),
        ValueError,
        "page_size",
    ),
    ("companies.get not uuid", lambda c, w: c.companies.get("acme"), ValueError, "company_id"),
    ("companies.create name None", lambda c, w: c.companies.create(None), TypeError, "name"),
    ("companies.create name blank", lambda c, w: c.companies.create("  "), ValueError, "name"),
    ("companies.list query int", lambda c, w: c.companies.list(query=5), TypeError, "query"),
    # Field names in a query or order_by are checked before sending, too.
    (
        "query unknown field",
        lambda c, w: c.connections.list(w.company_id, query="password=x"),
        ValueError,
        "password",
    ),
    (
        "query column name instead of property",
        lambda c, w: c.connections.list(w.company_id, query="last_sync>2026-01-01"),
        ValueError,
        "did you mean `lastSync`",
    ),
    (
        "order_by unknown field",
        lambda c, w: c.connections.list(w.company_id, order_by="secret"),
        ValueError,
        "secret",
    ),
    # A first notebook's natural mistakes get the fix in the message.
    (
        "platform name for its key",
        lambda c, w: c.connections.create(w.company_id, "xero"),
        ValueError,
        "'xero' names a platform; its key is 'gbol' (Xero)",
    ),
    (
        "partial platform name",
        lambda c, w: c.connections.create(w.company_id, "QuickBooks"),
        ValueError,
        "'qhyg' (QuickBooks Online)",
    ),
    (
        "and instead of &&",
        lambda c, w: c.connections.list(w.company_id, query="status=Linked and sourceType=Banking"),
        ValueError,
        "did you mean 'status=Linked && sourceType=Banking'",
    ),
    (
        "OR instead of ||",
        lambda c, w: c.connections.list_all(query="status=Linked OR status=Unlinked"),
        ValueError,
        "did you mean 'status=Linked || status=Unlinked'",
    ),
]

# Only Codat can judge these: the request goes out and the error comes back typed.
JUDGED_BY_CODAT = [
    (
        "query unbalanced braces",
        lambda c, w: c.connections.list(w.company_id, query="{{{{"),
        BadRequestError,
        "query",
    ),
    (
        "query dangling operator",
        lambda c, w: c.connections.list(w.company_id, query="status="),
        BadRequestError,
        "query",
    ),
    (
        "query injection",
        lambda c, w: c.connections.list(w.company_id, query="1=1 || DROP TABLE"),
        BadRequestError,
        "query",
    ),
    (
        "order_by double minus",
        lambda c, w: c.connections.list(w.company_id, order_by="--status"),
        BadRequestError,
        "status",
    ),
    ("unknown company", lambda c, w: c.connections.list(MISSING), NotFoundError, MISSING),
    (
        "unknown connection get",
        lambda c, w: c.connections.get(w.company_id, MISSING),
        NotFoundError,
        MISSING,
    ),
    (
        "unknown connection delete",
        lambda c, w: c.connections.delete(w.company_id, MISSING),
        NotFoundError,
        MISSING,
    ),
    (
        "unlink a PendingAuth",
        lambda c, w: c.connections.unlink(w.company_id, w.pending_id),
        BadRequestError,
        "PendingAuth",
    ),
    (
        "create unknown platform",
        lambda c, w: c.connections.create(w.company_id, "zzzz"),
        BadRequestError,
        "zzzz",
    ),
    (
        "create in unknown company",
        lambda c, w: c.connections.create(MISSING, "gbol"),
        NotFoundError,
        MISSING,
    ),
]


def _case_ids(cases):
    return [case[0] for case in cases]


@pytest.mark.parametrize(
    ("name", "call", "kind", "words"), BEFORE_ANY_REQUEST, ids=_case_ids(BEFORE_ANY_REQUEST)
)
def test_bad_arguments_fail_before_any_request(world, client, name, call, kind, words):
    state, requests_before = world.sb.store.snapshot(), world.sb.store.request_count
    with pytest.raises(kind) as info:
        call(client, world)
    message = str(info.value)
    assert words in message
    assert len(message) < 400, "a huge argument must not be echoed in full"
    assert world.sb.store.request_count == requests_before, "no request may be sent"
    assert world.sb.store.snapshot() == state


@pytest.mark.parametrize(
    ("name", "call", "kind", "words"), JUDGED_BY_CODAT, ids=_case_ids(JUDGED_BY_CODAT)
)
def test_mistakes_codat_judges_raise_typed_errors_and_change_nothing(
    world, client, name, call, kind, words
):
    state = world.sb.store.snapshot()
    with pytest.raises(kind) as info:
        call(client, world)
    error = info.value
    assert words.lower() in str(error).lower()
    assert str(error).endswith(f"(correlationId: {error.correlation_id})")
    assert error.url.startswith(world.sb.url) and error.method in ("GET", "POST", "PATCH", "DELETE")
    assert world.sb.store.snapshot() == state
    assert world.sb.unexpected_errors == []


@pytest.mark.parametrize(
    "query",
    [
        "status=Linked' OR '1'='1",
        'platformName=Xero"; DROP TABLE connections; --',
        "id=<script>alert(1)</script>",
        "platformName=Z\u00fcrich \U0001f600",
    ],
    ids=["sql quote", "sql drop", "html script", "unicode"],
)
def test_injection_like_values_are_literal_text_matching_nothing(world, client, query):
    """A well-formed query whose value looks like an attack is just an unmatched value (one
    that is not a documented status is also said to match nothing, before it is sent)."""
    state = world.sb.store.snapshot()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = client.connections.list(world.company_id, query=query)
    said = [str(w.message) for w in caught if issubclass(w.category, codat_nb.CodatWarning)]
    assert len(said) == (1 if query.startswith("status=") else 0)
    assert all("matches nothing" in message for message in said)
    assert len(frame) == 0 and list(frame.columns) == list(codat_nb.frames.CONNECTION_COLUMNS)
    assert world.sb.store.snapshot() == state


@pytest.mark.parametrize(
    ("options", "kind", "words"),
    [
        ({"api_key": 123}, TypeError, "api_key"),
        ({"api_key": ""}, ValueError, "api_key"),
        ({"api_key": "k", "auth_header": "Basic eA=="}, ValueError, "exactly one"),
        ({"auth_header": "Bearer abc"}, ValueError, "auth_header"),
        ({"api_key": "k", "base_url": "ftp://api.codat.io"}, ValueError, "base_url"),
        ({"api_key": "k", "base_url": b"https://api.codat.io"}, TypeError, "base_url"),
        ({"api_key": "k", "timeout": -1}, ValueError, "timeout"),
        ({"api_key": "k", "timeout": (1, 2, 3)}, ValueError, "timeout"),
        ({"api_key": "k", "max_concurrency": 11}, ValueError, "max_concurrency"),
        ({"api_key": "k", "retries": "3"}, TypeError, "retries"),
    ],
    ids=[
        "key int",
        "key blank",
        "key and header",
        "bearer header",
        "ftp url",
        "bytes url",
        "negative timeout",
        "timeout triple",
        "max_concurrency 11",
        "retries str",
    ],
)
def test_bad_client_construction_is_refused_by_name(options, kind, words):
    with pytest.raises(kind, match=words):
        CodatClient(**options)


def test_a_wrong_key_raises_authentication_error_without_echoing_it(world):
    secret = "wrong-key-" + uuid.UUID(int=7).hex
    state = world.sb.store.snapshot()
    with (
        CodatClient(secret, base_url=world.sb.url) as bad,
        pytest.raises(codat_nb.AuthenticationError) as info,
    ):
        bad.connections.list(world.company_id)
    assert info.value.status_code == 401 and info.value.correlation_id
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert "CODAT_API_KEY" in str(info.value) and "CODAT_AUTH_HEADER" in str(info.value)
    assert "looks like the base64 value" not in str(info.value)
    assert world.sb.store.snapshot() == state


def test_the_header_value_pasted_as_the_key_gets_a_hint(world):
    """The portal shows the raw key and the ready-made header; the header's base64 part pasted
    as the key is refused by Codat, and the message says what it is and where it belongs."""
    pasted = base64.b64encode(b"my-real-key-" + uuid.UUID(int=9).hex.encode()).decode()
    with (
        CodatClient(pasted, base_url=world.sb.url) as bad,
        pytest.raises(codat_nb.AuthenticationError, match="CODAT_AUTH_HEADER='Basic <that") as info,
    ):
        bad.companies.list()
    assert pasted not in str(info.value)


def test_a_value_that_merely_contains_and_is_not_refused(world, client):
    """``and`` inside a value (a company called "Marks and Spencer") is text, not a join."""
    frame = client.connections.list(world.company_id, query="platformName=Marks and Spencer")
    assert frame.empty
