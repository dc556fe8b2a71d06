"""Plain helpers the tests import (fixtures live in ``conftest.py``; never import a conftest)."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from codat_nb import CodatClient, RetryPolicy
from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.knobs import FLAG, FRACTION, Knob, configure, count, number, optional
from codat_nb.wire.models import ErrorMessage

ROOT = Path(__file__).resolve().parents[1]
#: Codat's OpenAPI document, beside the checkout (``../shared/codat``) unless said otherwise.
SPEC_PATH = Path(
    os.environ.get("CODAT_OPENAPI_PATH", ROOT.parent / "shared/codat/Codat-Sync-Expenses-v1.json")
)
#: Codat's Platform API document (webhook consumers and events), beside the other.
PLATFORM_SPEC_PATH = Path(
    os.environ.get("CODAT_PLATFORM_OPENAPI_PATH", SPEC_PATH.parent / "Codat-Platform.json")
)
#: Retries as persistent as production's, with millisecond waits, so fault tests stay fast.
FAST_RETRIES = RetryPolicy(max_retries=30, backoff=0.001, backoff_max=0.01, jitter=0.5, deadline=60)
#: One quick retry: for tests of how a failure is shown, not of how it is survived.
FEW_RETRIES = RetryPolicy(max_retries=1, backoff=0.001, jitter=0, deadline=5)
PLATFORM_KEYS = ("gbol", "qhyg", "suuo", "fztf", "exgd", "akxx", "upvr")


def client_for(sb: Sandbox, **options: Any) -> CodatClient:
    """A client for ``sb`` (FAST_RETRIES unless ``retries=`` says otherwise)."""
    options.setdefault("retries", FAST_RETRIES)
    return CodatClient(auth_header=sb.auth_header, base_url=sb.url, **options)


def make_company(sb: Sandbox, n_connections: int, name: str = "Paging Test Ltd") -> str:
    """A company with ``n_connections`` connections of mixed platforms (a third of them
    Linked), made through the store; returns its id."""
    company_id = sb.store.create_company(name)["id"]
    for i in range(n_connections):
        row = sb.store.create_connection(company_id, PLATFORM_KEYS[i % len(PLATFORM_KEYS)])
        if i % 3 == 0:
            sb.store.link(company_id, row["id"])
    return company_id


def auth_session(sb: Sandbox) -> requests.Session:
    """A keep-alive session that sends the sandbox's Authorization header on every request."""
    session = requests.Session()
    session.headers["Authorization"] = sb.auth_header
    return session


def expect_error(
    response: requests.Response,
    status: int,
    *,
    item_id: str | None = None,
    contains: str | None = None,
    service: str | None = None,
) -> dict:
    """Assert an ErrorMessage of ``status``: JSON, fresh correlationId, naming the field."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    body = response.json()
    assert body["statusCode"] == status
    assert re.fullmatch(r"[0-9a-f]{32}", body["correlationId"])
    assert body["canBeRetried"] == "Unknown"  # as in every example of the contract
    assert body["detailedErrorCode"] == 0
    if service is not None:
        assert body["service"] == service
    if contains is not None:
        assert contains in body["error"], body["error"]
    if item_id is None:
        assert body["validation"] == {"errors": [], "warnings": []}
    else:
        items = body["validation"]["errors"]
        assert [i["itemId"] for i in items] == [item_id], items
        assert items[0]["message"] and items[0]["validatorName"]
        assert body["validation"]["warnings"] == []
    return body


def assert_error_message(response: requests.Response, status: int) -> ErrorMessage:
    """A 4xx answer is Codat's ErrorMessage: JSON, the status, a message, a correlationId."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json", response.headers
    body = response.json()
    assert isinstance(body, dict)
    assert {"statusCode", "service", "error", "correlationId", "validation"} <= body.keys()
    parsed = ErrorMessage.model_validate(body)
    assert parsed.status_code == status
    assert isinstance(parsed.error, str) and parsed.error.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", parsed.correlation_id or "")
    assert isinstance(body["validation"]["errors"], list)
    return parsed


class Settings:
    """Every kind of sandbox knob, declared as real ones are; records ``on_change`` calls."""

    enabled = Knob(FLAG, False, "an on/off switch")
    quota = Knob(count(1), 100, "an int")
    limit = Knob(optional(count(1)), None, "an optional int")
    delay = Knob(number(minimum=0), 0.0, "a float", on_change=lambda s: s.changes.append("delay"))
    share = Knob(FRACTION, 0.0, "a fraction, 50% at most in practice")

    def __init__(self, **options: Any):
        self.changes: list[str] = []
        configure(self, options)


def nullable_to_31(node: Any) -> Any:
    """An OpenAPI 3.0 ``nullable: true`` as its 3.1 meaning (``null`` also allowed): Codat's
    documents say 3.1 but mark fields the 3.0 way."""
    if isinstance(node, list):
        return [nullable_to_31(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: nullable_to_31(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def schema_validators(spec_path: Path) -> Callable[[str], Draft202012Validator]:
    """``make(pointer)``: a JSON Schema validator for the schema at ``pointer`` in the document
    at ``spec_path`` (formats checked, ``nullable`` read as ``nullable_to_31`` reads it)."""
    base = f"urn:codat-openapi:{spec_path.name}"
    spec = nullable_to_31(json.loads(spec_path.read_text()))
    registry = Registry().with_resource(base, Resource(contents=spec, specification=DRAFT202012))

    def make(pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{base}#{pointer}"}, registry=registry, format_checker=FormatChecker()
        )

    return make


def schema_problems(spec_path: Path, pointer: str, body: Any) -> list[str]:
    """Where ``body`` breaks the schema at ``pointer`` (empty when it validates)."""
    validator = schema_validators(spec_path)(pointer)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)
    ]


def webhook_problems(event: dict[str, Any]) -> list[str]:
    """Where a webhook body breaks the schema Codat's Platform document gives its event type
    (its top-level ``webhooks``); a type the document does not have is a problem too."""
    if event.get("eventType") not in _documented_webhooks():
        return [f"eventType: {event.get('eventType')!r} is not in the document's webhooks"]
    pointer = f"/webhooks/{event['eventType']}/post/requestBody/content/application~1json/schema"
    return schema_problems(PLATFORM_SPEC_PATH, pointer, event)


@functools.cache
def _documented_webhooks() -> frozenset[str]:
    return frozenset(json.loads(PLATFORM_SPEC_PATH.read_text())["webhooks"])


def response_schema(spec: dict, method: str, path: str, status: int) -> str:
    """JSON pointer to the schema of this operation's response, or ErrorMessage if unlisted."""
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            responses = item[method.lower()]["responses"]
            response = responses.get(str(status))
            if response is None:
                break
            if "$ref" in response:
                name = response["$ref"].rsplit("/", 1)[1]
                return f"/components/responses/{name}/content/application~1json/schema"
            escaped = template.replace("~", "~0").replace("/", "~1")
            return (
                f"/paths/{escaped}/{method.lower()}/responses/{status}"
                "/content/application~1json/schema"
            )
    return "/components/schemas/ErrorMessage"
