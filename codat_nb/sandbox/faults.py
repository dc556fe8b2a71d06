"""Injected trouble: latency, 429 with Retry-After, 5xx, a concurrency cap, dropped connections.

Also the daily quota behind the ``X-Rate-Limit-*`` headers. Every knob can be changed while the
server runs (a client's retry logic is tested by turning faults on mid-walk). Draws come from a
seeded generator so a single-threaded request sequence meets the same faults every run.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from codat_nb.sandbox.clock import Clock

DEFAULT_DAILY_QUOTA = 100_000

DROP, RATE_LIMITED = "drop", "rate_limited"


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: datetime


def _fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a fraction between 0 and 1, got {value!r}")
    return float(value)


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


class Faults:
    """Fault settings plus the counters they need (requests in flight, today's quota use)."""

    def __init__(
        self,
        clock: Clock,
        seed: str,
        *,
        latency_ms: float = 0,
        rate_limit_rate: float = 0.0,
        retry_after: int = 1,
        error_rate: float = 0.0,
        max_concurrency: int | None = None,
        drop_rate: float = 0.0,
        daily_quota: int = DEFAULT_DAILY_QUOTA,
    ):
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random(f"faults:{seed}")
        self._wake = threading.Event()
        self._in_flight = 0
        self._quota_day = clock.now().date()
        self._quota_used = 0
        self.latency_ms = latency_ms
        self.rate_limit_rate = rate_limit_rate
        self.retry_after = retry_after
        self.error_rate = error_rate
        self.max_concurrency = max_concurrency
        self.drop_rate = drop_rate
        self.daily_quota = daily_quota

    # Validated knobs: a typo like error_rate=5 fails loudly instead of meaning "always".
    @property
    def latency_ms(self) -> float:
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"latency_ms must be a number >= 0, got {value!r}")
        if math.isinf(value):  # Event.wait cannot sleep forever: every request would be a 500
            raise ValueError(f"latency_ms must be finite, got {value!r}")
        self._latency_ms = float(value)
        # Wake requests sleeping under the old latency so a change takes effect at once.
        old, self._wake = self._wake, threading.Event()
        old.set()

    @property
    def rate_limit_rate(self) -> float:
        return self._rate_limit_rate

    @rate_limit_rate.setter
    def rate_limit_rate(self, value: float) -> None:
        self._rate_limit_rate = _fraction("rate_limit_rate", value)

    @property
    def error_rate(self) -> float:
        return self._error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        self._error_rate = _fraction("error_rate", value)

    @property
    def drop_rate(self) -> float:
        return self._drop_rate

    @drop_rate.setter
    def drop_rate(self, value: float) -> None:
        self._drop_rate = _fraction("drop_rate", value)

    @property
    def retry_after(self) -> int:
        return self._retry_after

    @retry_after.setter
    def retry_after(self, value: int) -> None:
        self._retry_after = _count("retry_after", value, 0)

    @property
    def max_concurrency(self) -> int | None:
        return self._max_concurrency

    @max_concurrency.setter
    def max_concurrency(self, value: int | None) -> None:
        self._max_concurrency = None if value is None else _count("max_concurrency", value, 1)

    @property
    def daily_quota(self) -> int:
        return self._daily_quota

    @daily_quota.setter
    def daily_quota(self, value: int) -> None:
        self._daily_quota = _count("daily_quota", value, 1)

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
            cap = self._max_concurrency
            over = cap is not None and self._in_flight > cap
        try:
            yield over
        finally:
            with self._lock:
                self._in_flight -= 1

    def wait_latency(self) -> None:
        """Sleep the configured latency; returns early if latency_ms is changed meanwhile."""
        if self._latency_ms > 0:
            self._wake.wait(self._latency_ms / 1000)

    def use_quota(self) -> Quota:
        """Charge one request to today's quota (the sandbox clock's UTC day)."""
        now = self._clock.now()
        with self._lock:
            if now.date() != self._quota_day:
                self._quota_day, self._quota_used = now.date(), 0
            self._quota_used += 1
            remaining = self._daily_quota - self._quota_used
        reset = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
        return Quota(self._daily_quota, max(remaining, -1), reset)

    def draw(self) -> str | int | None:
        """The injected outcome for one request: DROP, RATE_LIMITED, 500, 503 or None."""
        with self._lock:
            if self._drop_rate and self._rng.random() < self._drop_rate:
                return DROP
            if self._rate_limit_rate and self._rng.random() < self._rate_limit_rate:
                return RATE_LIMITED
            if self._error_rate and self._rng.random() < self._error_rate:
                return 500 if self._rng.random() < 0.5 else 503
        return None
