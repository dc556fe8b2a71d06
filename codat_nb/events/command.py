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
bound. At shutdown the runs left get ``CLOSE_GRACE`` seconds in all (a service manager kills a
slow stop: systemd after 90 s); those that do not fit are reported and skipped (their events
are stored already).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from codat_nb.history.event_log import Event

#: Runs waiting at most; beyond it an event's run is skipped (and reported).
MAX_WAITING = 10_000
#: Seconds one run may take before it is killed (and reported).
RUN_TIMEOUT = 60.0
#: Seconds the runs still waiting at shutdown get, in all.
CLOSE_GRACE = 30.0
SECRET_VARIABLE = "CODAT_WEBHOOK_SECRET"


class CommandHook:
    """Call it with an Event to run ``command`` for it; ``close()`` waits for the runs left,
    ``grace`` seconds at most."""

    def __init__(
        self, command: str, report: Callable[[str], None], timeout: float = RUN_TIMEOUT
    ) -> None:
        if not isinstance(command, str) or not command.strip():
            raise ValueError("the --on-event command must be a non-empty string")
        self.command, self._report, self._timeout = command, report, timeout
        self._queue: queue.Queue[Event | None] = queue.Queue(MAX_WAITING)
        self._deadline: float | None = None  # set by close(): when the last run must end
        self._thread = threading.Thread(target=self._run, name="codat-nb-on-event", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"CommandHook({self.command!r})"

    def __call__(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._report(f"--on-event skipped for {event.event_id}: {MAX_WAITING} runs waiting")

    def close(self, grace: float = CLOSE_GRACE) -> None:
        self._deadline = time.monotonic() + grace
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        skipped = 0
        while (event := self._queue.get()) is not None:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                skipped += 1
                continue
            problem = self._run_one(event)
            if problem:
                self._report(f"--on-event {problem} for {event.event_type} {event.event_id}")
        if skipped:
            self._report(f"--on-event skipped for {skipped} event(s) at shutdown (stored)")

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
            end = time.monotonic() + self._timeout
            if not self._wait(child, event.body.encode(), end):
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                cut = self._deadline is not None and self._deadline < end
                return "was killed at shutdown" if cut else f"was killed after {self._timeout:g} s"
        return None if child.returncode == 0 else f"exited with status {child.returncode}"

    def _wait(self, child: subprocess.Popen[bytes], body: bytes, end: float) -> bool:
        """Feed ``body`` and wait for the run to end by ``end``, or by close()'s deadline if
        that comes first (it can be set meanwhile); whether it ended."""
        given: bytes | None = body  # once: communicate() keeps feeding it when called again
        while True:
            last = end if self._deadline is None else min(end, self._deadline)
            try:
                child.communicate(given, timeout=max(0.0, min(last - time.monotonic(), 0.25)))
                return True
            except subprocess.TimeoutExpired:
                given = None
                if time.monotonic() >= last:
                    return False
