"""The sandbox's settable clock: a fixed start and one step per write, so timestamps repeat."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

DEFAULT_START = datetime(2026, 11, 1, 9, 0, 0, tzinfo=timezone.utc)
CLOCK_STEP = timedelta(seconds=1)


class Clock:
    """Settable clock: a fixed start, one step per write, so timestamps repeat run to run."""

    def __init__(self, start: datetime = DEFAULT_START, step: timedelta = CLOCK_STEP):
        self._lock = threading.Lock()
        self._now = _require_aware(start)
        self.step = step

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, value: datetime) -> None:
        with self._lock:
            self._now = _require_aware(value)

    def tick(self) -> datetime:
        """The time of a write: now, then move on one step."""
        with self._lock:
            stamp, self._now = self._now, self._now + self.step
            return stamp


def _require_aware(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"the sandbox clock needs a timezone-aware datetime, got {value!r}")
    return value.astimezone(timezone.utc)
