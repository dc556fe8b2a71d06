"""One consumer's HTTP side: POST an attempt, within Codat's 15 seconds, over a kept connection.

A 2xx answered within the timeout is a success; anything else (another status, no answer, a
refused or dropped connection, an answer too late) is a failure, as Codat's troubleshooting
guide counts them. The timeout bounds the whole exchange, not each read: a watchdog shuts the
socket when it is over, so a receiver trickling bytes cannot hold the deliverer. Redirects are
not followed. ``close()`` may be called from another thread to end an attempt at once.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from codat_nb._version import __version__

#: Bytes of a consumer's answer read at most (the rest is not wanted: the connection closes).
MAX_ANSWER_BYTES = 64 << 10
USER_AGENT = f"codat-nb-sandbox-webhooks/{__version__}"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: the status answered (None if none was) or why it failed."""

    status: int | None
    error: str | None
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


class Sender:
    """POSTs to one URL; one attempt at a time (the deliverer's worker for this consumer)."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._closed = False

    def post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> Outcome:
        start = time.monotonic()
        late = threading.Event()
        try:
            connection = self._connect(timeout)
        except ConnectionAbortedError as exc:
            return Outcome(None, str(exc), 0.0)
        watchdog = threading.Timer(timeout, self._abort, (connection, late))
        watchdog.daemon = True
        watchdog.start()
        try:
            answer = self._exchange(connection, body, self._headers(headers), late)
            answer.read(MAX_ANSWER_BYTES)
            if answer.will_close or not answer.isclosed():  # the rest of a long answer unread
                self._drop(connection)
            status, error = answer.status, None if answer.status < 300 else f"HTTP {answer.status}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self._drop(connection)
            status, error = None, _reason(exc)
        finally:
            watchdog.cancel()
        seconds = time.monotonic() - start
        if late.is_set() or seconds > timeout:
            return Outcome(None, f"no answer within {timeout:g} s", seconds)
        return Outcome(status, error, seconds)

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        body: bytes,
        headers: Mapping[str, str],
        late: threading.Event,
    ) -> http.client.HTTPResponse:
        """Send and read the status and headers. A kept-alive connection the receiver closed
        while idle fails before any answer: then once more on a fresh one, as HTTP clients do
        (a real failure fails again)."""
        reused = connection.sock is not None
        try:
            connection.request("POST", self._target, body, headers)
            return connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused or late.is_set():
                raise
            connection.close()
            connection.request("POST", self._target, body, headers)
            return connection.getresponse()

    def close(self) -> None:
        """End any attempt under way and refuse the next (the consumer is gone)."""
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            _shut(connection)

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        with self._lock:
            if self._closed:
                raise ConnectionAbortedError("the consumer was deleted")
            if self._connection is None:
                kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
                self._connection = kind(self._host, self._port, timeout=timeout)
            return self._connection

    def _headers(self, signed: Mapping[str, str]) -> dict[str, str]:
        return {"Content-Type": "application/json", "User-Agent": USER_AGENT, **signed}

    def _abort(self, connection: http.client.HTTPConnection, late: threading.Event) -> None:
        late.set()
        _shut(connection)

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        """Forget a connection that cannot be reused (the next attempt opens a new one)."""
        connection.close()
        with self._lock:
            if self._connection is connection:
                self._connection = None


def _shut(connection: http.client.HTTPConnection) -> None:
    """Shut the socket down from any thread: a read blocked on it returns at once."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:200]
