"""Injected trouble: latency, 429 with Retry-After, 5xx, a concurrency cap, dropped connections.

Also the daily quota behind the ``X-Rate-Limit-*`` headers. Every knob can be changed while the
server runs (a client's retry logic is tested by turning faults on mid-walk). Draws come from a
seeded generator so a single-threaded request sequence meets the same faults every run.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from codat_nb.sandbox.clock import Clock
from codat_nb.sandbox.knobs import FRACTION, Knob, configure, count, number, optional

DEFAULT_DAILY_QUOTA = 100_000

DROP, RATE_LIMITED = "drop", "rate_limited"


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: datetime


class Faults:
    """Fault settings (the knobs) plus the counters they need (requests in flight, quota use).

    ``Faults(clock, seed, **options)`` takes any knob by name; each can be changed at any time.
    """

    latency_ms = Knob(
        number(minimum=0),
        0.0,
        "added latency per request, in milliseconds",
        on_change=lambda faults: faults._wake_sleepers(),
    )
    rate_limit_rate = Knob(FRACTION, 0.0, "fraction of requests answered 429 with Retry-After")
    error_rate = Knob(FRACTION, 0.0, "fraction of requests answered 500 or 503")
    drop_rate = Knob(FRACTION, 0.0, "fraction of requests whose connection is dropped unanswered")
    retry_after = Knob(count(0), 1, "the Retry-After seconds of an injected 429")
    max_concurrency = Knob(
        optional(count(1)),
        None,
        "requests in flight before the next is answered 429; none: no cap",
    )
    daily_quota = Knob(count(1), DEFAULT_DAILY_QUOTA, "requests per UTC day (X-Rate-Limit-*)")

    def __init__(self, clock: Clock, seed: str, **options: Any):
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random(f"faults:{seed}")
        self._wake = threading.Event()
        self._in_flight = 0
        self._quota_day = clock.now().date()
        self._quota_used = 0
        configure(self, options)

    def _wake_sleepers(self) -> None:
        """Wake requests sleeping under the old latency, so a change takes effect at once."""
        old, self._wake = self._wake, threading.Event()
        old.set()

    @property
    def in_flight(self) -> int:
        """API requests being handled right now."""
        with self._lock:
            return self._in_flight

    @contextmanager
    def admitted(self) -> Iterator[bool]:
        """Count one request in flight for the block; yields True when it is over the cap."""
        with self._lock:
            self._in_flight += 1
            cap = self.max_concurrency
            over = cap is not None and self._in_flight > cap
        try:
            yield over
        finally:
            with self._lock:
                self._in_flight -= 1

    def wait_latency(self) -> None:
        """Sleep the configured latency; returns early if latency_ms is changed meanwhile."""
        if self.latency_ms > 0:
            self._wake.wait(self.latency_ms / 1000)

    def use_quota(self) -> Quota:
        """Charge one request to today's quota (the sandbox clock's UTC day)."""
        now = self._clock.now()
        with self._lock:
            if now.date() != self._quota_day:
                self._quota_day, self._quota_used = now.date(), 0
            self._quota_used += 1
            limit = self.daily_quota
            remaining = limit - self._quota_used
        reset = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
        return Quota(limit, max(remaining, -1), reset)

    def draw(self) -> str | int | None:
        """The injected outcome for one request: DROP, RATE_LIMITED, 500, 503 or None."""
        with self._lock:
            if self.drop_rate and self._rng.random() < self.drop_rate:
                return DROP
            if self.rate_limit_rate and self._rng.random() < self.rate_limit_rate:
                return RATE_LIMITED
            if self.error_rate and self._rng.random() < self.error_rate:
                return 500 if self._rng.random() < 0.5 else 503
        return None
