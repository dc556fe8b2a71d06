"""The deliverer: background threads that send each consumer what it is owed, signed.

Delivery never slows the API: the store's listener only queues a message (``enqueue``), and one
worker thread per consumer sends, one attempt at a time, in the order attempts fall due
(``outbox.py`` keeps the schedule). Due times are on the sandbox clock, which moves only when
something is written or ``sb.advance``/``sb.clock.set`` move it; real time bounds only each
attempt (``webhook_timeout_s``, Codat's 15 s) and signs it (``webhook-timestamp``). A worker
wakes when a message is queued and looks at the clock every ``POLL_SECONDS`` while it has
retries waiting, so a clock moved on makes them go within that. ``flush()`` waits until
nothing is due at the sandbox's now.

Trouble, drawn per message and consumer from a generator seeded with the sandbox's seed (the
``webhook_*`` knobs): a duplicate (the message sent again after its first success, the same
``webhook-id``), out of order (held back until the consumer's next message, then sent right
after it; ``flush()`` sends one still held), delayed (first due ``webhook_delay_s`` sandbox
seconds after the event).
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from codat_nb.sandbox.clock import Clock
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.webhooks import signing
from codat_nb.sandbox.webhooks.outbox import Delivery, Message, Outbox, Pending
from codat_nb.sandbox.webhooks.sender import Outcome, Sender
from codat_nb.secret import Secret

log = logging.getLogger("codat_nb.sandbox")
#: Real seconds between looks at the sandbox clock while retries wait for it.
POLL_SECONDS = 0.05
#: Attempts remembered for ``attempts()`` (the oldest forgotten first).
MAX_KEPT_ATTEMPTS = 100_000


@dataclass(frozen=True)
class Attempt:
    """One POST to a consumer: when it was due and sent (sandbox clock), what came of it."""

    consumer_id: str
    message_id: str  # the webhook-id header
    event_id: str
    event_type: str
    number: int  # 1..8 on Codat's schedule; a duplicate repeats its original's number
    due: datetime
    sent: datetime
    status: int | None  # the HTTP status answered, None when there was no answer
    error: str | None  # why it failed (None when it succeeded)
    seconds: float  # real seconds the exchange took
    duplicate: bool
    body: bytes = field(repr=False)

    @property
    def succeeded(self) -> bool:
        return self.error is None


class _Consumer:
    """A consumer's delivery state: its queue, its sender, its secret and its worker."""

    def __init__(self, consumer_id: str, url: str, secret: str, disabled: bool):
        self.outbox = Outbox(consumer_id, disabled=disabled)
        self.sender = Sender(url)
        self.secret = Secret(secret)
        self.thread: threading.Thread | None = None


class Deliverer:
    """Every consumer's deliveries; thread-safe (one lock, shared with the workers)."""

    def __init__(self, clock: Clock, faults: Faults, seed: str):
        self._clock, self._faults = clock, faults
        self._rng = random.Random(f"webhook-delivery:{seed}")
        self._cond = threading.Condition()
        self._consumers: dict[str, _Consumer] = {}
        self._order = itertools.count()
        self._attempts: deque[Attempt] = deque(maxlen=MAX_KEPT_ATTEMPTS)
        self._stopped = False

    # ----- consumers ---------------------------------------------------------------------
    def open(self, consumer_id: str, url: str, secret: str, disabled: bool) -> None:
        """Start delivering to a new consumer."""
        consumer = _Consumer(consumer_id, url, secret, disabled)
        consumer.thread = threading.Thread(
            target=self._work, args=(consumer,), name=f"webhooks-{consumer_id[:8]}", daemon=True
        )
        with self._cond:
            if self._stopped:
                raise RuntimeError("the sandbox was stopped")
            self._consumers[consumer_id] = consumer
        consumer.thread.start()

    def close(self, consumer_id: str) -> None:
        """Stop delivering to a consumer: its pending attempts are lost."""
        with self._cond:
            consumer = self._consumers.pop(consumer_id)
            consumer.outbox.drop()
            self._cond.notify_all()
        consumer.sender.close()

    def is_disabled(self, consumer_id: str) -> bool:
        with self._cond:
            return self._consumers[consumer_id].outbox.disabled

    def set_disabled(self, consumer_id: str, disabled: bool) -> None:
        """Disable (nothing is sent, new messages are missed) or enable (what it was owed goes
        on, due now if it fell due meanwhile)."""
        with self._cond:
            outbox = self._consumers[consumer_id].outbox
            if disabled:
                outbox.disabled = True
            elif outbox.disabled:
                outbox.enable(self._clock.now())
            self._cond.notify_all()

    # ----- messages ----------------------------------------------------------------------
    def enqueue(self, consumer_id: str, message: Message) -> None:
        """Owe ``message`` to the consumer, first due when its event happened (later if the
        delay knob says so); a disabled consumer misses it."""
        with self._cond:
            outbox = self._consumers[consumer_id].outbox
            if outbox.disabled:
                return
            faults = self._faults
            duplicate, held, delayed = (self._rng.random() for _ in range(3))
            due = message.event.generated
            if delayed < faults.webhook_delay_rate:
                due += timedelta(seconds=faults.webhook_delay_s)
            delivery = Delivery(message, next(self._order), due)
            delivery.held = held < faults.webhook_reorder_rate
            delivery.duplicate = duplicate < faults.webhook_duplicate_rate
            outbox.add(delivery)
            self._cond.notify_all()

    def wake(self) -> None:
        """Have the workers look at the clock now (it may have moved)."""
        with self._cond:
            self._cond.notify_all()

    def flush(self, timeout: float) -> None:
        """Send every held message, then wait until no attempt is under way or due at the
        sandbox clock's now; TimeoutError after ``timeout`` real seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            for consumer in self._consumers.values():
                consumer.outbox.release()
            self._cond.notify_all()
            while True:
                now = self._clock.now()
                busy = [c for c in self._consumers.values() if c.outbox.busy(now)]
                left = deadline - time.monotonic()
                if not busy:
                    return
                if left <= 0:
                    raise TimeoutError(
                        f"webhook deliveries to {len(busy)} consumer(s) were still due or under"
                        f" way after {timeout:g} s (an endpoint may be slow to answer)"
                    )
                self._cond.wait(min(left, POLL_SECONDS))

    def attempts(self, consumer_id: str | None = None) -> list[Attempt]:
        with self._cond:
            return [a for a in self._attempts if consumer_id in (None, a.consumer_id)]

    def pending(self, consumer_id: str | None = None) -> list[Pending]:
        with self._cond:
            chosen = [c for cid, c in self._consumers.items() if consumer_id in (None, cid)]
            return [p for c in chosen for p in c.outbox.pending()]

    def stop(self) -> None:
        """End every worker (an attempt under way is cut off); safe to call twice."""
        with self._cond:
            self._stopped = True
            consumers = list(self._consumers.values())
            for consumer in consumers:
                consumer.outbox.drop()
            self._cond.notify_all()
        for consumer in consumers:
            consumer.sender.close()
        for consumer in consumers:
            if consumer.thread is not None:
                consumer.thread.join(timeout=5)

    # ----- the workers -------------------------------------------------------------------
    def _work(self, consumer: _Consumer) -> None:
        while True:
            with self._cond:
                delivery = self._next(consumer.outbox)
                if delivery is None:
                    return
                sent, timeout = self._clock.now(), self._faults.webhook_timeout_s
            message = delivery.message
            body = message.event.body
            headers = signing.headers(consumer.secret.reveal(), message.id, int(time.time()), body)
            try:
                outcome = consumer.sender.post(body, headers, timeout)
            except Exception as exc:  # a bug must not leave the consumer's worker dead
                log.exception("sandbox: a webhook attempt to %s failed unexpectedly", message.id)
                outcome = Outcome(None, f"{type(exc).__name__}: {exc}"[:200], 0.0)
            with self._cond:
                self._record(consumer.outbox, delivery, sent, outcome)
                self._cond.notify_all()

    def _next(self, outbox: Outbox) -> Delivery | None:
        """Wait (under the lock) for the next due delivery; None once the consumer is gone."""
        while not outbox.closed:
            delivery = outbox.take_due(self._clock.now())
            if delivery is not None:
                return delivery
            self._cond.wait(POLL_SECONDS if outbox.waiting() else None)
        return None

    def _record(self, outbox: Outbox, delivery: Delivery, sent: datetime, outcome: Outcome) -> None:
        due, repeating, event = delivery.due, delivery.repeating, delivery.message.event
        number = outbox.settle(delivery, outcome.succeeded)
        self._attempts.append(
            Attempt(
                consumer_id=outbox.consumer_id,
                message_id=delivery.message.id,
                event_id=event.id,
                event_type=event.type,
                number=number,
                due=due,
                sent=sent,
                status=outcome.status,
                error=None if outcome.succeeded else outcome.error or "no answer",
                seconds=outcome.seconds,
                duplicate=repeating,
                body=event.body,
            )
        )
