"""How a record the sandbox makes looks on the wire: ids, stamps, new companies and connections.

The store, the seed and the scale loads build their records here, so a new field or a change of
order is made once. Every record is the exact dict Codat would send, its fields in the schema's
order (``wire/schema.py``).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from codat_nb.platforms import Platform
from codat_nb.wire.dates import format_codat_datetime
from codat_nb.wire.schema import CONNECTION

UNLINKED, LINKED, PENDING, DEAUTHORIZED = "Unlinked", "Linked", "PendingAuth", "Deauthorized"
#: ``createdByUserName`` of a company created through the API: the user the sandbox's API key
#: belongs to (Codat's examples name a person; the sandbox's key has this user).
API_USER_NAME = "Sandbox User"


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def stamp(value: datetime) -> str:
    return format_codat_datetime(value)


@cache
def integration_id(platform_key: str) -> str:
    """Codat's integration id is fixed per platform; derive it so it is stable across seeds."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://api.codat.io/integrations/{platform_key}"))


def in_wire_order(row: Mapping[str, Any]) -> dict[str, Any]:
    """The connection's fields in the schema's order; an explicit ``null`` is kept (Codat sends
    both a null and a missing optional field)."""
    return {k: row[k] for k in CONNECTION.wire_names if k in row}


def company_details(
    *,
    company_id: str,
    name: str,
    description: str | None,
    redirect: str,
    created: str,
    tags: Mapping[str, str] | None,
) -> dict[str, Any]:
    """A company as the API creates it (without ``dataConnections``, which the store adds),
    shaped as the create-company examples of Codat's document: ``description: ""`` when none is
    given, ``createdByUserName`` and ``products``."""
    details: dict[str, Any] = {"id": company_id, "name": name}
    details["description"] = "" if description is None else description
    details["redirect"] = redirect
    details["created"] = created
    details["createdByUserName"] = API_USER_NAME
    details["products"] = ["expenses"]
    if tags:
        details["tags"] = dict(tags)
    details["ownerUserIds"] = []  # owners are set in Codat's portal, never by the API
    details["referenceSubsidiaryCompanies"] = []
    return details


def connection_wire(
    *,
    connection_id: str,
    platform: Platform,
    source_id: str,
    link_url: str,
    status: str,
    created: str,
    last_sync: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Connection as the API sends it for a new row: optional fields left out, not null."""
    row: dict[str, Any] = {
        "id": connection_id,
        "integrationId": integration_id(platform.key),
        "integrationKey": platform.key,
        "sourceId": source_id,
        "platformName": platform.name,
        "linkUrl": link_url,
        "status": status,
        "lastSync": last_sync,
        "created": created,
        "sourceType": platform.source_type,
        "dataConnectionErrors": errors or None,
    }
    return in_wire_order({k: v for k, v in row.items() if v is not None})


def access_error(status_code: str, status_text: str, message: str, at: str) -> dict[str, Any]:
    """An Active ``dataConnectionErrors`` entry: what a platform revoking access leaves."""
    return {
        "statusCode": status_code,
        "statusText": status_text,
        "errorMessage": message,
        "erroredOnUtc": at,
        "status": "Active",
    }


def resolved(errors: list[dict[str, Any]], at: str) -> list[dict[str, Any]]:
    """``errors`` with every Active entry Resolved at ``at`` (a re-link clears them)."""
    return [
        {**e, "status": "Resolved", "resolvedOnUtc": at} if e.get("status") == "Active" else e
        for e in errors
    ]
