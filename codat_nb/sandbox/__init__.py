"""A local, stateful Codat Sync for Expenses sandbox: a real HTTP server in a background thread.

``Sandbox(...)`` binds 127.0.0.1 (a free port by default), loads the chosen portfolio and starts
serving before the constructor returns, so ``sb.url`` is usable at once. Modelled on moto's
ThreadedMotoServer: state in ``store``, HTTP in ``app``, trouble in ``faults``.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from datetime import datetime
from email.utils import formatdate
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from codat_nb.sandbox.app import SandboxApp, auth_header_for
from codat_nb.sandbox.clock import DEFAULT_START, Clock
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.seed import demo_portfolio, scale_company
from codat_nb.sandbox.store import Store

__all__ = ["DEFAULT_API_KEY", "Sandbox"]

DEFAULT_API_KEY = "sandbox-api-key-0001"


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
        self.server.sandbox_sockets.add(self.connection)

    def finish(self) -> None:
        self.server.sandbox_sockets.discard(self.connection)
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
        return formatdate(self.server.sandbox_clock.now().timestamp(), usegmt=True)

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


class Sandbox:
    """A running sandbox. ``seed=None`` starts empty, ``"demo"`` loads the demo portfolio."""

    def __init__(
        self,
        seed: str | None = "demo",
        *,
        api_key: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        latency_ms: float = 0,
        rate_limit_rate: float = 0.0,
        error_rate: float = 0.0,
        retry_after: int = 1,
        max_concurrency: int | None = None,
        drop_rate: float = 0.0,
        start: datetime = DEFAULT_START,
    ):
        if seed is not None and not isinstance(seed, str):
            raise TypeError(f"seed must be a string or None, got {seed!r}")
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise ValueError("api_key must be a non-empty string")
        self.seed = seed
        self.api_key = api_key or DEFAULT_API_KEY
        self.auth_header = auth_header_for(self.api_key)
        self.clock = Clock(start)
        id_seed = seed if seed is not None else ""
        self.faults = Faults(
            self.clock,
            id_seed,
            latency_ms=latency_ms,
            rate_limit_rate=rate_limit_rate,
            retry_after=retry_after,
            error_rate=error_rate,
            max_concurrency=max_concurrency,
            drop_rate=drop_rate,
        )
        self._app: SandboxApp | None = None
        # Bind here so a busy port raises OSError (werkzeug's own bind calls sys.exit instead).
        with _listening_socket(host, port) as listener:
            self._server: BaseWSGIServer = make_server(
                host,
                port,
                self._wsgi,
                threaded=True,
                request_handler=_Handler,
                fd=listener.fileno(),
            )
        self._server.sandbox_clock = self.clock  # type: ignore[attr-defined]
        self._server.sandbox_sockets = _OpenSockets()  # type: ignore[attr-defined]
        bound_port = self._server.socket.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{url_host}:{bound_port}"
        self.port = bound_port
        try:
            self.store = Store(self.url, self.clock, id_seed)
            if seed is not None:
                demo_portfolio(self.store, seed)
            self._app = SandboxApp(self.store, self.faults, self.api_key, id_seed)
        except BaseException:
            self._server.server_close()
            raise
        self._stopped = False
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"codat-sandbox-{bound_port}",
            daemon=True,
        )
        self._thread.start()

    def _wsgi(self, environ: dict, start_response: object) -> object:
        assert self._app is not None  # set before serving starts
        return self._app(environ, start_response)  # type: ignore[arg-type]

    @property
    def unexpected_errors(self) -> list[str]:
        """Tracebacks of requests that hit the catch-all 500 (should always be empty)."""
        return self._app.unexpected_errors if self._app else []

    def load_scale(self, connections: int = 100_000, company_name: str = "Scale Test Ltd") -> str:
        """Add one company with ``connections`` connections (for paging benchmarks); its id."""
        return scale_company(self.store, connections, company_name)

    def stop(self) -> None:
        """Stop serving, close open connections and free the port; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._server.sandbox_sockets.close_all()  # type: ignore[attr-defined]
        self._thread.join()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"Sandbox(url={self.url!r}, seed={self.seed!r}, {state})"
