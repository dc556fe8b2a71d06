"""One deadline per call, enforced on every read from the socket.

A socket timeout bounds one ``recv``, not a response: a server that trickles a byte a second
(headers or body) never trips it. ``DeadlineAdapter`` gives its connections a response class
whose reads check the calling thread's deadline (``deadline_scope``) before each ``recv`` and
shorten the socket timeout to what is left, so a call ends at its deadline whatever the server
does. Used by the client's own session; a session passed in by the user keeps its adapters.
"""

from __future__ import annotations

import http.client
import io
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from codat_nb.thread_scope import ThreadScoped

_deadline: ThreadScoped[float] = ThreadScoped()

#: ``with deadline_scope(deadline):`` responses this thread opens inside end by ``deadline``
#: (``time.monotonic()`` based).
deadline_scope = _deadline.scope


class DeadlineExceeded(TimeoutError):
    """The call's deadline passed while a response was still arriving."""


class _DeadlineReader(io.RawIOBase):
    """The socket as a raw stream whose every read checks the deadline first."""

    def __init__(self, sock: Any, deadline: float, read_timeout: float | None) -> None:
        self._sock, self._deadline, self._read_timeout = sock, deadline, read_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the call's deadline passed while the response was arriving")
        timeout = left if self._read_timeout is None else min(left, self._read_timeout)
        self._sock.settimeout(timeout)
        received: int = self._sock.recv_into(buffer)
        return received


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline = _deadline.get()
        if deadline is not None:
            self.fp.close()
            self.fp = io.BufferedReader(_DeadlineReader(sock, deadline, sock.gettimeout()))


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections honour ``deadline_scope`` (behind an HTTP proxy too;
    behind a SOCKS proxy only the per-read timeout applies)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have connections of their own
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager
