"""The sandbox's HTTP server: one WSGI app, keep-alive, served by worker threads.

It knows nothing of Codat (moto's ThreadedMotoServer split): ``Sandbox`` hands it the app and a
function that renders an error body. The socket is bound in the constructor, so a busy port
raises OSError there (werkzeug's own bind calls sys.exit) and the URL is known before the app
that needs it is built; ``start(app)`` begins serving.

Hostile clients are bounded here and in ``io_loop``: a connection waits for its request head in
one selector thread, so idle and trickling sockets hold no worker (and the connection that has
waited longest gives way to a newcomer when the cap is reached); a request (line, headers and
body) must arrive within ``read_timeout`` seconds of the previous answer; headers are capped in
total size (431); framing is checked before any body is read (``framing``); the body is read
only when the app asks for it, after authentication, and an unread body that is not there at
once, or longer than a few KiB, closes the connection instead of being waited for or drained.
Every error the server itself answers (400, 408, 413, 414, 431, 501, 503) carries the app's
JSON error body, never werkzeug's HTML.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from codat_nb.sandbox.framing import BODY_KEY, Body, FramingError, body_length
from codat_nb.sandbox.io_loop import Conn, IoLoop

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("codat_nb.sandbox")

#: Total bytes of request headers accepted (each line is also capped at 64 KiB by http.client).
MAX_HEADER_BYTES = 64 << 10
#: Connections open at once, waiting or served (half the process's file limit, if lower): a
#: newcomer beyond it takes the place of the one that has waited longest, or gets a 503 when
#: every one is being served.
MAX_CONNECTIONS = 1024
#: Requests handled at once; more wait for a worker (a waiting connection holds none).
MAX_WORKERS = 256
#: Seconds an unread body still arriving is waited for, to keep the connection, after an
#: answer that did not need it (a 401, say); a slower one closes the connection.
_DISCARD_GRACE = 0.25
#: Seconds a client may take to send one whole request, counted from the previous answer.
DEFAULT_READ_TIMEOUT = 30.0
#: Handler failures logged with a traceback; later ones are only counted.
_LOGGED_FAILURES = 10
_LINGER_SECONDS, _LINGER_BYTES = 1.0, 1 << 20

#: Renders an error body: (status, message) -> JSON bytes.
ErrorBody = Callable[[int, str], bytes]


class _HeaderCap:
    """``rfile`` while headers are parsed: more than MAX_HEADER_BYTES in all is a 431."""

    def __init__(self, rfile: Any):
        self._rfile, self._left = rfile, MAX_HEADER_BYTES

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._rfile.readline(limit)
        self._left -= len(line)
        if self._left < 0:
            raise http.client.LineTooLong(f"request headers beyond {MAX_HEADER_BYTES} bytes")
        return line


class _Handler(WSGIRequestHandler):
    """One request of a connection whose head has arrived (``io_loop``), over HTTP/1.1.

    werkzeug's own ``run_wsgi`` always answers ``Connection: close`` and then drains the socket
    (up to 10 GB), which would swallow a keep-alive client's next request and lets any client
    make the server read what it likes. This handler hands the app the body unread
    (``environ[BODY_KEY]``), writes status, headers and body itself, and afterwards says whether
    the connection is to be kept (``keep``: the loop then waits for its next request).
    """

    protocol_version = "HTTP/1.1"
    server: _WSGIServer
    keep = False

    def setup(self) -> None:
        self.conn: Conn = self.request
        self.connection = self.conn.sock
        self.rfile = self.conn  # buffered, deadline-bound reads
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]

    def handle(self) -> None:
        """One request (werkzeug's ``handle`` loops until the connection closes)."""
        self.close_connection = True
        try:
            self.handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        self.keep = not self.close_connection

    def finish(self) -> None:
        """Flush the answer; the connection is the loop's to keep or close."""
        with contextlib.suppress(OSError):
            self.wfile.flush()

    def parse_request(self) -> bool:
        rfile, self.rfile = self.rfile, _HeaderCap(self.rfile)  # type: ignore[assignment]
        try:
            if not super().parse_request():
                return False
        finally:
            self.rfile = rfile
        if self.request_version == "HTTP/0.9":  # a bare "GET /path": no headers, no framing
            self.send_error(400, "HTTP/0.9 requests are not supported")
            return False
        return True

    def handle_expect_100(self) -> bool:
        """Defer ``100 Continue`` until the app reads the body: an unauthenticated client is
        answered without ever being invited to send it."""
        return True

    def run_wsgi(self) -> None:
        try:
            length = body_length(self.headers)
        except FramingError as exc:
            self.send_error(exc.status, exc.message)
            return
        waits = self.headers.get("Expect", "").strip().lower() == "100-continue"
        body = Body(self.rfile, length, before_read=self._continue if waits else None)
        environ = self.environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(b"")  # the app reads environ[BODY_KEY], after auth
        environ["CONTENT_LENGTH"] = "0"
        environ.pop("wsgi.input_terminated", None)
        environ[BODY_KEY] = body
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            started[:] = [(status, headers)]
            return lambda data: None

        try:
            chunks = self.server.app(environ, start_response)
            try:
                payload = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
            status, headers = started[0]
            if any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
                self.close_connection = True
            self.conn.deadline = min(self.conn.deadline, time.monotonic() + _DISCARD_GRACE)
            if not self.close_connection and not body.discard():
                self.close_connection = True
                headers = [*headers, ("Connection", "close")]
            self.connection.settimeout(self.server.read_timeout())  # writing, not reading
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        except (ConnectionError, OSError):  # the client went away, or a fault dropped it
            self.close_connection = True
        if self.close_connection and not body.complete:
            self._linger()

    def _continue(self) -> None:
        self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.wfile.flush()

    def _linger(self) -> None:
        """Close without reading the rest of a body, yet let the client read the answer first:
        stop sending, then drop what still arrives for a moment (bounded in time and bytes)."""
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.05)
            end, left = time.monotonic() + _LINGER_SECONDS, _LINGER_BYTES
            while left > 0 and time.monotonic() < end:
                data = self.connection.recv(min(left, 65536))
                if not data:
                    break
                left -= len(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the server answers itself, as the app's JSON error body; the connection then
        closes, since what follows on it cannot be trusted."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # unparsable request line: answer in HTTP/1.1
            self.request_version = "HTTP/1.1"
        reason = self.responses.get(code, ("Error",))[0]
        payload = self.server.error_body(code, message or reason)
        with contextlib.suppress(OSError):
            self.connection.settimeout(self.server.read_timeout())
            self.send_response(code, reason)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header from the sandbox clock, so clients' idea of "now" is deterministic."""
        return formatdate(self.server.now().timestamp(), usegmt=True)

    def log(self, type: str, message: str, *args: object) -> None:
        """Silent: request lines would flood test output (the app logs what matters)."""


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)  # a burst of connections waits in the kernel, not refused
    except BaseException:
        sock.close()
        raise
    return sock


class _WSGIServer(BaseWSGIServer):
    """What the handler needs of its server (werkzeug's attributes, the Date clock, the error
    body, the read timeout), serving the connections ``io_loop`` hands it, and bounded failure
    logging. werkzeug's own serving loop is never run."""

    def __init__(
        self,
        app: WSGIApplication,
        listener: socket.socket,
        now: Callable[[], datetime],
        error_body: ErrorBody,
        read_timeout: Callable[[], float],
    ):
        host, port = listener.getsockname()[:2]
        super().__init__(host, port, app, handler=_Handler, fd=listener.fileno())
        self.multithread = True
        self.now, self.error_body, self.read_timeout = now, error_body, read_timeout
        self.failures = 0

    def serve(self, conn: Conn) -> bool:
        """Answer the request whose head ``conn`` holds; True to keep the connection."""
        try:
            return _Handler(conn, conn.address, self).keep  # type: ignore[arg-type]
        except Exception:
            self.handle_error(conn, conn.address)
            return False

    def refusal(self, status: int) -> bytes:
        """A whole answer for a connection the loop refuses: 503 (every slot busy) or 408 (the
        request did not arrive in time); the connection then closes."""
        messages = {
            503: ("Service Unavailable", "Too many open connections; retry later."),
            408: ("Request Timeout", "the request took too long to arrive"),
        }
        reason, message = messages[status]
        payload = self.error_body(status, message)
        retry = "Retry-After: 1\r\n" if status == 503 else ""
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{retry}Connection: close\r\n\r\n"
        )
        return head.encode() + payload

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A handler failure: logged with its traceback the first few times, then only counted,
        so a client that triggers one repeatedly cannot flood stderr."""
        self.failures += 1
        if self.failures <= _LOGGED_FAILURES:
            log.exception("sandbox: the connection from %s failed", client_address)


def _connection_cap() -> int:
    """MAX_CONNECTIONS, or half the process's file limit when that is lower."""
    try:
        import resource
    except ImportError:  # not on Windows
        return MAX_CONNECTIONS
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return MAX_CONNECTIONS if soft == resource.RLIM_INFINITY else min(MAX_CONNECTIONS, soft // 2)


class ThreadedServer:
    """Serves one WSGI app on ``host:port`` (0: a free port) until ``stop()``.

    ``now`` gives the time for the Date header, ``error_body`` renders the server's own error
    answers, ``read_timeout`` the seconds a request may take to arrive (read at each request);
    ``max_connections`` and ``max_workers`` bound the open connections and the requests handled
    at once (``io_loop``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        now: Callable[[], datetime],
        error_body: ErrorBody,
        read_timeout: Callable[[], float] = lambda: DEFAULT_READ_TIMEOUT,
        *,
        max_connections: int | None = None,
        max_workers: int = MAX_WORKERS,
    ):
        self._now, self._error_body, self._read_timeout = now, error_body, read_timeout
        self._max_connections = max_connections or _connection_cap()
        self._max_workers = max_workers
        self._listener = _listening_socket(host, port)
        self.port: int = self._listener.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{url_host}:{self.port}"
        self._server: _WSGIServer | None = None
        self._loop: IoLoop | None = None
        self._thread: threading.Thread | None = None
        self.stopped = False

    def start(self, app: WSGIApplication) -> None:
        """Serve ``app``: the selector thread (a daemon) and its workers."""
        with self._listener:  # the server works on its own duplicate of the socket
            server = _WSGIServer(
                app, self._listener, self._now, self._error_body, self._read_timeout
            )
        self._server = server
        self._loop = IoLoop(
            server.socket,
            server.serve,
            server.refusal,
            self._read_timeout,
            self._max_connections,
            self._max_workers,
        )
        thread = threading.Thread(
            target=self._loop.run, name=f"codat-sandbox-{self.port}", daemon=True
        )
        thread.start()
        self._thread = thread

    @property
    def open_connections(self) -> int:
        """Connections open now, waiting for a request or being served."""
        return 0 if self._loop is None else self._loop.open_connections

    def stop(self) -> None:
        """Stop serving, close open connections and free the port; safe to call twice."""
        if self.stopped:
            return
        self.stopped = True
        self._listener.close()  # still open only if serving never started
        if self._server is None or self._loop is None or self._thread is None:
            return
        self._loop.stop()
        self._thread.join()
        self._server.server_close()
