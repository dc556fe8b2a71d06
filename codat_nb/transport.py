"""HTTP concerns only: one pooled session, auth, deadlines, retries, idempotency, error mapping.

Everything above this module works with parsed JSON and CodatErrors; nothing above it touches
``requests``. The retry rules keep every write applied at most once:

* every POST and PATCH carries an ``Idempotency-Key`` (one GUID per call, the same on each
  retry), so a write whose answer was lost (timeout, dropped connection), a 408, a 409 (the
  first attempt still in progress) or a 429 (not kept by Codat) is retried safely;
* a write answered 5xx is not retried: Codat replays the stored 5xx for the same key, and a
  new key could apply the write twice;
* a write's final error carries its key, and its message says what the key can still do
  (``exchange.write_advice``): send it again after a lost answer, a 409 or a 429; after a 5xx
  or a refusal it would only get the same answer back;
* a client has at most ``POOL_SIZE`` requests in flight; more wait for a connection;
* reads and DELETEs retry on 408, 429, 5xx and network failures;
* a refused connection (nothing listening) is retried for about a second, then reported with
  a hint, rather than retried for the whole deadline;
* after a 429 every request of the client pauses (``RatePause``); a wait that would pass the
  call's deadline ends the call with ``QuotaExceededError``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import warnings
from collections.abc import Mapping
from concurrent.futures import CancelledError
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import pandas as pd
import requests

from codat_nb._version import __version__
from codat_nb.cancel import cancel_event
from codat_nb.deadline import DeadlineAdapter, deadline_scope
from codat_nb.exceptions import (
    AuthenticationError,
    ClientClosedError,
    CodatConnectionError,
    CodatError,
    CodatTimeoutError,
    CodatWarning,
    QuotaExceededError,
    RateLimitError,
    ResponseTooLargeError,
)
from codat_nb.exchange import (
    TRANSPORT_FAILURES,
    WRITES,
    Outcome,
    failure_outcome,
    response_outcome,
    write_advice,
)
from codat_nb.headers import RateLimit, read_rate_limit, server_date
from codat_nb.listing import Tally
from codat_nb.retry import RatePause, RetryPolicy, next_step
from codat_nb.secret import Secret

log = logging.getLogger(__name__)

#: Decompressed bytes one response may have (a 5,000-company page is tens of MB).
MAX_RESPONSE_BYTES = 256 * 2**20
_CHUNK = 1 << 16
#: Requests one client has in flight at most, and the connections its pool keeps: Codat's 10
#: concurrent requests per company, with room for threads sharing the client. A request past
#: it waits for a free connection (within its deadline), so the pool never overflows
#: ("Connection pool is full, discarding connection").
POOL_SIZE = 32
#: How often a request waiting for a connection looks whether its listing has ended.
_SLOT_POLL_S = 0.05


class _Call(NamedTuple):
    """One request as every attempt sends it."""

    method: str
    url: str
    params: dict[str, Any] | None
    json_body: Any
    headers: dict[str, str]


class _BasicHeaderAuth(requests.auth.AuthBase):
    """Adds the Authorization header per request; its repr never shows the secret."""

    def __init__(self, header: Secret) -> None:
        self._header = header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header.reveal()
        return request

    def __repr__(self) -> str:
        return "<Codat Authorization header hidden>"


class Transport:
    """One pooled ``requests.Session`` for a base URL and a credential.

    ``session`` is the seam for a user's own session (proxies, certificates, mounted
    adapters): it is used as it is, credentials and headers are added per request, and
    ``close()`` leaves it open for its owner. Without one, a pooled session is made and owned;
    its adapter enforces the call deadline on every read (``deadline.DeadlineAdapter``).
    Thread-safe: listings share one Transport across worker threads.
    """

    def __init__(
        self,
        auth_header: Secret,
        base_url: str,
        *,
        timeout: tuple[float, float],
        retries: RetryPolicy,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        session: requests.Session | None = None,
        refusal_hint: str = "",
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.retries = retries
        self.max_response_bytes = max_response_bytes
        #: Added to a 401's message: what to check (said by the client, which knows the setup).
        self.refusal_hint = refusal_hint
        self._auth = _BasicHeaderAuth(auth_header)
        self._headers = {"User-Agent": f"codat-nb/{__version__}", "Accept": "application/json"}
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = DeadlineAdapter(pool_connections=2, pool_maxsize=POOL_SIZE, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self.pause = RatePause()
        self._slots = threading.BoundedSemaphore(POOL_SIZE)
        self.closed = False
        self.requests_made = Tally()
        self._last_headers: Mapping[str, str] | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def close(self) -> None:
        self.closed = True
        if self._owns_session:
            self.session.close()

    @property
    def rate_limit(self) -> RateLimit | None:
        return read_rate_limit(self._last_headers)

    def last_date(self) -> pd.Timestamp | None:
        """The Date header of the most recent response, as a UTC Timestamp (None: unknown)."""
        return server_date(self._last_headers)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
        tally: Tally | None = None,
        deadline: float | None = None,
    ) -> Any:
        """Send one API call (retrying per the rules above); its parsed JSON body or None.

        ``deadline`` (``time.monotonic()`` based) lets several requests of one operation share
        one deadline (``call_deadline()``); by default the call has the policy's own.
        """
        url = self.base_url + path
        headers = dict(self._headers)
        key = None
        if method in WRITES:
            key = headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        try:
            return self._request(_Call(method, url, params, json_body, headers), tally, deadline)
        except CodatError as exc:
            if key is not None:  # what the key can and cannot do now
                exc.idempotency_key = key
                exc.message += write_advice(exc, key)
            raise

    def delete(self, path: str) -> None:
        """DELETE what is at ``path``, reading it first (one deadline for both): a DELETE whose
        first attempt got no clear answer and whose retry finds nothing is then known to have
        deleted it, and an id that never existed is a NotFoundError, nothing deleted."""
        deadline = self.call_deadline()
        self.request("GET", path, deadline=deadline)
        self.request("DELETE", path, deadline=deadline)

    def call_deadline(self) -> float:
        """A deadline for an operation that makes several requests (``request(deadline=)``)."""
        return time.monotonic() + self.retries.deadline

    def _check_open(self, method: str, url: str) -> None:
        stop = cancel_event()
        if stop is not None and stop.is_set():
            raise CancelledError(f"{method} {url}: the listing it was for has ended")
        if self.closed:
            raise ClientClosedError(
                "this CodatClient is closed; create a new one (codat_nb.connect())",
                method=method,
                url=url,
            )

    def _sleep(self, seconds: float, method: str, url: str) -> None:
        """Wait before a retry; a listing that ends meanwhile stops the wait at once."""
        stop = cancel_event()
        if stop is None:
            time.sleep(seconds)
        else:
            stop.wait(seconds)
        self._check_open(method, url)

    def _request(self, call: _Call, tally: Tally | None, deadline: float | None) -> Any:
        """Attempts until one succeeds or ``retry.next_step`` says to stop."""
        method, url = call.method, call.url
        started = time.monotonic()
        deadline = started + self.retries.deadline if deadline is None else deadline
        attempt, maybe_applied = 0, False
        error: CodatError | None = None
        while True:
            self._check_open(method, url)
            self._wait_for_pause(deadline, method, url, attempt, error)
            attempt += 1
            if tally is not None:
                tally.add()
            self.requests_made.add()
            outcome = self._attempt(call, deadline)
            error = outcome.error
            if error is None:
                return outcome.body
            now = time.monotonic()
            step = next_step(
                outcome,
                method=method,
                attempt=attempt,
                elapsed=now - started,
                left=deadline - now,
                maybe_applied=maybe_applied,
                policy=self.retries,
            )
            maybe_applied = maybe_applied or outcome.maybe_applied
            error.maybe_applied = maybe_applied  # for write_advice, whatever ends the call
            if step.action == "deleted":
                warnings.warn(
                    f"DELETE {url}: an earlier attempt failed without a clear answer and the "
                    "retry found nothing there, so it is treated as deleted",
                    CodatWarning,
                    stacklevel=4,
                )
                return None
            if step.action == "refused":
                raise self._refused_error(error)
            if step.action == "raise":
                error.message += step.note
                if isinstance(error, AuthenticationError):
                    error.message += self.refusal_hint
                raise error
            if step.action == "quota":  # not kept as a pause: the next call asks again
                raise self._quota_error(step.wait, attempt, error, method, url)
            if step.action == "pause":
                self.pause.pause(step.wait)  # every request of this client waits
            else:
                self._sleep(step.wait, method, url)
            log.info(
                "retrying %s %s after %s (retry %d of %d)",
                method,
                url,
                error.status_code or type(error).__name__,
                attempt,
                self.retries.max_retries,
            )

    def _wait_for_pause(
        self, deadline: float, method: str, url: str, attempt: int, error: CodatError | None
    ) -> None:
        """Wait out the client's 429 pause, or end the call if it outlasts the deadline."""
        wait, left = self.pause.remaining(), deadline - time.monotonic()
        if wait < left:
            if wait > 0:
                self._sleep(wait, method, url)
            return
        if wait <= 0:  # no pause, but the deadline has passed
            if error is None:
                raise CodatTimeoutError(
                    f"the call's {self.retries.deadline:g} s deadline passed before it could start",
                    method=method,
                    url=url,
                )
            error.message += f" (gave up: the {self.retries.deadline:g} s deadline passed)"
            raise error
        raise self._quota_error(wait, attempt, error, method, url)

    def _quota_error(
        self, wait: float, attempt: int, error: CodatError | None, method: str, url: str
    ) -> QuotaExceededError:
        quota = QuotaExceededError(
            f"Codat asks to wait {wait:.0f} s before the next request, longer than this "
            f"call's {self.retries.deadline:g} s deadline allows (the rate limit or daily "
            "quota is used up); try again after reset_at",
            reset_at=datetime.now(timezone.utc) + timedelta(seconds=wait),
            requests_made=attempt,
            status_code=429,
            method=method,
            url=url,
            retry_after=wait,
        )
        if isinstance(error, RateLimitError):  # keep what Codat said, to quote
            quota.error, quota.correlation_id = error.error, error.correlation_id
            quota.service, quota.validation = error.service, error.validation
        return quota

    def _refused_error(self, error: CodatError) -> CodatConnectionError:
        return CodatConnectionError(
            f"nothing is listening at {self.base_url} (connection refused). Check "
            "CODAT_BASE_URL / base_url, or start a local sandbox "
            "(python -m codat_nb sandbox, or codat_nb.connect() with no API key)",
            method=error.method,
            url=error.url,
        )

    def _attempt(self, call: _Call, deadline: float) -> Outcome:
        """One HTTP exchange on one of the client's connections, classified (``exchange.py``)."""
        method, url = call.method, call.url
        if deadline - time.monotonic() <= 0.001:
            return self._late(method, url)
        if not self._take_slot(deadline, method, url):
            waited = f" while it waited for one of this client's {POOL_SIZE} connections"
            return self._late(method, url, waited + " (all busy with other threads)")
        try:
            return self._exchange(call, deadline)
        finally:
            self._slots.release()

    def _late(self, method: str, url: str, why: str = "") -> Outcome:
        message = f"the call's {self.retries.deadline:g} s deadline passed{why}"
        return Outcome(error=CodatTimeoutError(message, method=method, url=url))

    def _exchange(self, call: _Call, deadline: float) -> Outcome:
        """Send, read within the deadline, classify."""
        method, url = call.method, call.url
        left = deadline - time.monotonic()
        if left <= 0.001:
            return self._late(method, url)
        timeout = (min(self.timeout[0], left), min(self.timeout[1], left))
        t0 = time.perf_counter()
        try:
            with deadline_scope(deadline):
                response = self.session.request(
                    method,
                    url,
                    params=call.params,
                    json=call.json_body,
                    headers=call.headers,
                    auth=self._auth,
                    timeout=timeout,
                    stream=True,
                    allow_redirects=False,  # Codat does not redirect; a redirect's body is unread
                )
                try:
                    content = self._read(response)
                finally:
                    response.close()
        except ResponseTooLargeError as exc:
            exc.method, exc.url = method, url
            return Outcome(error=exc)
        except TRANSPORT_FAILURES as exc:
            log.debug("%s %s -> %s after %.1f ms", method, url, type(exc).__name__, _ms(t0))
            return failure_outcome(exc, method, url)
        except BaseException as exc:
            # Ctrl-C mid-request: the frames below hold the request's headers, the key among
            # them; the interrupt travels on without them (nothing in them is the user's).
            exc.__context__ = None
            raise exc.with_traceback(None) from None
        self._last_headers = response.headers
        log.debug("%s %s -> %d in %.1f ms", method, url, response.status_code, _ms(t0))
        return response_outcome(
            response.status_code, response.headers, content, method, url, self.retries.statuses
        )

    def _take_slot(self, deadline: float, method: str, url: str) -> bool:
        """One of the client's ``POOL_SIZE`` connections for this attempt (release it after);
        False when the deadline passes first. A listing that ends meanwhile stops the wait."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._slots.acquire(timeout=min(left, _SLOT_POLL_S)):
                return True
            self._check_open(method, url)

    def _read(self, response: requests.Response) -> bytes:
        """The decompressed body, refusing one larger than ``max_response_bytes``."""
        chunks, size = [], 0
        for chunk in response.raw.stream(_CHUNK, decode_content=True):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise ResponseTooLargeError(
                    f"the response is larger than {self.max_response_bytes:,} bytes once "
                    "decompressed (max_response_bytes); refused rather than risk running out "
                    "of memory"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000
