"""Plain helpers the tests import (fixtures live in ``conftest.py``; never import a conftest)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import requests

from codat_nb import CodatClient, RetryPolicy
from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.knobs import FLAG, FRACTION, Knob, configure, count, number, optional
from codat_nb.wire.models import ErrorMessage

ROOT = Path(__file__).resolve().parents[1]
#: Codat's OpenAPI document, beside the checkout (``../shared/codat``) unless said otherwise.
SPEC_PATH = Path(
    os.environ.get("CODAT_OPENAPI_PATH", ROOT.parent / "shared/codat/Codat-Sync-Expenses-v1.json")
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


def assert_chart_fits(ax: Any) -> None:
    """Nothing of ``ax``'s chart is cut off: every text of its figure (title, axis and tick
    labels, legend) lies inside the figure once drawn, every bar ends inside the axes, short
    of the frame, and every line's markers lie inside the figure."""
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    bounds = figure.bbox.expanded(1.0, 1.0)

    def inside(extent: Any) -> bool:
        return (
            bounds.x0 - 0.5 <= extent.x0
            and extent.x1 <= bounds.x1 + 0.5
            and bounds.y0 - 0.5 <= extent.y0
            and extent.y1 <= bounds.y1 + 0.5
        )

    off_view = {  # tick labels matplotlib keeps but does not draw: ticks beyond the limits
        id(label)
        for axis in (ax.xaxis, ax.yaxis)
        for tick in axis.get_major_ticks() + axis.get_minor_ticks()
        if not min(axis.get_view_interval()) <= tick.get_loc() <= max(axis.get_view_interval())
        for label in (tick.label1, tick.label2)
    }
    shown = [
        t
        for t in figure.findobj(_text_type())
        if t.get_visible() and t.get_text() and id(t) not in off_view
    ]
    assert shown
    for text in shown:
        assert inside(text.get_window_extent(renderer)), f"{text.get_text()!r} is cut off"
    (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
    for bar in ax.patches:
        end = bar.get_x() + bar.get_width()
        assert left <= bar.get_x() and end < right, f"a bar ends at {end}, the axis at {right}"
        assert bottom <= bar.get_y() and bar.get_y() + bar.get_height() <= top
    for line in ax.get_lines():
        assert inside(line.get_window_extent(renderer)), f"line {line.get_label()} is cut off"
        assert all(bottom <= y <= top for y in line.get_ydata()), line.get_label()


def _text_type() -> type:
    from matplotlib.text import Text

    return Text
