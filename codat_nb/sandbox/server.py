"""The sandbox's HTTP server: one WSGI app served from a background thread, with keep-alive.

It knows nothing of Codat (moto's ThreadedMotoServer split): ``Sandbox`` hands it the app. The
socket is bound in the constructor, so a busy port raises OSError there (werkzeug's own bind
calls sys.exit) and the URL is known before the app that needs it is built; ``start(app)``
begins serving.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler


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


class _Handler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive with Nagle off: a loopback request costs ~1 ms instead of ~40 ms.

    werkzeug's own ``run_wsgi`` always answers ``Connection: close`` and then waits 10 ms to
    drain the socket, which would swallow a keep-alive client's next request. The sandbox's
    responses are small and fully buffered, so this handler reads the whole request body first
    (nothing can be left on the wire) and writes status, headers and body itself.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        self.server.open_sockets.discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").strip().lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        length = environ.get("CONTENT_LENGTH")
        if environ.get("wsgi.input_terminated"):  # chunked: read to the final chunk
            body = environ["wsgi.input"].read()
        elif length and length.isdigit():
            body = environ["wsgi.input"].read(int(length))
        else:  # no length and not chunked: HTTP/1.1 says there is no body
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input_terminated"] = True
        started: list = []

        def start_response(status: str, headers: list, exc_info: object = None) -> object:
            started[:] = [status, headers]
            return lambda data: None

        try:
            chunks = self.server.app(environ, start_response)
            try:
                payload = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
            status, headers = started
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)
            self.wfile.flush()
        except (ConnectionError, OSError):  # the client went away, or a fault dropped it
            self.close_connection = True

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
    """werkzeug's threaded server plus what the handler needs: open sockets, the Date clock."""

    def __init__(self, app: Callable, listener: socket.socket, now: Callable[[], datetime]):
        host, port = listener.getsockname()[:2]
        super().__init__(host, port, app, handler=_Handler, fd=listener.fileno())
        self.open_sockets = _OpenSockets()
        self.now = now


class ThreadedServer:
    """Serves one WSGI app on ``host:port`` (0: a free port) until ``stop()``.

    ``now`` gives the time for the Date header.
    """

    def __init__(self, host: str, port: int, now: Callable[[], datetime]):
        self._now = now
        self._listener = _listening_socket(host, port)
        self.port: int = self._listener.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{url_host}:{self.port}"
        self._server: _WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.stopped = False

    def start(self, app: Callable) -> None:
        """Serve ``app`` from a daemon thread."""
        with self._listener:  # the server works on its own duplicate of the socket
            self._server = _WSGIServer(app, self._listener, self._now)
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
