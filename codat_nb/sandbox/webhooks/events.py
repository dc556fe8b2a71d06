"""Codat's webhook events: which change of the store is which event, and each event's payload.

The event types and payloads are those of Codat's Platform API document (its ``webhooks``
section: ``ConnectionWebhook``, ``CompanyWebhook``, ``ClientRateLimitWebhook``) and
``docs/using-the-api/webhooks/event-types.md``. A status change maps to one event:
PendingAuth -> Linked is ``connection.connected``, Unlinked or Deauthorized -> Linked
``connection.reconnected``, Linked -> Unlinked or Deauthorized ``connection.disconnected``; a
link that failed (a new Active error entry, the status unchanged: ``Store.fail_link``) is
``connection.failed``; a sync (``lastSync`` alone moving) is no event. Pure functions: the ids
and the sending are ``hub``'s and ``delivery``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from codat_nb.sandbox.changes import Change, ChangeKind
from codat_nb.sandbox.limits import REACHED, QuotaEvent
from codat_nb.sandbox.responses import encode
from codat_nb.sandbox.shapes import LINKED, PENDING, stamp
from codat_nb.wire.schema import COMPANY

COMPANY_CREATED, COMPANY_DELETED = "company.created", "company.deleted"
CONNECTION_CREATED, CONNECTION_DELETED = "connection.created", "connection.deleted"
CONNECTION_CONNECTED, CONNECTION_RECONNECTED = "connection.connected", "connection.reconnected"
CONNECTION_DISCONNECTED, CONNECTION_FAILED = "connection.disconnected", "connection.failed"
RATE_LIMIT_REACHED, RATE_LIMIT_RESET = "client.rateLimit.reached", "client.rateLimit.reset"

#: The event types the sandbox sends.
SENT = (
    COMPANY_CREATED, COMPANY_DELETED, CONNECTION_CREATED, CONNECTION_CONNECTED,
    CONNECTION_DISCONNECTED, CONNECTION_RECONNECTED, CONNECTION_FAILED, CONNECTION_DELETED,
    RATE_LIMIT_REACHED, RATE_LIMIT_RESET,
)  # fmt: skip
#: Every event type Codat documents (the Platform and Sync for Expenses documents' ``webhooks``):
#: a consumer may subscribe to any of them, though the sandbox sends only ``SENT``.
DOCUMENTED = (
    *SENT, "company.product.added", "company.product.removed", "read.completed",
    "read.completed.initial", "expenses.sync.successful", "expenses.sync.unsuccessful",
)  # fmt: skip
#: ``{dataType}.write.successful`` and ``.unsuccessful``, a data type named in camelCase.
_WRITE_EVENT = re.compile(r"[a-z][A-Za-z]*\.write\.(un)?successful")

_BY_KIND = {
    ChangeKind.COMPANY_CREATED: COMPANY_CREATED,
    ChangeKind.COMPANY_DELETED: COMPANY_DELETED,
    ChangeKind.CONNECTION_CREATED: CONNECTION_CREATED,
    ChangeKind.CONNECTION_DELETED: CONNECTION_DELETED,
}
#: The ``companyDetails`` properties, in the document's order (``ownerUserIds`` is not one).
_COMPANY_DETAILS = tuple(
    f.wire for f in COMPANY.fields if f.contract and f.wire != "dataConnections"
)
#: Where a company's page in Codat's portal is (``links.portal``); the sandbox has no portal.
PORTAL = "https://app.codat.io/companies/{}/summary"


def is_documented(event_type: str) -> bool:
    return event_type in DOCUMENTED or bool(_WRITE_EVENT.fullmatch(event_type))


def event_type(change: Change) -> str | None:
    """The event a change of the store is, or None (a sync, a move Codat sends nothing for)."""
    if change.kind is not ChangeKind.CONNECTION_CHANGED:
        return _BY_KIND[change.kind]
    if change.status_changed:
        if change.status == LINKED:
            return (
                CONNECTION_CONNECTED
                if change.previous_status == PENDING
                else (CONNECTION_RECONNECTED)
            )
        return CONNECTION_DISCONNECTED if change.previous_status == LINKED else None
    if _active_errors(change.connection) > _active_errors(change.previous):
        return CONNECTION_FAILED
    return None


def _active_errors(row: Mapping[str, Any] | None) -> int:
    errors = (row or {}).get("dataConnectionErrors") or []
    return sum(error.get("status") == "Active" for error in errors)


@dataclass(frozen=True)
class Event:
    """One event, ready to send: its id, type, time on the sandbox clock and JSON body (the
    same bytes on every attempt to every consumer)."""

    id: str
    type: str
    generated: datetime
    body: bytes


def change_event(event_id: str, kind: str, change: Change) -> Event:
    """The event for a change of the store (``kind`` from ``event_type``)."""
    company = change.company
    if change.connection is None:
        payload: dict[str, Any] = {k: company[k] for k in _COMPANY_DETAILS if k in company}
    else:
        payload = {"referenceCompany": reference(company), "connection": change.connection}
    return _event(event_id, kind, change.at, payload)


def quota_event_type(quota: QuotaEvent) -> str:
    return RATE_LIMIT_REACHED if quota.kind == REACHED else RATE_LIMIT_RESET


def quota_event(event_id: str, quota: QuotaEvent) -> Event:
    """``client.rateLimit.reached`` or ``reset``: the quota, what is left of it, its expiry."""
    payload = {
        "dailyQuota": quota.limit,
        "quotaRemaining": quota.remaining,
        "expiryDate": stamp(quota.expires),
    }
    return _event(event_id, quota_event_type(quota), quota.at, payload)


def reference(company: Mapping[str, Any]) -> dict[str, Any]:
    """A ``companyReference``: id, name, description, the portal link and the tags."""
    found: dict[str, Any] = {"id": company["id"], "name": company["name"]}
    if "description" in company:
        found["description"] = company["description"]
    found["links"] = {"portal": PORTAL.format(company["id"])}
    if company.get("tags"):
        found["tags"] = dict(company["tags"])
    return found


def _event(event_id: str, kind: str, at: datetime, payload: dict[str, Any]) -> Event:
    body = {"id": event_id, "eventType": kind, "generatedDate": stamp(at), "payload": payload}
    return Event(event_id, kind, at, encode(body))
