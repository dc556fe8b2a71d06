"""The receiver's answer to one request: verify, parse, store, then answer.

In order: only ``POST`` (405 otherwise); the body, read within the server's cap (413); the
signature and its time, checked by ``svix`` on the raw body (400/401); the event's shape
(400); then the event is stored and only then answered: 200 once it is in the history
(``{"stored": true}``), or already was (``{"stored": false, "duplicate": true}``: Codat
retries a message until it sees a 2xx, so a repeat of a stored message is acknowledged, never
stored twice), 503 when the history could not store it in time (Codat retries it). Nothing
refused is recorded anywhere; each refusal is reported (``report``) without the secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from codat_nb.events.verify import Rejected, Verifier
from codat_nb.events.writer import EventWriter
from codat_nb.history import HistoryError
from codat_nb.history.event_log import from_webhook
from codat_nb.sandbox.framing import BODY_KEY, Body, FramingError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed",
            413: "Content Too Large", 503: "Service Unavailable"}  # fmt: skip


def error_body(status: int, message: str) -> bytes:
    """The JSON body of every refusal, the server's own (408, 431, ...) included."""
    return json.dumps({"status": status, "error": message}).encode()


@dataclass
class Counts:
    """What the receiver did since it started (thread-safe increments)."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0  # accepted but not stored (the history failed): answered 503
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class ReceiverApp:
    """The WSGI application: ``verifier`` checks, ``writer`` stores, ``clock`` stamps the
    arrival, ``answer_within`` bounds the wait for the history (seconds)."""

    def __init__(
        self,
        verifier: Verifier,
        writer: EventWriter,
        clock: Callable[[], datetime],
        answer_within: float,
        report: Callable[[str], None],
    ) -> None:
        self._verifier, self._writer, self._clock = verifier, writer, clock
        self._answer_within, self._report = answer_within, report
        self.counts = Counts()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        status, payload, extra = self._handle(environ)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                   *extra]  # fmt: skip
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [payload]

    def _handle(self, environ: WSGIEnvironment) -> tuple[int, bytes, list[tuple[str, str]]]:
        if environ.get("REQUEST_METHOD") != "POST":
            return (
                405,
                error_body(405, "only POST: this is a webhook receiver"),
                [("Allow", "POST")],
            )
        try:
            return self._receive(environ)
        except Rejected as refused:
            self.counts.add("rejected")
            self._report(f"refused ({refused.status}): {refused.reason}")
            return refused.status, error_body(refused.status, refused.reason), []

    def _receive(self, environ: WSGIEnvironment) -> tuple[int, bytes, list[tuple[str, str]]]:
        body: Body = environ[BODY_KEY]
        try:
            raw = body.read()
        except FramingError as error:
            extra = [("Connection", "close")]
            self.counts.add("rejected")
            self._report(f"refused ({error.status}): {error.message}")
            return error.status, error_body(error.status, error.message), extra
        headers = {
            name: str(environ.get(f"HTTP_{name.upper().replace('-', '_')}", ""))
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        }
        message_id = self._verifier.check(headers, raw)
        try:
            event = from_webhook(message_id, raw, pd.Timestamp(self._clock()))
        except ValueError as error:
            raise Rejected(400, f"signed, but not a Codat event: {error}") from None
        return self._store(event.message_id, self._writer.submit(event))

    def _store(
        self, message_id: str, verdict: Future[bool]
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        try:
            new = verdict.result(timeout=self._answer_within)
        except FutureTimeout:
            reason = f"the history did not store it within {self._answer_within:g} s"
        except HistoryError as error:
            reason = str(error)
        else:
            if new:
                self.counts.add("stored")
                return 200, b'{"stored":true}', []
            self.counts.add("duplicates")
            self._report(f"duplicate {message_id}: stored before, acknowledged again")
            return 200, b'{"stored":false,"duplicate":true}', []
        self.counts.add("failed")
        self._report(f"not stored ({message_id}), answered 503 so Codat retries: {reason}")
        return 503, error_body(503, f"not stored: {reason}"), [("Retry-After", "5")]
