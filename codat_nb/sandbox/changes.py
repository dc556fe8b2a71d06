"""The store's change feed: one ``Change`` for every record created, changed or deleted.

Whatever causes it (a request, the customer's link page, ``sb.advance``, ``sb.store.deauthorize``,
a bulk load), a write to a company or a connection goes through ``Records`` (``records.py``),
which applies it and then publishes it here, so code that must hear of every change (Codat's
webhooks, say) subscribes in one place: ``sb.store.subscribe(listener)``.

Listeners run in the writing thread, in the order the changes were made, while the store's lock
is held: each sees the store exactly as the change left it, and no other write comes between. So
a listener must be quick and must not wait on another thread that uses the store (queue slow
work instead); it may read the store. An exception from a listener propagates to the writer
after the change was applied. The records a ``Change`` carries are the store's own, which it
never changes in place: keep them, never change them.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class ChangeKind(enum.Enum):
    COMPANY_CREATED = "company created"
    #: Its name, description or tags (update or replace company).
    COMPANY_CHANGED = "company changed"
    COMPANY_DELETED = "company deleted"
    CONNECTION_CREATED = "connection created"
    #: Any change to a stored connection: its status, ``lastSync``, its errors.
    CONNECTION_CHANGED = "connection changed"
    CONNECTION_DELETED = "connection deleted"


@dataclass(frozen=True)
class Change:
    """One record changed, at ``at`` on the sandbox clock.

    ``company`` is the company's details (without ``dataConnections``), as they were when it
    was deleted; ``connection`` the connection as the change left it (as it was, when deleted);
    ``previous`` the connection before a CONNECTION_CHANGED. Deleting a company publishes a
    CONNECTION_DELETED for each connection it held first, then the COMPANY_DELETED.
    """

    kind: ChangeKind
    at: datetime
    company: Mapping[str, Any]
    connection: Mapping[str, Any] | None = None
    previous: Mapping[str, Any] | None = None

    @property
    def status(self) -> str | None:
        """The connection's status after the change (None for a company change)."""
        return None if self.connection is None else str(self.connection["status"])

    @property
    def previous_status(self) -> str | None:
        """The connection's status before a CONNECTION_CHANGED (None otherwise)."""
        return None if self.previous is None else str(self.previous["status"])

    @property
    def status_changed(self) -> bool:
        """Whether a CONNECTION_CHANGED moved the status (not only ``lastSync``, say)."""
        return self.previous is not None and self.previous_status != self.status

    def __str__(self) -> str:
        record = self.company["id"] if self.connection is None else self.connection["id"]
        moved = f" {self.previous_status} -> {self.status}" if self.status_changed else ""
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind.value} {record}{moved}"


#: Hears of every change; see the module's docstring for what it may do.
Listener = Callable[[Change], None]


class ChangeFeed:
    """The listeners, called in the order they subscribed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Listener, ...] = ()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every change from now on; returns the call that stops it."""
        if not callable(listener):
            raise TypeError(f"a listener must be callable, got {listener!r}")
        token = _Subscription(listener)
        with self._lock:
            self._listeners = (*self._listeners, token)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not token)

        return unsubscribe

    @property
    def heard(self) -> bool:
        """Whether anyone listens (a bulk load builds no changes for nobody)."""
        return bool(self._listeners)

    def publish(self, change: Change) -> None:
        for listener in self._listeners:  # a snapshot: (un)subscribing meanwhile is safe
            listener(change)


class _Subscription:
    """One subscription: the same function subscribed twice is two, each stopped on its own."""

    def __init__(self, listener: Listener):
        self._listener = listener

    def __call__(self, change: Change) -> None:
        self._listener(change)
