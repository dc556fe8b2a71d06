"""``Idempotency-Key`` on POST and PATCH, as Codat documents it (write-data/idempotency.md).

The first response for a key is kept for 90 minutes (sandbox clock) and replayed, byte for
byte, for the same key, 4xx and 5xx included. The same key with a different request is a 422;
the same key while the first request is still being handled is a 409; a 429 is not kept (the
key is released, so the client can retry with it). Nothing here knows HTTP: the app decides
what a request's fingerprint is and what a response is.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

KEPT_FOR = timedelta(minutes=90)
#: Keys remembered at most (oldest forgotten first), so a flood of keys cannot exhaust memory.
MAX_KEYS = 50_000

PROCEED, REPLAY, IN_PROGRESS, MISMATCH = "proceed", "replay", "in_progress", "mismatch"
#: What is kept of an answer (the app decides: nothing here knows HTTP).
Answer = TypeVar("Answer")


@dataclass
class _Entry(Generic[Answer]):
    fingerprint: str
    expires: datetime
    response: Answer | None = None  # None while the first request is still in progress


class IdempotencyKeys(Generic[Answer]):
    """Thread-safe memory of the keys seen and the first response to each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry[Answer]] = OrderedDict()

    def begin(self, key: str, fingerprint: str, now: datetime) -> tuple[str, Answer | None]:
        """What to do with a request carrying ``key``: (PROCEED|REPLAY|IN_PROGRESS|MISMATCH,
        the kept response for REPLAY)."""
        with self._lock:
            self._forget_expired(now)
            entry = self._entries.get(key)
            if entry is None:
                self._entries[key] = _Entry(fingerprint, now + KEPT_FOR)
                while len(self._entries) > MAX_KEYS:
                    self._entries.popitem(last=False)
                return PROCEED, None
            if entry.fingerprint != fingerprint:
                return MISMATCH, None
            if entry.response is None:
                return IN_PROGRESS, None
            return REPLAY, entry.response

    def finish(self, key: str, response: Answer) -> None:
        """Keep the first response for ``key`` (to replay it)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.response = response

    def release(self, key: str) -> None:
        """Forget ``key`` (its answer was a 429, or handling it failed before any answer)."""
        with self._lock:
            self._entries.pop(key, None)

    def _forget_expired(self, now: datetime) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.expires > now:
                return
            del self._entries[key]
