"""Codat's webhook events in the history: checked, stored once, read back as a DataFrame.

A webhook body (``{"id", "eventType", "generatedDate", "payload"}``, Codat's Platform API
document, ``webhooks``) becomes an ``Event``: the ids, times and the few values a support
question filters by (company, connection, status, platform) as columns, and the whole event as
JSON. Codat delivers at least once, so an event is stored once whatever arrives: a message
whose ``webhook-id`` or event ``id`` is already stored is skipped, inside the writer's
transaction (the write lock makes the check and the insert one step; the ``UNIQUE`` columns
back it). Link URLs lose their one-time password, as in snapshots (``encoding``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from codat_nb.history.backend import Database
from codat_nb.history.encoding import category, from_micros, micros, without_one_time_password
from codat_nb.wire.dates import as_instant

#: The company and connection an event is about, as text columns.
_TEXT = ("company_id", "company_name", "connection_id", "status", "platform_name",
         "integration_key", "source_type")  # fmt: skip
#: Columns of ``History.events()``, in order.
EVENT_COLUMNS = ("event_id", "event_type", "generated_at", "received_at", *_TEXT, "message_id",
                 "payload")  # fmt: skip
#: What is stored per event (``event`` table), beside its key.
STORED_COLUMNS = ("message_id", "event_id", "event_type", "generated_at", "received_at", *_TEXT,
                  "body")  # fmt: skip
_CATEGORIES = ("status", "platform_name", "integration_key", "source_type")
MAX_ID_LENGTH = 256  # a webhook-id or event id longer than this is not Codat's


@dataclass(frozen=True)
class Event:
    """One webhook event as the history stores it (times as UTC Timestamps)."""

    message_id: str  # the webhook-id header: the same on every delivery of the message
    event_id: str  # the body's ``id``
    event_type: str
    generated_at: pd.Timestamp  # when Codat generated it (the body's ``generatedDate``)
    received_at: pd.Timestamp  # when the receiver got it
    company_id: str | None
    company_name: str | None
    connection_id: str | None
    status: str | None
    platform_name: str | None
    integration_key: str | None
    source_type: str | None
    body: str  # the event as JSON (ASCII), link URLs without one-time passwords

    def payload(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found

    def line(self) -> str:
        """One line for a person or a log pipeline: time, type, company, connection, status."""
        parts = [self.generated_at.isoformat(), self.event_type]
        if self.company_name or self.company_id:
            parts.append(f"company={json.dumps(self.company_name)} ({self.company_id})")
        if self.connection_id:
            parts.append(f"connection={self.connection_id}")
        if self.status:
            parts.append(f"status={self.status}")
        if self.platform_name:
            parts.append(f"platform={json.dumps(self.platform_name)}")
        return " ".join([*parts, f"event={self.event_id}"])


def _text(value: Any) -> str | None:
    """A text value as both databases store it (no NUL, no lone surrogate), or None."""
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "\ufffd")
    return cleaned.encode("utf-8", "replace").decode("utf-8")


def _identifier(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r:.60}")
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise ValueError(f"{name} is not an id (over {MAX_ID_LENGTH} characters or unprintable)")
    return value


def _about(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The company and connection an event is about, from its payload's documented shapes:
    ``referenceCompany`` + ``connection`` (ConnectionWebhook), the company itself
    (CompanyWebhook), or a ``companyId`` (the data events)."""
    company = payload.get("referenceCompany")
    if not isinstance(company, Mapping):
        company = payload if event_type.startswith("company.") else {}
    connection = payload.get("connection")
    connection = connection if isinstance(connection, Mapping) else {}
    return {
        "company_id": company.get("id", payload.get("companyId")),
        "company_name": company.get("name"),
        "connection_id": connection.get("id"),
        "status": connection.get("status"),
        "platform_name": connection.get("platformName"),
        "integration_key": connection.get("integrationKey"),
        "source_type": connection.get("sourceType"),
    }


def from_webhook(message_id: str, body: bytes | str, received_at: pd.Timestamp) -> Event:
    """The ``Event`` a webhook body is; ValueError naming what is wrong with it."""
    _identifier(message_id, "webhook-id")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    except RecursionError:
        raise ValueError("the body is JSON nested too deeply") from None
    if not isinstance(event, dict):
        raise ValueError(f"the body must be a JSON object, not {type(event).__name__}")
    event_id = _identifier(event.get("id"), "the event's id")
    event_type = _identifier(event.get("eventType"), "eventType")
    generated = event.get("generatedDate")
    when = as_instant(generated) if isinstance(generated, str) else None
    if when is None:
        raise ValueError(f"generatedDate must be a date-time, got {generated!r:.60}")
    payload = event.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ValueError(f"payload must be a JSON object, not {type(payload).__name__}")
    connection = payload.get("connection")
    if isinstance(connection, dict) and "linkUrl" in connection:
        connection["linkUrl"] = without_one_time_password(connection["linkUrl"])
    about = {key: _text(value) for key, value in _about(event_type, payload).items()}
    return Event(
        message_id=message_id,
        event_id=event_id,
        event_type=event_type,
        generated_at=pd.Timestamp(when).as_unit("us"),
        received_at=pd.Timestamp(received_at).tz_convert("UTC").as_unit("us"),
        body=json.dumps(event, separators=(",", ":"), ensure_ascii=True),
        **about,
    )


def store(db: Database, events: Sequence[Event]) -> list[bool]:
    """Store the events not stored yet (inside the caller's write transaction); for each,
    whether it was new (False: its ``webhook-id`` or event id was stored before, or earlier in
    ``events``)."""
    messages = {
        m for (m,) in db.matching("event", "message_id", [e.message_id for e in events], ())
    }
    ids = {i for (i,) in db.matching("event", "event_id", [e.event_id for e in events], ())}
    fresh: list[bool] = []
    for event in events:
        known = event.message_id in messages or event.event_id in ids
        fresh.append(not known)
        messages.add(event.message_id)
        ids.add(event.event_id)
    new = [event for event, is_new in zip(events, fresh, strict=True) if is_new]
    first = int(db.value("SELECT coalesce(max(id), 0) + 1 FROM event"))
    rows = [
        (first + n, e.message_id, e.event_id, e.event_type, micros(e.generated_at),
         micros(e.received_at), *(getattr(e, c) for c in _TEXT), e.body)
        for n, e in enumerate(new)
    ]  # fmt: skip
    db.insert("event", ("id", *STORED_COLUMNS), rows)
    return fresh


def read(
    db: Database,
    since: int | None,
    until: int | None,
    company_id: str | None,
    event_types: Sequence[str] | None,
) -> pd.DataFrame:
    """The stored events generated in [since, until] (µs; None: unbounded), of one company
    and of some types if asked, oldest first (ties by event id)."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if since is not None:
        where.append("generated_at >= ?")
        params.append(since)
    if until is not None:
        where.append("generated_at <= ?")
        params.append(until)
    if company_id is not None:
        where.append("company_id = ?")
        params.append(company_id)
    if event_types is not None:  # none asked for: no rows (PostgreSQL refuses "IN ()")
        where.append(f"event_type IN ({', '.join('?' * len(event_types))})" if event_types
                     else "1 = 0")  # fmt: skip
        params += event_types
    rows = db.rows(
        f"SELECT {', '.join(STORED_COLUMNS)} FROM event WHERE {' AND '.join(where)} "
        "ORDER BY generated_at, event_id",
        params,
    )
    return frame(rows)


def frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Stored event rows (STORED_COLUMNS) as ``History.events()``'s frame."""
    columns = dict(zip(STORED_COLUMNS, zip(*rows, strict=True), strict=True)) if rows else {
        name: () for name in STORED_COLUMNS
    }  # fmt: skip
    data: dict[str, Any] = {
        "event_id": pd.Series(columns["event_id"], dtype="str"),
        "event_type": category("event_type", list(columns["event_type"])),
    }
    for name in ("generated_at", "received_at"):
        data[name] = from_micros(np.asarray(columns[name], dtype=np.int64))
    for name in _TEXT:
        values = list(columns[name])
        data[name] = (
            category(name, values) if name in _CATEGORIES else pd.Series(values, dtype="str")
        )
    data["message_id"] = pd.Series(columns["message_id"], dtype="str")
    data["payload"] = pd.Series(
        [json.loads(body).get("payload") for body in columns["body"]], dtype=object
    )
    events: pd.DataFrame = pd.DataFrame(data, columns=list(EVENT_COLUMNS))
    return events


def last_received(db: Database) -> int | None:
    """When the latest event was received (µs), or None when none is stored."""
    found = db.value("SELECT max(received_at) FROM event")
    return None if found is None else int(found)
