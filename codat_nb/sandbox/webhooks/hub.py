"""``Webhooks``: the sandbox's webhook service, ``sb.webhooks``.

It keeps the consumers (``consumers.py``), hears every change of the store while at least one
exists (``store.subscribe``) and the rate limits' quota events, turns each into Codat's event
(``events.py``) and hands it to the deliverer (``delivery.py``) for every consumer that wants
it: one event id, one ``webhook-id`` and one body per event, whoever receives it. Nothing is
built while no consumer wants an event, and a consumer created later does not get what
happened before (Codat's "missed messages"). Ids come from generators seeded with the sandbox's
seed, so the same seed and the same calls give the same consumers, events and bodies.

Lock order: the store's, then this one's, then the deliverer's (the store's listeners run under
the store's lock and take this one).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from codat_nb.sandbox.changes import Change
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.limits import QuotaEvent
from codat_nb.sandbox.rules import CompanyNotFound, RuleViolation
from codat_nb.sandbox.shapes import new_uuid
from codat_nb.sandbox.store import Store
from codat_nb.sandbox.webhooks.consumers import (
    MAX_CONSUMERS,
    Consumer,
    ConsumerNotFound,
    TooManyConsumers,
    prototype,
)
from codat_nb.sandbox.webhooks.delivery import Attempt, Deliverer
from codat_nb.sandbox.webhooks.events import (
    Event,
    change_event,
    event_type,
    quota_event,
    quota_event_type,
)
from codat_nb.sandbox.webhooks.outbox import Message, Pending
from codat_nb.sandbox.webhooks.signing import consumer_secret

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Real seconds ``flush`` waits by default.
FLUSH_TIMEOUT = 30.0


class Webhooks:
    """Codat's webhooks for one sandbox: consumers, events, delivery. Thread-safe."""

    def __init__(
        self,
        store: Store,
        faults: Faults,
        seed: str,
        notice_the_day: Callable[[], None] = lambda: None,
    ):
        self._store, self._seed = store, seed
        self._notice_the_day = notice_the_day  # before a flush: a new day's quota reset
        self._lock = threading.Lock()
        self._consumer_ids = random.Random(f"webhook-consumers:{seed}")
        self._event_ids = random.Random(f"webhook-events:{seed}")
        self._consumers: dict[str, Consumer] = {}
        self._deliverer = Deliverer(store.clock, faults, seed)
        self._unsubscribe: Callable[[], None] | None = None

    # ----- consumers (Codat's Platform API) ----------------------------------------------
    def create(
        self,
        url: str,
        event_types: Sequence[str],
        *,
        disabled: bool = False,
        company_id: str | None = None,
        company_tags: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Register a consumer, as ``POST /webhooks`` does; its ``WebhookConsumer`` (with its
        ``id``). A bad argument raises ValueError naming it; the 51st consumer too."""
        body: dict[str, Any] = {"url": url, "eventTypes": _listed(event_types)}
        body.update(disabled=disabled, companyId=company_id, companyTags=_listed(company_tags))
        return self.create_from(body)

    def create_from(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Register a consumer from a ``POST /webhooks`` body (``RuleViolation`` if refused)."""
        asked = prototype(body)
        with self._store.locked():  # the company stays there while the consumer is added
            if asked.company_id is not None and not self._company_exists(asked.company_id):
                raise RuleViolation("companyId", "no company has this id", "CompanyExists")
            with self._lock:
                if len(self._consumers) >= MAX_CONSUMERS:
                    raise TooManyConsumers()
                consumer_id = new_uuid(self._consumer_ids)
                consumer = Consumer(
                    consumer_id, asked.url, asked.event_types, asked.company_id, asked.company_tags
                )
                secret = consumer_secret(self._seed, consumer_id)
                self._deliverer.open(consumer_id, asked.url, secret, asked.disabled)
                self._consumers[consumer_id] = consumer
                if self._unsubscribe is None:
                    self._unsubscribe = self._store.subscribe(self._hear)
                return consumer.wire(asked.disabled)

    def consumers(self) -> list[dict[str, Any]]:
        """Every consumer's ``WebhookConsumer``, in the order they were created."""
        with self._lock:
            return [c.wire(self._deliverer.is_disabled(c.id)) for c in self._consumers.values()]

    def delete(self, consumer_id: str) -> None:
        """Delete a consumer: it gets nothing more, and loses its pending attempts."""
        with self._lock:
            consumer = self._consumer(consumer_id)
            del self._consumers[consumer.id]
            self._deliverer.close(consumer.id)
            if not self._consumers and self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    def enable(self, consumer_id: str) -> None:
        """Enable a disabled consumer (the sandbox's stand-in for the Portal's "Enable
        endpoint": Codat's API has no route for it). What it was owed goes on, due now."""
        with self._lock:
            self._deliverer.set_disabled(self._consumer(consumer_id).id, False)

    def disable(self, consumer_id: str) -> None:
        """Disable a consumer: nothing is sent to it, and what happens meanwhile is missed."""
        with self._lock:
            self._deliverer.set_disabled(self._consumer(consumer_id).id, True)

    def secret(self, consumer_id: str) -> str:
        """The consumer's signing secret (``whsec_...``): Codat shows it in the Portal only."""
        with self._lock:
            return consumer_secret(self._seed, self._consumer(consumer_id).id)

    # ----- delivery ----------------------------------------------------------------------
    def flush(self, timeout: float = FLUSH_TIMEOUT) -> None:
        """Wait until every delivery due now (sandbox clock) has been attempted, held
        (out-of-order) ones included; TimeoutError after ``timeout`` real seconds."""
        self._notice_the_day()
        self._deliverer.flush(timeout)

    def attempts(self, consumer_id: str | None = None) -> list[Attempt]:
        """Every attempt made so far (of one consumer, or all), in the order they ended."""
        return self._deliverer.attempts(_lower(consumer_id))

    def pending(self, consumer_id: str | None = None) -> list[Pending]:
        """What consumers are still owed, with when each next attempt is due."""
        return self._deliverer.pending(_lower(consumer_id))

    def wake(self) -> None:
        """The clock moved without a change: let due retries go."""
        self._deliverer.wake()

    def stop(self) -> None:
        with self._lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
        self._deliverer.stop()

    # ----- events ------------------------------------------------------------------------
    def quota_changed(self, quota: QuotaEvent) -> None:
        """The rate limits' hook: the daily quota was reached or reset."""
        self._publish(quota_event_type(quota), None, lambda event_id: quota_event(event_id, quota))

    def _hear(self, change: Change) -> None:
        kind = event_type(change)
        if kind is not None:
            self._publish(
                kind, change.company, lambda event_id: change_event(event_id, kind, change)
            )

    def _publish(
        self, kind: str, company: Mapping[str, Any] | None, build: Callable[[str], Event]
    ) -> None:
        with self._lock:
            wanting = [c.id for c in self._consumers.values() if c.wants(kind, company)]
            if not wanting:
                return
            event = build(new_uuid(self._event_ids))
            message_id = "msg_" + "".join(self._event_ids.choices(_BASE62, k=27))
            message = Message(message_id, event)
            for consumer_id in wanting:
                self._deliverer.enqueue(consumer_id, message)

    def _consumer(self, consumer_id: str) -> Consumer:
        consumer = self._consumers.get(_lower(consumer_id) or "")
        if consumer is None:
            raise ConsumerNotFound(consumer_id)
        return consumer

    def _company_exists(self, company_id: str) -> bool:
        try:
            self._store.get_company_wire(company_id)
        except CompanyNotFound:
            return False
        return True


def _lower(consumer_id: object) -> str | None:
    return consumer_id.lower() if isinstance(consumer_id, str) else None


def _listed(values: Sequence[str] | None) -> object:
    """A tuple given in Python is a list on the wire; anything else is left for the checks."""
    return list(values) if isinstance(values, tuple) else values
