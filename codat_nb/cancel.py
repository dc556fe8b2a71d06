"""Stopping work a listing started: when a listing ends early (Ctrl-C, an error), the requests
its workers are making stop at their next step (before an attempt, or while waiting to retry)
instead of retrying on alone, in the background, for the rest of their deadline."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_local = threading.local()


@contextlib.contextmanager
def cancel_scope(event: threading.Event) -> Iterator[None]:
    """Requests this thread makes inside the block stop once ``event`` is set."""
    previous = getattr(_local, "event", None)
    _local.event = event
    try:
        yield
    finally:
        _local.event = previous


def cancel_event() -> threading.Event | None:
    """The event that stops this thread's requests, if it works for a listing."""
    return getattr(_local, "event", None)
