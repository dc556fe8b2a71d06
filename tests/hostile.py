"""A small hostile HTTP server for client tests: it answers whatever the test says, however
badly (odd shapes, lies, trickles, bombs), and records what it was asked."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Asked:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-able, or bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float | None = None  # seconds between bytes of the body
    trickle_headers: bool = False  # trickle the status line and headers too


Handler = Callable[[Asked], Answer]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        asked = Asked(
            self.command,
            parts.path,
            dict(parse_qsl(parts.query)),
            dict(self.headers.items()),
            time.monotonic(),
        )
        self.server.asked.append(asked)  # type: ignore[attr-defined]
        answer = self.server.handler(asked)  # type: ignore[attr-defined]
        data = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        if answer.body is None:
            data = b""
        headers = {"Content-Type": "application/json", **answer.headers}
        headers["Content-Length"] = str(len(data))
        head = f"HTTP/1.1 {answer.status} X\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        raw = head.encode() + b"\r\n"
        try:
            if answer.trickle is None:
                self.wfile.write(raw + data)
                return
            if not answer.trickle_headers:
                self.wfile.write(raw)
                raw = b""
            for byte in raw + data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(answer.trickle)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def hostile(handler: Handler) -> Iterator[Any]:
    """Serve ``handler`` on loopback; yields the server (``.url``, ``.asked``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.handler = handler  # type: ignore[attr-defined]
    server.asked = []  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def page(results: list, total: int | None = None, number: int = 1, size: int = 100) -> dict:
    """A Codat page envelope around ``results``."""
    return {
        "results": results,
        "pageNumber": number,
        "pageSize": size,
        "totalResults": len(results) if total is None else total,
        "_links": {"self": {"href": "/"}, "current": {"href": "/"}},
    }


MISSING = object()


def connection(n: int = 1, **changes: Any) -> dict:
    """A valid Connection wire dict; ``changes`` override (``MISSING``: the field left out)."""
    row = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "integrationId": "fd321cb6-7963-4506-b873-e99593a45e30",
        "integrationKey": "gbol",
        "sourceId": "35b92968-9851-4095-ad60-395c95cbcba4",
        "sourceType": "Accounting",
        "platformName": "Xero",
        "linkUrl": "https://link-api.codat.io/companies/x/connections/y/start",
        "status": "Linked",
        "lastSync": "2022-10-27T10:22:43.6464237Z",
        "created": "2022-10-27T09:53:29Z",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not MISSING}
