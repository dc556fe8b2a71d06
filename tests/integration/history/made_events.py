"""Webhook events made by hand, in the shape Codat's Platform document gives them (the
sandbox's own webhooks are used end to end in tests/integration/events/)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pandas as pd

from codat_nb.history.event_log import Event, from_webhook

_numbers = itertools.count(1)
RECEIVED = pd.Timestamp("2030-01-01T00:00:00Z")


def connection_event(
    event_type: str,
    company: tuple[str, str],
    connection: dict[str, Any],
    at: Any,
    *,
    message_id: str | None = None,
    event_id: str | None = None,
) -> Event:
    """A ConnectionWebhook for ``connection`` (a wire row) of ``company`` (id, name) at ``at``."""
    number = next(_numbers)
    body = {
        "id": event_id or f"00000000-0000-4000-8000-{number:012d}",
        "eventType": event_type,
        "generatedDate": pd.Timestamp(at).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "payload": {
            "referenceCompany": {"id": company[0], "name": company[1]},
            "connection": connection,
        },
    }
    return from_webhook(message_id or f"msg_{number:027d}", json.dumps(body), RECEIVED)


def wire(row: Any, status: str | None = None) -> dict[str, Any]:
    """A ``list_all()`` row as the connection object of an event (``status`` overriding)."""
    return {
        "id": row["id"],
        "status": status or row["status"],
        "platformName": row["platform_name"],
        "integrationKey": row["integration_key"],
        "sourceType": row["source_type"],
        "linkUrl": row["link_url"],
    }
