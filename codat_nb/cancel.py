"""Stopping work a listing started: when a listing ends early (Ctrl-C, an error), the requests
its workers are making stop at their next step (before an attempt, or while waiting to retry)
instead of retrying on alone, in the background, for the rest of their deadline."""

from __future__ import annotations

import threading

from codat_nb.thread_scope import ThreadScoped

_stop: ThreadScoped[threading.Event] = ThreadScoped()

#: ``with cancel_scope(event):`` requests this thread makes inside stop once ``event`` is set.
cancel_scope = _stop.scope
#: The event that stops this thread's requests, if it works for a listing (else None).
cancel_event = _stop.get
