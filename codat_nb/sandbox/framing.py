"""Request framing as RFC 9112 (section 6) requires, and a request body read within a cap.

How long a body is must be decided from the headers alone, before anything is read, and
ambiguous framing is refused (400, and the connection closed): Content-Length together with
Transfer-Encoding, a duplicate or malformed Content-Length, a transfer coding other than a
final ``chunked``. The body itself is read only when the app asks for it (after
authentication) and never beyond ``limit`` bytes: a body announced or found to be longer is
refused without being read to its end, so one small request cannot make the server allocate
what it announces. Nothing here knows Codat; the app turns a ``FramingError`` into its error
body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message
from typing import Protocol

#: The largest request body the sandbox reads (no Codat request body comes near it).
MAX_BODY = 1 << 20
#: What may be read and dropped after an answer to keep a kept-alive connection usable.
DISCARD_LIMIT = 64 << 10
_CHUNK_LINE = 4096  # a chunk-size line (with extensions) or trailer line longer than this is junk
_TRAILER_LIMIT = 16 << 10
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,19}")
CHUNKED = -1
#: The WSGI environ key under which the server hands the app the request's unread ``Body``.
BODY_KEY = "codat_nb.body"


class Reader(Protocol):
    """What a body is read from: the connection's buffered input."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


class FramingError(Exception):
    """A request whose body cannot be read safely: ``status`` says why (400, 408, 413, 501)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def body_length(headers: Message) -> int:
    """The body's length from the headers: bytes, ``CHUNKED``, or 0 (no body); FramingError
    for framing RFC 9112 forbids or this server does not speak."""
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if encodings and lengths:
        raise FramingError(400, "Content-Length and Transfer-Encoding together are ambiguous")
    if encodings:
        codings = [c.strip().lower() for value in encodings for c in value.split(",")]
        if codings[-1] != "chunked":
            raise FramingError(400, "Transfer-Encoding must end with chunked")
        if codings != ["chunked"]:
            raise FramingError(501, f"Transfer-Encoding {', '.join(codings)} is not supported")
        return CHUNKED
    if not lengths:
        return 0
    if len(lengths) > 1 or "," in lengths[0]:
        raise FramingError(400, "Content-Length is given more than once")
    text = lengths[0].strip()
    if not _DIGITS.fullmatch(text):
        raise FramingError(400, f"Content-Length must be a non-negative integer, got {text[:40]!r}")
    return int(text)


class Body:
    """One request's body, read from ``rfile`` on demand and at most ``limit`` bytes of it.

    ``before_read`` runs once before the first byte is read (the server's ``100 Continue``, for
    a client that waits for it), and only for a body not announced beyond the limit; a body
    that awaits it is never read just to be dropped. ``complete`` says whether the body was
    read to its end, i.e. whether the connection is positioned at the next request.
    """

    def __init__(
        self,
        rfile: Reader,
        length: int,
        limit: int = MAX_BODY,
        before_read: Callable[[], None] | None = None,
    ):
        self._rfile, self._length, self._limit = rfile, length, limit
        self._before_read = before_read
        self._data: bytes | None = None
        self.complete = length == 0
        self.started = False

    def read(self) -> bytes:
        """The whole body; FramingError 413 if it is longer than the limit, 400 if malformed."""
        if self._data is None:
            self._data = self._read_within(self._limit, keep=True)
        return self._data

    def discard(self, budget: int = DISCARD_LIMIT) -> bool:
        """Read and drop an unread body of at most ``budget`` bytes; False when it is longer,
        malformed, broken off or never invited (the caller then closes the connection)."""
        if self.complete:
            return True
        if self.started or self._before_read is not None:
            return False  # read in part already, or the client may await 100 Continue
        try:
            self._read_within(budget, keep=False)
        except (FramingError, OSError):
            return False
        return True

    def _read_within(self, limit: int, keep: bool) -> bytes:
        if self.complete:
            return b""
        if self.started:
            raise FramingError(400, "the request body could not be read")
        self.started = True
        if self._length > limit:
            raise FramingError(413, f"the request body is {self._length} bytes; at most {limit}")
        if self._before_read is not None:
            self._before_read()
        if self._length == CHUNKED:
            data = self._dechunk(limit, keep)
        else:
            data = self._exactly(self._length)
        self.complete = True
        return data

    def _exactly(self, size: int) -> bytes:
        data = self._rfile.read(size)
        if len(data) != size:
            raise FramingError(400, "the request body ended before its announced length")
        return data

    def _line(self) -> bytes:
        line = self._rfile.readline(_CHUNK_LINE + 1)
        if len(line) > _CHUNK_LINE or not line.endswith(b"\r\n"):
            raise FramingError(400, "malformed chunked body: a line is too long or unterminated")
        return line[:-2]

    def _dechunk(self, limit: int, keep: bool) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_text = self._line().split(b";", 1)[0].strip(b" \t")
            if not _HEX.fullmatch(size_text):
                raise FramingError(400, f"malformed chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise FramingError(413, f"the chunked request body exceeds {limit} bytes")
            chunk = self._exactly(size)
            if keep:
                parts.append(chunk)
            if self._rfile.read(2) != b"\r\n":
                raise FramingError(400, "malformed chunked body: a chunk is not followed by CRLF")
        trailers = 0
        while line := self._line():  # trailer fields, ignored, until the empty line
            trailers += len(line)
            if trailers > _TRAILER_LIMIT:
                raise FramingError(400, "malformed chunked body: the trailer is too long")
        return b"".join(parts)
