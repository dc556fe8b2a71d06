"""Storing what the receiver accepts: one thread, one transaction per batch (group commit).

Each request hands its event to ``submit`` and waits for the verdict before answering, so an
answer 2xx always means stored. Requests that arrive while a transaction commits wait together
and go into the next one: under load a commit (an fsync in SQLite, a round trip in
PostgreSQL) is paid once per batch instead of once per event, and one writer never queues
behind another for the history's write lock. After each commit, the events that were new go to
``on_stored`` (in the order they were stored), off the answering path.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from codat_nb.history import History, HistoryError
from codat_nb.history.event_log import Event

log = logging.getLogger("codat_nb.events")
#: Events written in one transaction at most.
MAX_BATCH = 500


@dataclass
class _Job:
    event: Event
    verdict: Future[bool] = field(default_factory=Future)


class EventWriter:
    """Writes submitted events into ``history`` from a thread of its own until ``stop()``."""

    def __init__(self, history: History, on_stored: Callable[[list[Event]], None]) -> None:
        self._history, self._on_stored = history, on_stored
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="codat-nb-event-writer", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> Future[bool]:
        """Queue ``event``; the future says whether it was new (False: already stored), or
        raises HistoryError when it could not be stored."""
        job = _Job(event)
        self._jobs.put(job)
        return job.verdict

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch, stopping = [first], False
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[_Job]) -> None:
        try:
            fresh = self._history.record_events([job.event for job in batch])
        except (HistoryError, OSError) as error:
            for job in batch:
                job.verdict.set_exception(error)
            return
        except Exception as error:  # a bug must not leave requests waiting or the thread dead
            log.exception("codat-nb listen: storing %d event(s) failed unexpectedly", len(batch))
            for job in batch:
                job.verdict.set_exception(HistoryError(f"storing failed: {error!r}"[:300]))
            return
        for job, new in zip(batch, fresh, strict=True):
            job.verdict.set_result(new)
        stored = [job.event for job, new in zip(batch, fresh, strict=True) if new]
        if stored:
            self._on_stored(stored)
