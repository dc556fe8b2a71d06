"""Helpers for the sandbox's own tests: error checks, and a class with every kind of knob."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from codat_nb.sandbox.knobs import FLAG, FRACTION, Knob, configure, count, number, optional


def _expect_error(
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


@pytest.fixture
def expect_error():
    return _expect_error


class Settings:
    """Every kind of knob, declared as the next ones will be; records ``on_change`` calls."""

    enabled = Knob(FLAG, False, "an on/off switch")
    quota = Knob(count(1), 100, "an int")
    limit = Knob(optional(count(1)), None, "an optional int")
    delay = Knob(number(minimum=0), 0.0, "a float", on_change=lambda s: s.changes.append("delay"))
    share = Knob(FRACTION, 0.0, "a fraction, 50% at most in practice")

    def __init__(self, **options: Any):
        self.changes: list[str] = []
        configure(self, options)
