"""The sandbox's HTTP server: one WSGI app served from a background thread, with keep-alive.

It knows nothing of Codat (moto's ThreadedMotoServer split): ``Sandbox`` hands it the app and a
function that renders an error body. The socket is bound in the constructor, so a busy port
raises OSError there (werkzeug's own bind calls sys.exit) and the URL is known before the app
that needs it is built; ``start(app)`` begins serving.

Hostile clients are bounded here: a request (line, headers and body) must arrive within
``read_timeout`` seconds of the previous answer, so an idle or trickling socket cannot hold a
thread forever; headers are capped in total size (431); framing is checked before any body is
read (``framing``); the body is read only when the app asks for it, after authentication, and
an unread body longer than a few KiB closes the connection instead of being drained. Every
error the server itself answers (400, 408, 413, 414, 431, 501, 503) carries the app's JSON
error body, never werkzeug's HTML.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from codat_nb.sandbox.framing import BODY_KEY, Body, FramingError, body_length

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("codat_nb.sandbox")

#: Total bytes of request headers accepted (each line is also capped at 64 KiB by http.client).
MAX_HEADER_BYTES = 64 << 10
#: Connections served at once; more are answered 503 and closed without a thread.
MAX_CONNECTIONS = 256
#: Seconds a client may take to send one whole request, counted from the previous answer.
DEFAULT_READ_TIMEOUT = 30.0
#: Handler failures logged with a traceback; later ones are only counted.
_LOGGED_FAILURES = 10
_LINGER_SECONDS, _LINGER_BYTES = 1.0, 1 << 20

#: Renders an error body: (status, message) -> JSON bytes.
ErrorBody = Callable[[int, str], bytes]


class _OpenSockets:
    """The accepted client sockets, so ``stop()`` can close them.

    ``shutdown()`` only stops accepting: without this, a handler thread would go on answering a
    client's pooled keep-alive connection after the sandbox was stopped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._closed:
                self._sockets.add(sock)
                return
        _hang_up(sock)  # accepted just as the sandbox stopped

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def close_all(self) -> None:
        with self._lock:
            self._closed = True
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _hang_up(sock)


def _hang_up(sock: socket.socket) -> None:
    """End the conversation: the handler's next read sees end-of-stream and its thread exits."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _DeadlineReader(io.RawIOBase):
    """The socket's bytes, each read bounded by the handler's current deadline (a trickle of
    one byte a second cannot stretch a request past it)."""

    def __init__(self, sock: socket.socket, deadline: Callable[[], float]):
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline() - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request took too long to arrive")
        self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


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
    """HTTP/1.1 keep-alive with Nagle off: a loopback request costs ~1 ms instead of ~40 ms.

    werkzeug's own ``run_wsgi`` always answers ``Connection: close`` and then drains the socket
    (up to 10 GB), which would swallow a keep-alive client's next request and lets any client
    make the server read what it likes. This handler hands the app the body unread
    (``environ[BODY_KEY]``), writes status, headers and body itself, and afterwards either
    finds the connection at the next request or closes it.
    """

    protocol_version = "HTTP/1.1"
    server: _WSGIServer
    deadline = 0.0

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, lambda: self.deadline))
        self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        self.server.open_sockets.discard(self.connection)
        super().finish()

    def handle_one_request(self) -> None:
        self.deadline = time.monotonic() + self.server.read_timeout()
        super().handle_one_request()

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
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class _WSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server plus what the handler needs (open sockets, the Date clock,
    the error body, the read timeout), a cap on connections and bounded failure logging."""

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
        self.open_sockets = _OpenSockets()
        self.now, self.error_body, self.read_timeout = now, error_body, read_timeout
        self._lock = threading.Lock()
        self._connections = 0
        self.failures = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = self._connections >= MAX_CONNECTIONS
            if not full:
                self._connections += 1
        if full:
            self._refuse(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections -= 1

    def _refuse(self, request: socket.socket) -> None:
        """503 and close, from the accepting thread, without blocking on a client that never
        reads (the answer fits the socket buffer or is dropped)."""
        payload = self.error_body(503, "Too many open connections; retry later.")
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.setblocking(False)
            request.send(head.encode() + payload)
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A handler failure: logged with its traceback the first few times, then only counted,
        so a client that triggers one repeatedly cannot flood stderr."""
        self.failures += 1
        if self.failures <= _LOGGED_FAILURES:
            log.exception("sandbox: the connection from %s failed", client_address)


class ThreadedServer:
    """Serves one WSGI app on ``host:port`` (0: a free port) until ``stop()``.

    ``now`` gives the time for the Date header, ``error_body`` renders the server's own error
    answers, ``read_timeout`` the seconds a request may take to arrive (read at each request).
    """

    def __init__(
        self,
        host: str,
        port: int,
        now: Callable[[], datetime],
        error_body: ErrorBody,
        read_timeout: Callable[[], float] = lambda: DEFAULT_READ_TIMEOUT,
    ):
        self._now, self._error_body, self._read_timeout = now, error_body, read_timeout
        self._listener = _listening_socket(host, port)
        self.port: int = self._listener.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{url_host}:{self.port}"
        self._server: _WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.stopped = False

    def start(self, app: WSGIApplication) -> None:
        """Serve ``app`` from a daemon thread."""
        with self._listener:  # the server works on its own duplicate of the socket
            self._server = _WSGIServer(
                app, self._listener, self._now, self._error_body, self._read_timeout
            )
        thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"codat-sandbox-{self.port}",
            daemon=True,
        )
        thread.start()
        self._thread = thread  # only once serving: shutdown() waits for the serving loop

    def stop(self) -> None:
        """Stop serving, close open connections and free the port; safe to call twice."""
        if self.stopped:
            return
        self.stopped = True
        self._listener.close()  # still open only if serving never started
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.open_sockets.close_all()
        self._thread.join()
