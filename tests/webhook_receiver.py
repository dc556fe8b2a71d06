"""A small webhook receiver for the sandbox's webhook tests: it records every POST exactly as it
arrived (raw body, headers) and answers what the test says: a status, or nothing for as long
as the test holds it (a hanging endpoint)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from svix.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes  # the raw body, as sent
    at: float  # time.monotonic() on arrival

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        received = Received(self.path, headers, body, time.monotonic())
        receiver = self.server.receiver
        receiver.record(received)
        receiver.release.wait(receiver.hang_seconds if receiver.hang else 0)
        status = receiver.answer(received)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        if receiver.close_idle:  # as a server timing out idle keep-alive connections does
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


class Receiver:
    """Records what arrives at ``url``; ``answer`` picks each status (200 by default);
    ``hang = True`` holds every answer until ``release`` is set (or ``hang_seconds``);
    ``close_idle = True`` closes each kept-alive connection after its answer, unannounced."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.url = f"http://127.0.0.1:{self._server.server_port}/codat-webhooks"
        self.answer: Callable[[Received], int] = lambda received: 200
        self.hang, self.hang_seconds = False, 30.0
        self.close_idle = False  # close each connection after its answer, without saying so
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received]

    def types(self) -> list[str]:
        return [r.event["eventType"] for r in self.received]

    def verify_all(self, secret: str) -> list[dict[str, Any]]:
        """Every message checked by svix, as Codat tells receivers to (raises if one fails)."""
        webhook = Webhook(secret)
        for received in self.received:
            webhook.verify(received.body, received.headers)
        return self.events()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
