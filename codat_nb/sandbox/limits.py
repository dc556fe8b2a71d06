"""Codat's documented rate limits (docs: using-the-api/rate-limits.md), on by default.

- A daily quota of ``1,000 x (1 + active connected companies)`` requests, reset at 00:00 UTC of
  the sandbox clock; ``X-Rate-Limit-*`` on every answer, and once it is used up a 429 with
  ``Retry-After`` until the reset. A company is active and connected while it has a Linked
  connection.
- At most 10 requests in flight per company (the one in the path).
- At most 1,000 requests a minute per client address. This window runs on the wall clock: the
  sandbox clock only moves on writes, so a minute of reads would never end on it.

``on_quota`` hears when the daily quota is reached (the first request it refuses) and, after
such a day, when it is reset at midnight: Codat's ``client.rateLimit.reached`` and ``reset``
webhooks. The sandbox notices a new day when a request comes, at the end of ``sb.advance`` and
on ``sb.webhooks.flush()`` (``roll_over``); the reset is dated midnight all the same.

Nothing here knows HTTP: the app asks and renders the answers.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as day_start

from codat_nb.sandbox.clock import Clock

QUOTA_PER_COMPANY = 1_000
PER_COMPANY_IN_FLIGHT = 10
PER_MINUTE = 1_000
MINUTE = 60.0
#: Clients remembered by the per-minute window before idle ones are forgotten.
_MAX_CLIENTS = 4_096


@dataclass(frozen=True)
class QuotaEvent:
    """The daily quota was ``reached`` (a request was refused) or ``reset`` (at midnight, after
    a day on which it was reached): what Codat's rate-limit webhooks say."""

    kind: str  # REACHED or RESET
    at: datetime
    limit: int
    remaining: int
    expires: datetime  # when the quota is reset next


REACHED, RESET = "reached", "reset"


@dataclass(frozen=True)
class Quota:
    """Today's quota after charging one request; ``remaining`` is -1 once it is exceeded."""

    limit: int
    remaining: int
    reset: datetime

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the reset (at least 1)."""
        return max(1, math.ceil((self.reset - now).total_seconds()))


class RateLimits:
    """The counters behind the limits; thread-safe. ``active_companies`` counts the companies
    with a Linked connection, for the daily formula; ``monotonic`` is the minute window's clock."""

    def __init__(
        self,
        clock: Clock,
        active_companies: Callable[[], int],
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._clock, self._active, self.monotonic = clock, active_companies, monotonic
        self._lock = threading.Lock()
        self._day = clock.now().date()
        self._used = 0
        self._reached = False  # today's quota was reached
        self.on_quota: Callable[[QuotaEvent], None] | None = None
        self._recent: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}

    def daily_limit(self, configured: int | None) -> int:
        """``configured`` if set, else Codat's formula."""
        if configured is not None:
            return configured
        return QUOTA_PER_COMPANY * (1 + self._active())

    def charge(self, configured: int | None) -> Quota:
        """Charge one request to today's quota (the sandbox clock's UTC day)."""
        now = self._clock.now()
        limit = self.daily_limit(configured)
        with self._lock:
            was_reset = self._new_day(now)
            self._used += 1
            remaining = limit - self._used
            reached = remaining < 0 and not self._reached
            self._reached |= reached
        reset = _midnight_after(now)
        if was_reset is not None:
            self._tell(QuotaEvent(RESET, was_reset, limit, limit, _midnight_after(was_reset)))
        if reached:
            self._tell(QuotaEvent(REACHED, now, limit, 0, reset))
        return Quota(limit, max(remaining, -1), reset)

    def roll_over(self, configured: int | None) -> None:
        """Start the sandbox clock's new day if it has begun (telling of a reset, if due)."""
        now = self._clock.now()
        limit = self.daily_limit(configured)
        with self._lock:
            was_reset = self._new_day(now)
        if was_reset is not None:
            self._tell(QuotaEvent(RESET, was_reset, limit, limit, _midnight_after(was_reset)))

    def _new_day(self, now: datetime) -> datetime | None:
        """Count from zero if ``now`` is in a later day (under the lock); the midnight the
        quota was reset at if it had been reached, else None."""
        if now.date() == self._day:
            return None
        reached, day = self._reached, self._day
        self._day, self._used, self._reached = now.date(), 0, False
        return _midnight_after(datetime.combine(day, day_start(), now.tzinfo)) if reached else None

    def _tell(self, event: QuotaEvent) -> None:
        if self.on_quota is not None:
            self.on_quota(event)

    def per_minute_wait(self, client: str) -> int | None:
        """None to admit one more request from ``client`` (and count it), else the whole
        seconds until its window has room."""
        now = self.monotonic()
        with self._lock:
            recent = self._recent.get(client)
            if recent is None:
                if len(self._recent) >= _MAX_CLIENTS:
                    self._forget_idle(now)
                recent = self._recent[client] = deque()
            while recent and recent[0] <= now - MINUTE:
                recent.popleft()
            if len(recent) >= PER_MINUTE:
                return max(1, math.ceil(recent[0] + MINUTE - now))
            recent.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        idle = [c for c, times in self._recent.items() if not times or times[-1] <= now - MINUTE]
        for client in idle:
            del self._recent[client]

    @contextmanager
    def company_slot(self, company_id: str | None) -> Iterator[bool]:
        """Hold one of ``company_id``'s in-flight slots for the block; yields True when all
        were taken (the request is then over the limit). No company: never over."""
        if company_id is None:
            yield False
            return
        with self._lock:
            count = self._in_flight.get(company_id, 0) + 1
            self._in_flight[company_id] = count
        try:
            yield count > PER_COMPANY_IN_FLIGHT
        finally:
            with self._lock:
                left = self._in_flight[company_id] - 1
                if left:
                    self._in_flight[company_id] = left
                else:
                    del self._in_flight[company_id]


def _midnight_after(moment: datetime) -> datetime:
    """00:00 of the day after ``moment``'s (UTC on the sandbox clock)."""
    return datetime.combine(moment.date() + timedelta(days=1), day_start(), tzinfo=moment.tzinfo)
