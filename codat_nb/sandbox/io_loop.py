"""Waiting connections cost a socket, not a thread: one selector thread holds them until a whole
request head has arrived, and only then hands the connection to a worker thread.

So idle keep-alive sockets, and a slowloris trickling its headers a byte at a time, wait here
for nothing but a file descriptor and their buffered bytes (at most ``HEAD_LIMIT``), however
many they are, while a client that sends its request at once is served by the next free worker.
Each waiting connection has a deadline (its whole request must arrive within the server's read
timeout of accepting or of the previous answer): past it, a partial request is answered 408 and
the connection closed, an idle one is closed. When ``max_connections`` are open, a newcomer
takes the place of the connection that has waited longest; only when every one of them is being
served does a newcomer get a 503. Workers are daemon threads started as needed, up to
``max_workers``; a request waits in their queue when all are busy. After an answer a worker
hands a kept-alive connection back here (``park``). Nothing here knows HTTP beyond where a
request head ends.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger("codat_nb.sandbox")
#: Bytes of a request head buffered while waiting; a head that has not ended by then goes to a
#: worker, which refuses it (414 for the request line, 431 for the headers).
HEAD_LIMIT = 140 << 10
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_HTTP_1_LINE = re.compile(rb"[^\r\n]* HTTP/\d\.\d\r?\n")
_RECV = 64 << 10
_TICK = 0.5  # seconds between deadline sweeps when nothing happens
#: Seconds a worker waits for a kept-alive connection's next request before handing the
#: connection back to the selector (a client walking pages sends it at once).
_NEXT_REQUEST_WAIT = 0.002


class Conn:
    """One client connection: its socket, the bytes read but not yet consumed, and the deadline
    by which its current request must have arrived. Its ``read`` and ``readline`` serve the
    buffered bytes first, then the socket, each read bounded by the deadline."""

    def __init__(self, sock: socket.socket, address: tuple[str, int], deadline: float):
        self.sock, self.address, self.deadline = sock, address, deadline
        self.buffer = bytearray()
        self.waiting_since = time.monotonic()

    def head_ready(self) -> bool:
        """Whether a worker should take it: a whole head, a first line no HTTP/1.x request
        has (answered at once), or more than a head may hold."""
        if len(self.buffer) > HEAD_LIMIT or _HEAD_END.search(self.buffer):
            return True
        line_end = self.buffer.find(b"\n")
        return line_end >= 0 and not _HTTP_1_LINE.match(self.buffer, 0, line_end + 1)

    # ----- the worker's reads ------------------------------------------------------------
    def _fill(self) -> bool:
        """Read more from the socket before the deadline; False at end of stream."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request took too long to arrive")
        self.sock.settimeout(remaining)
        data = self.sock.recv(_RECV)
        self.buffer += data
        return bool(data)

    def read(self, size: int = -1, /) -> bytes:
        """``size`` bytes, fewer only at end of stream (``-1``: to the end of the stream)."""
        while (size < 0 or len(self.buffer) < size) and self._fill():
            pass
        taken = bytes(self.buffer if size < 0 else self.buffer[:size])
        del self.buffer[: len(taken)]
        return taken

    def readline(self, size: int = -1, /) -> bytes:
        """One line with its ``\\n``, at most ``size`` bytes (``-1``: no bound)."""
        start = 0
        while True:
            end = self.buffer.find(b"\n", start)
            if end >= 0 and (size < 0 or end < size):
                return self.take(end + 1)
            if 0 <= size <= len(self.buffer):
                return self.take(size)
            start = len(self.buffer)
            if not self._fill():
                return self.take(len(self.buffer))

    def take(self, size: int) -> bytes:
        taken = bytes(self.buffer[:size])
        del self.buffer[:size]
        return taken

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        self.sock.close()


#: Serves one connection whose request head has arrived; returns True to keep it open (the
#: worker then parks it), False once it is closed.
Serve = Callable[[Conn], bool]
#: Answers a connection that cannot be served (503) or timed out mid-request (408): bytes.
Refusal = Callable[[int], bytes]


class IoLoop:
    """The selector thread, the workers and the connection cap of one server."""

    def __init__(
        self,
        listener: socket.socket,
        serve: Serve,
        refusal: Refusal,
        read_timeout: Callable[[], float],
        max_connections: int,
        max_workers: int,
    ):
        self._listener, self._serve, self._refusal = listener, serve, refusal
        self._read_timeout = read_timeout
        self.max_connections, self._max_workers = max_connections, max_workers
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._waiting: dict[socket.socket, Conn] = {}  # in the selector
        self._busy: set[Conn] = set()  # queued for or held by a worker
        self._parked: queue.SimpleQueue[Conn] = queue.SimpleQueue()
        self._jobs: queue.SimpleQueue[Conn | None] = queue.SimpleQueue()
        self._workers, self._idle_workers = 0, 0
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stopping = threading.Event()
        listener.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ)
        self._selector.register(self._wake_reader, selectors.EVENT_READ)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._waiting) + len(self._busy)

    # ----- the selector thread -----------------------------------------------------------
    def run(self) -> None:
        """Until ``stop()``: accept, read heads, hand them out, sweep deadlines."""
        while not self._stopping.is_set():
            for key, _ in self._selector.select(self._next_timeout()):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj is self._wake_reader:
                    with contextlib.suppress(OSError):
                        self._wake_reader.recv(4096)
                else:
                    self._readable(self._waiting.get(key.fileobj))  # type: ignore[call-overload]
            self._take_parked()
            self._sweep()
        self._close_everything()

    def _next_timeout(self) -> float:
        if not self._waiting:
            return _TICK
        soonest = min(conn.deadline for conn in self._waiting.values())
        return max(0.0, min(_TICK, soonest - time.monotonic()))

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # the listener closed as the server stopped
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            conn = Conn(sock, address, time.monotonic() + self._read_timeout())
            if self.open_connections >= self.max_connections and not self._evict_longest_waiting():
                self._refuse(conn, 503)
                continue
            self._wait(conn)

    def _evict_longest_waiting(self) -> bool:
        """Close the connection that has waited longest to make room; False if none waits."""
        if not self._waiting:
            return False
        oldest = min(self._waiting.values(), key=lambda conn: conn.waiting_since)
        self._forget(oldest)
        oldest.close()
        return True

    def _wait(self, conn: Conn) -> None:
        conn.waiting_since = time.monotonic()
        with self._lock:
            self._waiting[conn.sock] = conn
        self._selector.register(conn.sock, selectors.EVENT_READ)

    def _forget(self, conn: Conn) -> None:
        with self._lock:
            self._waiting.pop(conn.sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def _readable(self, conn: Conn | None) -> None:
        if conn is None:
            return
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._forget(conn)
            conn.close()
            return
        conn.buffer += data
        if conn.head_ready():
            self._forget(conn)
            self._dispatch(conn)

    def _sweep(self) -> None:
        now = time.monotonic()
        for conn in [c for c in self._waiting.values() if c.deadline <= now]:
            self._forget(conn)
            if conn.buffer:  # part of a request: say why it ends
                self._refuse(conn, 408)
            else:
                conn.close()

    def _refuse(self, conn: Conn, status: int) -> None:
        """Answer without a thread and without blocking (what does not fit the socket's
        buffer is dropped), then close."""
        with contextlib.suppress(OSError):
            conn.sock.setblocking(False)
            conn.sock.send(self._refusal(status))
        conn.close()

    # ----- handing over to the workers ---------------------------------------------------
    def _dispatch(self, conn: Conn) -> None:
        with self._lock:
            self._busy.add(conn)
            start = self._idle_workers == 0 and self._workers < self._max_workers
            if start:
                self._workers += 1
        self._jobs.put(conn)
        if start:
            threading.Thread(target=self._work, name="codat-sandbox-worker", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle_workers += 1
            conn = self._jobs.get()
            with self._lock:
                self._idle_workers -= 1
            if conn is None:
                return
            keep = False
            try:
                keep = self._serve_while_busy(conn)
            except Exception:  # ``serve`` logs its own failures; this is a last resort
                log.exception("sandbox: a worker failed serving %s", conn.address)
            finally:
                if keep and not self._stopping.is_set():
                    self.park(conn)
                else:
                    with self._lock:
                        self._busy.discard(conn)
                    conn.close()

    def _serve_while_busy(self, conn: Conn) -> bool:
        """Serve the connection's requests while the next one follows at once (a keep-alive
        client walking pages), saving the trip through the selector; True to keep it open."""
        while True:
            conn.sock.settimeout(self._read_timeout())
            if not self._serve(conn) or self._stopping.is_set():
                return False
            conn.deadline = time.monotonic() + self._read_timeout()
            if not conn.head_ready():
                ready, _, _ = select.select([conn.sock], [], [], _NEXT_REQUEST_WAIT)
                if ready:
                    try:
                        data = conn.sock.recv(_RECV)
                    except OSError:
                        return False
                    if not data:
                        return False
                    conn.buffer += data
            if not conn.head_ready():
                return True  # idle, or a partial head: the selector waits for the rest

    def park(self, conn: Conn) -> None:
        """A worker hands back a kept-alive connection: its next request must arrive within
        the read timeout of this answer."""
        conn.deadline = time.monotonic() + self._read_timeout()
        self._parked.put(conn)
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def _take_parked(self) -> None:
        while True:
            try:
                conn = self._parked.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                self._busy.discard(conn)
            if self._stopping.is_set():
                conn.close()
            elif conn.head_ready():  # a pipelined request is here already
                self._dispatch(conn)
            else:
                with contextlib.suppress(OSError):
                    conn.sock.setblocking(False)
                self._wait(conn)

    # ----- stopping ----------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the loop; it closes every connection, waiting or being served, as it ends."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def _close_everything(self) -> None:
        with self._lock:
            conns = [*self._waiting.values(), *self._busy]
            self._waiting.clear()
            workers = self._workers
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)  # a worker's read ends at once
        for conn in [c for c in conns if c not in self._busy]:
            conn.close()
        for _ in range(workers):
            self._jobs.put(None)
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()
