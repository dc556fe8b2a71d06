"""Bad input to the sandbox over raw HTTP: each a 4xx ErrorMessage, and no state change.

Each case is (status, method, path, options). ``{cid}``, ``{linked}`` and ``{pending}`` in the
path are the world's ids. Requests carry the right Authorization header unless ``auth`` is set
(``None`` sends none). ``body`` is sent as-is, ``json`` is encoded, ``ctype`` sets Content-Type.
"""

from __future__ import annotations

import json

import pytest

from tests.support import assert_error_message

MISSING = "00000000-0000-4000-8000-000000000000"
CONNS = "/companies/{cid}/connections"
ONE = "/companies/{cid}/connections/{linked}"
NO_AUTH = {"auth": None}

CASES = {
    # --- authentication -------------------------------------------------------------------
    "auth missing": (401, "GET", CONNS, NO_AUTH),
    "auth empty": (401, "GET", CONNS, {"auth": ""}),
    "auth garbled base64": (401, "GET", CONNS, {"auth": "Basic !!!not-base64!!!"}),
    "auth bearer scheme": (401, "GET", CONNS, {"auth": "Bearer sandbox-api-key-0001"}),
    "auth raw key no scheme": (401, "GET", CONNS, {"auth": "sandbox-api-key-0001"}),
    "auth scheme alone": (401, "GET", CONNS, {"auth": "Basic"}),
    "auth lowercase key": (401, "GET", CONNS, {"auth": "basic C2FUZGJVEC1HCGKTA2V5LTAWMDE="}),
    "auth wrong key": (401, "GET", CONNS, {"auth": "Basic d3Jvbmc="}),
    "auth non-ascii bytes": (
        401,
        "GET",
        CONNS,
        {"auth": "Basic \u00fc\u00f1\u00ee".encode("latin-1")},
    ),
    "auth huge": (401, "GET", CONNS, {"auth": "Basic " + "A" * 16_000}),
    "auth missing on create": (401, "POST", CONNS, {"auth": None, "json": {"platformKey": "gbol"}}),
    "auth missing on delete": (401, "DELETE", ONE, NO_AUTH),
    # --- ids and paths --------------------------------------------------------------------
    "company id not uuid": (400, "GET", "/companies/not-a-uuid/connections", {}),
    "company id unicode": (
        400,
        "GET",
        "/companies/\u00fcn\u00efc\u00f8d\u00e9-\U0001f600/connections",
        {},
    ),
    "company id sql": (400, "GET", "/companies/1%27%20OR%20%271%27=%271/connections", {}),
    "company id huge": (400, "GET", "/companies/" + "a" * 8_000 + "/connections", {}),
    "company id unknown": (404, "GET", f"/companies/{MISSING}/connections", {}),
    "connection id not uuid": (400, "GET", "/companies/{cid}/connections/123", {}),
    "connection id unknown": (404, "GET", f"/companies/{{cid}}/connections/{MISSING}", {}),
    "connection id NUL": (400, "GET", "/companies/{cid}/connections/%00", {}),
    "traversal encoded dots": (400, "GET", "/companies/%2e%2e/connections", {}),
    "traversal encoded slashes": (404, "GET", "/companies/..%2f..%2fetc%2fpasswd/connections", {}),
    "traversal to etc passwd": (404, "GET", "/%2e%2e/%2e%2e/etc/passwd", {}),
    "unknown route": (404, "GET", "/companies/{cid}/secrets", {}),
    "trailing segment": (404, "GET", ONE + "/extra", {}),
    "wrong method PUT": (405, "PUT", CONNS, {"json": {"platformKey": "gbol"}}),
    "wrong method DELETE list": (405, "DELETE", CONNS, {}),
    # --- paging and query parameters ------------------------------------------------------
    "page 0": (400, "GET", CONNS, {"params": {"page": "0"}}),
    "page negative": (400, "GET", CONNS, {"params": {"page": "-1"}}),
    "page text": (400, "GET", CONNS, {"params": {"page": "one"}}),
    "page overflow": (400, "GET", CONNS, {"params": {"page": "9" * 40}}),
    "page float": (400, "GET", CONNS, {"params": {"page": "1.5"}}),
    "page given twice": (400, "GET", CONNS, {"params": [("page", "1"), ("page", "2")]}),
    "pageSize 0": (400, "GET", CONNS, {"params": {"pageSize": "0"}}),
    "pageSize 5001": (400, "GET", CONNS, {"params": {"pageSize": "5001"}}),
    "pageSize unicode digits": (400, "GET", CONNS, {"params": {"pageSize": "\u0661\u0660"}}),
    "query unbalanced": (400, "GET", CONNS, {"params": {"query": "{{{{"}}),
    "query dangling": (400, "GET", CONNS, {"params": {"query": "status="}}),
    "query unknown field": (400, "GET", CONNS, {"params": {"query": "password=hunter2"}}),
    "query injection": (400, "GET", CONNS, {"params": {"query": "1=1; DROP TABLE x"}}),
    "query operator only": (400, "GET", CONNS, {"params": {"query": "=Linked"}}),
    "query huge": (400, "GET", CONNS, {"params": {"query": "status=Linked&&" * 3_000}}),
    "orderBy unknown": (400, "GET", CONNS, {"params": {"orderBy": "secret"}}),
    "orderBy double minus": (400, "GET", CONNS, {"params": {"orderBy": "--status"}}),
    "orderBy unicode": (400, "GET", CONNS, {"params": {"orderBy": "st\u00e4tus"}}),
    # --- bodies ---------------------------------------------------------------------------
    "create invalid json": (400, "POST", CONNS, {"body": b"{"}),
    "create empty body": (400, "POST", CONNS, {"body": b""}),
    "create json null": (400, "POST", CONNS, {"body": b"null"}),
    "create json array": (400, "POST", CONNS, {"json": ["gbol"]}),
    "create json string": (400, "POST", CONNS, {"json": "gbol"}),
    "create not utf8": (400, "POST", CONNS, {"body": b"\xff\xfe{\x00"}),
    "create form encoded": (
        400,
        "POST",
        CONNS,
        {"body": b"platformKey=gbol", "ctype": "application/x-www-form-urlencoded"},
    ),
    "create xml": (
        400,
        "POST",
        CONNS,
        {"body": b"<platformKey>gbol</platformKey>", "ctype": "application/xml"},
    ),
    "create platformKey missing": (400, "POST", CONNS, {"json": {}}),
    "create platformKey int": (400, "POST", CONNS, {"json": {"platformKey": 1234}}),
    "create platformKey list": (400, "POST", CONNS, {"json": {"platformKey": ["gbol"]}}),
    "create platformKey upper": (400, "POST", CONNS, {"json": {"platformKey": "GBOL"}}),
    "create platformKey unicode": (400, "POST", CONNS, {"json": {"platformKey": "\u011fbol"}}),
    "create platformKey huge": (400, "POST", CONNS, {"json": {"platformKey": "a" * 100_000}}),
    "create platformKey unknown": (400, "POST", CONNS, {"json": {"platformKey": "zzzz"}}),
    "create deeply nested json": (400, "POST", CONNS, {"body": b"[" * 100_000 + b"]" * 100_000}),
    "unlink wrong status": (400, "PATCH", ONE, {"json": {"status": "Linked"}}),
    "unlink extra field": (400, "PATCH", ONE, {"json": {"status": "Unlinked", "id": MISSING}}),
    "unlink body string": (400, "PATCH", ONE, {"json": "Unlinked"}),
    "unlink invalid json": (400, "PATCH", ONE, {"body": b"{'status': 'Unlinked'}"}),
    "unlink a pending connection": (
        400,
        "PATCH",
        "/companies/{cid}/connections/{pending}",
        {"json": {"status": "Unlinked"}},
    ),
    "company name wrong type": (400, "POST", "/companies", {"json": {"name": 42}}),
    "company name blank": (400, "POST", "/companies", {"json": {"name": "   "}}),
    "company name only forbidden characters": (
        400,
        "POST",
        "/companies",
        {"json": {"name": "<>()[]{}\x00\x1c"}},
    ),
    "company name too long": (400, "POST", "/companies", {"json": {"name": "a" * 256}}),
    "company description too long": (
        400,
        "POST",
        "/companies",
        {"json": {"name": "A", "description": "d" * 2001}},
    ),
    "company tags not object": (400, "POST", "/companies", {"json": {"name": "A", "tags": [1]}}),
}


def _params():
    for name, case in CASES.items():
        yield pytest.param(*case, id=name)


def _send(raw, world, method, path, options):
    url = world.sb.url + path.format(
        cid=world.company_id, linked=world.linked_id, pending=world.pending_id
    )
    headers = {}
    auth = options.get("auth", world.sb.auth_header)
    if auth is not None:
        headers["Authorization"] = auth
    data = options.get("body")
    if "json" in options:
        data = json.dumps(options["json"]).encode()
        headers["Content-Type"] = "application/json"
    if "ctype" in options:
        headers["Content-Type"] = options["ctype"]
    return raw.request(
        method, url, params=options.get("params"), data=data, headers=headers, timeout=30
    )


@pytest.mark.parametrize(("status", "method", "path", "options"), list(_params()))
def test_bad_request_gets_a_4xx_error_message_and_changes_nothing(
    world, raw, status, method, path, options
):
    state = world.sb.store.snapshot()
    response = _send(raw, world, method, path, options)
    assert_error_message(response, status)
    assert world.sb.store.snapshot() == state
    assert world.sb.unexpected_errors == []


def test_the_world_still_answers_normally_after_every_bad_request(world, raw):
    """All the cases in one connection's lifetime, then a good request on the same session."""
    for status, method, path, options in CASES.values():
        assert _send(raw, world, method, path, options).status_code == status
    good = raw.get(
        world.sb.url + CONNS.format(cid=world.company_id),
        headers={"Authorization": world.sb.auth_header},
    )
    assert good.status_code == 200
    assert [r["id"] for r in good.json()["results"]] == [
        r["id"] for r in world.sb.store.connections_wire(world.company_id)
    ]
