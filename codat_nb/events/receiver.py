"""``Receiver``: Codat's webhooks received, verified and stored in a history, from Python.

The same receiver ``codat-nb listen`` runs, embeddable in a notebook or the console::

    from codat_nb.events import Receiver
    from codat_nb.history import History, HistoryError

    with History("connections.sqlite") as history, Receiver(history, secret=secret) as receiver:
        print(receiver.url)  # register it as the webhook consumer's URL
        ...                  # events arrive in history.events() as they come

It serves on its own threads: the HTTP server (the sandbox's hardened one: request and header
caps, read deadlines, framing checked, a connection cap), one writer (``writer``) and one
notifier that hands each stored event to the ``on_event`` callbacks in the order stored, so a
slow callback never delays an answer.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from types import TracebackType

from codat_nb.events.app import Counts, ReceiverApp, error_body
from codat_nb.events.verify import Verifier
from codat_nb.events.writer import EventWriter
from codat_nb.history import History, HistoryError
from codat_nb.history.event_log import Event
from codat_nb.sandbox.server import ThreadedServer
from codat_nb.secret import Secret

log = logging.getLogger("codat_nb.events")
#: Seconds a request may wait for the history before it is answered 503 (Codat allows 15).
ANSWER_WITHIN = 10.0
#: Seconds a sender may take to send one whole request.
READ_TIMEOUT = 10.0
EventCallback = Callable[[Event], None]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Notifier:
    """Hands stored events to the callbacks from a thread of its own, in order; a callback's
    failure is reported and the next one runs."""

    def __init__(self, callbacks: list[EventCallback], report: Callable[[str], None]) -> None:
        self._callbacks, self._report = callbacks, report
        self._queue: queue.SimpleQueue[list[Event] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="codat-nb-event-notify", daemon=True)
        self._thread.start()

    def put(self, events: list[Event]) -> None:
        self._queue.put(events)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (events := self._queue.get()) is not None:
            for event in events:
                for callback in self._callbacks:
                    try:
                        callback(event)
                    except Exception as error:
                        self._report(f"on_event {_name(callback)} failed for {event.event_id}: "
                                     f"{type(error).__name__}: {error}")  # fmt: skip


def _name(callback: object) -> str:
    return str(getattr(callback, "__qualname__", None) or type(callback).__name__)


class Receiver:
    """Receives Codat's webhooks at ``url`` and stores each event once in ``history``.

    ``history`` is a ``History`` (shared: reads from it go on while events arrive) or where one
    is (a path or URL: opened here and closed by ``stop``). ``secret`` is the endpoint's
    signing secret (``whsec_...``); never shown. ``host``/``port`` (0: a free port) are where
    it listens. ``on_event`` is called with each stored ``Event`` (one callable or several),
    off the answering path. ``clock`` stamps arrivals (default: UTC now; a notebook on the
    sandbox passes ``sb.clock.now`` to stay deterministic). ``answer_within`` bounds the wait
    for the history before a 503 (seconds; Codat allows 15), ``read_timeout`` the time a
    sender may take to send a request. ``report`` receives one line for each refusal,
    duplicate and failure (default: the ``codat_nb.events`` logger).
    """

    def __init__(
        self,
        history: History | str | os.PathLike[str],
        *,
        secret: str | Secret,
        host: str = "127.0.0.1",
        port: int = 0,
        on_event: EventCallback | Iterable[EventCallback] | None = None,
        clock: Callable[[], datetime] | None = None,
        answer_within: float = ANSWER_WITHIN,
        read_timeout: float = READ_TIMEOUT,
        report: Callable[[str], None] | None = None,
    ) -> None:
        verifier = Verifier(secret)  # a bad secret fails before anything is opened
        callbacks = _callbacks(on_event)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, got {port!r}")
        self._owns_history = not isinstance(history, History)
        #: The history events are stored in.
        self.history: History = (
            history if isinstance(history, History) else History(history, timeout=answer_within)
        )
        self._report = report or log.warning
        self._clock = clock or _utc_now
        try:
            if self.history.read_only:
                raise HistoryError(
                    f"cannot store events in {self.history.location}: this user may only read "
                    "it; run the receiver as the user (or PostgreSQL role) that records snapshots"
                )
            self.history.check()
            self._server = ThreadedServer(host, port, self._clock, error_body, lambda: read_timeout)
        except BaseException:
            self._close_history()
            raise
        #: Where to send webhooks (register it as the consumer's URL).
        self.url = self._server.url + "/"
        self._notifier = _Notifier(callbacks, self._report)
        self._writer = EventWriter(self.history, self._notifier.put)
        self._app = ReceiverApp(verifier, self._writer, self._clock, answer_within, self._report)
        self._stopped = False
        self._server.start(self._app)

    @property
    def counts(self) -> Counts:
        """Events stored, duplicates acknowledged, messages refused, and accepted ones the
        history failed to store, since the receiver started."""
        return self._app.counts

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "listening"
        return f"Receiver({self.url!r}, {self.history.location!r}, {state})"

    def stop(self) -> None:
        """Stop listening, store what was accepted, run the callbacks still due, and close a
        history opened here; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        self._writer.stop()
        self._notifier.stop()
        self._close_history()

    close = stop

    def _close_history(self) -> None:
        if self._owns_history:
            self.history.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _callbacks(on_event: EventCallback | Iterable[EventCallback] | None) -> list[EventCallback]:
    if on_event is None:
        return []
    found = [on_event] if callable(on_event) else list(on_event)
    for callback in found:
        if not callable(callback):
            raise TypeError(f"on_event must be callable, not {type(callback).__name__}")
    return found
