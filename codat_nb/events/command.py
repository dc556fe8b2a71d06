"""``--on-event COMMAND``: a command run once per stored event, for alerting.

The command runs through ``/bin/sh -c`` (the user's own command line: pipes and redirections
work), with the event's JSON on its standard input (never on its command line) and
``CODAT_EVENT_TYPE``, ``CODAT_EVENT_ID``, ``CODAT_COMPANY_ID`` and ``CODAT_CONNECTION_ID`` in
its environment; ``CODAT_WEBHOOK_SECRET`` is removed from it. Runs are one at a time, in the
order events were stored, on a thread of their own: the receiver has answered long before.
The command's output goes to stderr, so stdout stays one line per event. A run that fails,
exits non-zero or outlasts ``timeout`` is reported and the next one runs (one that outlasts it
is killed with every process it started: it runs in a session of its own); more than
``MAX_WAITING`` runs waiting is reported and the extra ones are skipped, never queued without
bound.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

from codat_nb.history.event_log import Event

#: Runs waiting at most; beyond it an event's run is skipped (and reported).
MAX_WAITING = 10_000
#: Seconds one run may take before it is killed (and reported).
RUN_TIMEOUT = 60.0
SECRET_VARIABLE = "CODAT_WEBHOOK_SECRET"


class CommandHook:
    """Call it with an Event to run ``command`` for it; ``close()`` waits for the runs left."""

    def __init__(
        self, command: str, report: Callable[[str], None], timeout: float = RUN_TIMEOUT
    ) -> None:
        if not isinstance(command, str) or not command.strip():
            raise ValueError("the --on-event command must be a non-empty string")
        self.command, self._report, self._timeout = command, report, timeout
        self._queue: queue.Queue[Event | None] = queue.Queue(MAX_WAITING)
        self._thread = threading.Thread(target=self._run, name="codat-nb-on-event", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"CommandHook({self.command!r})"

    def __call__(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._report(f"--on-event skipped for {event.event_id}: {MAX_WAITING} runs waiting")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            problem = self._run_one(event)
            if problem:
                self._report(f"--on-event {problem} for {event.event_type} {event.event_id}")

    def _run_one(self, event: Event) -> str | None:
        env = {k: v for k, v in os.environ.items() if k != SECRET_VARIABLE}
        env.update(
            CODAT_EVENT_TYPE=event.event_type,
            CODAT_EVENT_ID=event.event_id,
            CODAT_COMPANY_ID=event.company_id or "",
            CODAT_CONNECTION_ID=event.connection_id or "",
        )
        try:  # a session of its own: a timeout kills what the command started too
            child = subprocess.Popen(
                ["/bin/sh", "-c", self.command],
                stdin=subprocess.PIPE,
                stdout=sys.stderr.fileno(),
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            return f"could not run ({error})"
        with child:
            try:
                child.communicate(event.body.encode(), timeout=self._timeout)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                return f"was killed after {self._timeout:g} s"
        return None if child.returncode == 0 else f"exited with status {child.returncode}"
