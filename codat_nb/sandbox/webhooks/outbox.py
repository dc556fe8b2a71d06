"""One consumer's queue: the messages it is owed, when each attempt is due, and what came of it.

Codat's retry schedule (``docs/using-the-api/webhooks/troubleshooting.md``): the first attempt
at once, then, each period starting when the attempt before failed, 5 s, 5 min, 30 min, 2 h,
5 h, 10 h and 10 h more: eight attempts over about 28 hours ("an event that fails three times
and then succeeds will be delivered roughly 35 minutes and 5 seconds after the initial
attempt"). Times are on the sandbox clock, and each period starts at the time the failed
attempt was due: a clock moved on by hours (``sb.advance``) makes every attempt that fell due
meanwhile due now, in order, each sent only if the one before failed. A consumer whose
attempts all failed for 5 days is disabled, as Codat disables it. Not thread-safe: the
deliverer (``delivery.py``) holds its lock around every call.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from codat_nb.sandbox.webhooks.events import Event

#: The wait before each attempt: the first at once, then the documented retries.
SCHEDULE = (
    timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
    timedelta(hours=2), timedelta(hours=5), timedelta(hours=10), timedelta(hours=10),
)  # fmt: skip
#: A consumer whose every attempt failed for this long is disabled (the same guide).
DISABLED_AFTER = timedelta(days=5)


@dataclass(frozen=True)
class Message:
    """One event as sent: its ``webhook-id`` and body, the same on every attempt."""

    id: str
    event: Event


@dataclass(frozen=True)
class Pending:
    """A message a consumer is still owed: attempts made so far and when the next is due;
    ``held`` waits for the next message, to go right after it (the out-of-order knob)."""

    consumer_id: str
    message_id: str
    event_id: str
    event_type: str
    attempts_made: int
    due: datetime
    held: bool


@dataclass(eq=False)
class Delivery:
    """A message on its way to one consumer."""

    message: Message
    seq: int  # the order it was queued in (ties of ``due`` go by it)
    due: datetime
    made: int = 0  # attempts made
    held: bool = False
    duplicate: bool = False  # to be sent once more after its first success
    repeating: bool = False  # this attempt is that second sending


@dataclass(eq=False)
class Outbox:
    consumer_id: str
    disabled: bool = False
    closed: bool = False
    in_flight: Delivery | None = None
    failing_since: datetime | None = None
    _queue: list[tuple[datetime, float, Delivery]] = field(default_factory=list)
    _held: list[Delivery] = field(default_factory=list)

    def add(self, delivery: Delivery) -> None:
        """Queue a new message: those held back go right after it (out of order), and it is
        held itself if the knob drew it so."""
        for held in self._held:
            held.held = False
            self._push(held, (delivery.due, delivery.seq + 0.5))
        self._held = [delivery] if delivery.held else []
        if not delivery.held:
            self._push(delivery)

    def _push(self, delivery: Delivery, place: tuple[datetime, float] | None = None) -> None:
        """Queue by when it is due (``place``: where it goes instead, a held message)."""
        due, order = place or (delivery.due, delivery.seq)
        heapq.heappush(self._queue, (due, order, delivery))

    def waiting(self) -> bool:
        """Whether anything is queued that time alone can make due."""
        return bool(self._queue) and not self.disabled and not self.closed

    def take_due(self, now: datetime) -> Delivery | None:
        """The next delivery due at ``now`` (earliest due, then first queued), now in flight."""
        if self.disabled or self.closed or not self._queue or self._queue[0][0] > now:
            return None
        self.in_flight = heapq.heappop(self._queue)[2]
        return self.in_flight

    def busy(self, now: datetime) -> bool:
        """An attempt under way, or one due at ``now`` that will be made."""
        due = bool(self._queue) and self._queue[0][0] <= now
        return self.in_flight is not None or (due and not self.disabled and not self.closed)

    def settle(self, delivery: Delivery, succeeded: bool) -> int:
        """Account for the attempt just made (done, sent again as a duplicate, or retried);
        its number, 1..8 (a duplicate repeats its original's)."""
        self.in_flight = None
        if delivery.repeating:
            return delivery.made
        delivery.made += 1
        if self.closed:
            return delivery.made
        if succeeded:
            self.failing_since = None
            if delivery.duplicate:
                delivery.duplicate, delivery.repeating = False, True
                self._push(delivery)
            return delivery.made
        failed_at = delivery.due
        if self.failing_since is None:
            self.failing_since = failed_at
        if delivery.made < len(SCHEDULE):
            delivery.due += SCHEDULE[delivery.made]
            self._push(delivery)
        if failed_at - self.failing_since >= DISABLED_AFTER:
            self.disabled = True
        return delivery.made

    def release(self) -> None:
        """Queue what is held back (nothing came after it to go before it)."""
        for delivery in self._held:
            delivery.held = False
            self._push(delivery)
        self._held = []

    def enable(self, now: datetime) -> None:
        """Resume: attempts that fell due while disabled are due now, not all at once later."""
        self.disabled, self.failing_since = False, None
        for _, _, delivery in self._queue:
            delivery.due = max(delivery.due, now)
        self._queue = [(max(due, now), order, d) for due, order, d in self._queue]
        heapq.heapify(self._queue)

    def drop(self) -> None:
        """Forget everything it was owed (a deleted consumer loses its pending attempts)."""
        self.closed = True
        self._queue.clear()
        self._held.clear()

    def pending(self) -> list[Pending]:
        owed = [d for _, _, d in sorted(self._queue, key=lambda entry: entry[:2])] + self._held
        if self.in_flight is not None:
            owed.insert(0, self.in_flight)
        return [
            Pending(
                self.consumer_id,
                d.message.id,
                d.message.event.id,
                d.message.event.type,
                d.made,
                d.due,
                d.held,
            )
            for d in owed
        ]
