"""HTTP concerns only: one pooled session, auth, deadlines, retries, idempotency, error mapping.

Everything above this module works with parsed JSON and CodatErrors; nothing above it touches
``requests``. The retry rules keep every write applied at most once:

* every POST and PATCH carries an ``Idempotency-Key`` (one GUID per call, the same on each
  retry), so a write whose answer was lost (timeout, dropped connection), a 408, a 409 (the
  first attempt still in progress) or a 429 (not kept by Codat) is retried safely;
* a write answered 5xx is not retried: Codat replays the stored 5xx for the same key, and a
  new key could apply the write twice;
* reads and DELETEs retry on 408, 429, 5xx and network failures;
* a refused connection (nothing listening) is retried for about a second, then reported with
  a hint, rather than retried for the whole deadline;
* after a 429 every request of the client pauses (``RatePause``); a wait that would pass the
  call's deadline ends the call with ``QuotaExceededError``.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import time
import uuid
import warnings
from concurrent.futures import CancelledError
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pandas as pd
import requests
import urllib3.exceptions
from urllib3.exceptions import NewConnectionError

from codat_nb._version import __version__
from codat_nb.cancel import cancel_event
from codat_nb.deadline import DeadlineAdapter, deadline_scope
from codat_nb.error_mapping import error_from_response, parse_retry_after
from codat_nb.exceptions import (
    ClientClosedError,
    CodatConnectionError,
    CodatError,
    CodatTimeoutError,
    CodatTransportError,
    CodatWarning,
    NotFoundError,
    QuotaExceededError,
    RateLimitError,
    ResponseTooLargeError,
)
from codat_nb.listing import PageCache, Source, Tally
from codat_nb.retry import RatePause, RetryPolicy
from codat_nb.secret import Secret

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.codat.io"
WRITES = frozenset({"POST", "PATCH"})
WRITE_RETRY_STATUSES = frozenset({408, 409, 429})
#: How long a refused connection is retried: a server restarting answers within it, a wrong
#: URL or a sandbox that is not running is reported at once.
REFUSED_WINDOW_S = 1.0
#: Decompressed bytes one response may have (a 5,000-company page is tens of MB).
MAX_RESPONSE_BYTES = 256 * 2**20
_CHUNK = 1 << 16
#: Connections kept per host: Codat's cap of 10 concurrent requests, with room for threads
#: sharing one client (more would only be discarded with "Connection pool is full").
POOL_SIZE = 32


class RateLimit(NamedTuple):
    """Codat's X-Rate-Limit-* headers from the most recent response."""

    limit: int | None
    remaining: int | None
    reset: str | None


class _Outcome(NamedTuple):
    body: Any = None
    error: CodatError | None = None
    retry_after: float | None = None
    retryable: bool = False
    #: the server may have acted on the request although it failed (no answer, or a 5xx)
    maybe_applied: bool = False
    refused: bool = False


class _BasicHeaderAuth(requests.auth.AuthBase):
    """Adds the Authorization header per request; its repr never shows the secret."""

    def __init__(self, header: Secret) -> None:
        self._header = header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header.reveal()
        return request

    def __repr__(self) -> str:
        return "<Codat Authorization header hidden>"


def check_timeout(timeout: Any) -> tuple[float, float]:
    """Normalise a timeout to (connect, read) seconds; both must be finite positive numbers."""
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(pair) != 2 or not all(
        isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < float("inf")
        for t in pair
    ):
        raise ValueError(
            "timeout must be a finite positive number or a (connect, read) pair of them, "
            f"got {timeout!r}"
        )
    return float(pair[0]), float(pair[1])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: only "localhost" is known to stay on this machine
        return False


def check_base_url(base_url: Any) -> str:
    """An http(s) URL with a host, without a trailing slash.

    Paths are appended to it, so a query or fragment would garble every request; and the URL
    is shown in reprs and errors, so credentials in it (``https://key@host``) are refused. Plain
    ``http://`` to anything but this machine sends the key in clear text: warned.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}")
    if "@" in parts.netloc:  # not echoed: the part before '@' may be the key
        raise ValueError("base_url must not contain credentials; pass api_key= instead")
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise ValueError("base_url must not have a query or fragment (request paths follow it)")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        warnings.warn(
            f"base_url {base_url!r} is plain http: the API key would cross the network "
            "unencrypted; use https",
            CodatWarning,
            stacklevel=3,
        )
    return base_url.rstrip("/")


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reason(exc: BaseException) -> BaseException:
    """The innermost cause of a requests/urllib3 failure."""
    reason: Any = exc
    for _ in range(5):
        inner = getattr(reason, "reason", None) or (
            reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None
        )
        if inner is None:
            break
        reason = inner
    return reason


def _never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (refused or connect timeout)."""
    return isinstance(exc, requests.ConnectTimeout) or isinstance(_reason(exc), NewConnectionError)


def _refused(exc: BaseException) -> bool:
    reason = _reason(exc)
    return isinstance(reason, NewConnectionError) and (
        isinstance(reason.__cause__, ConnectionRefusedError)
        or "refused" in str(reason).lower()
        or getattr(reason.__cause__, "errno", None) == errno.ECONNREFUSED
    )


def _describe(exc: BaseException) -> str:
    """The innermost useful reason of a requests/urllib3 failure, in one short phrase."""
    reason = _reason(exc)
    text = str(reason)
    if "refused" in text.lower():
        return "connection refused"
    return f"{type(reason).__name__}: {text}"[:200]


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
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.retries = retries
        self.max_response_bytes = max_response_bytes
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
        self.closed = False
        self.requests_made = Tally()
        self._last_headers: Any = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def close(self) -> None:
        self.closed = True
        if self._owns_session:
            self.session.close()

    @property
    def rate_limit(self) -> RateLimit | None:
        headers = self._last_headers
        if headers is None or "X-Rate-Limit-Limit" not in headers:
            return None
        return RateLimit(
            _int_or_none(headers.get("X-Rate-Limit-Limit")),
            _int_or_none(headers.get("X-Rate-Limit-Remaining")),
            headers.get("X-Rate-Limit-Reset"),
        )

    def pages(self, path: str, what: str, cache: PageCache, tally: Tally | None = None) -> Source:
        """The listing at ``path`` as pages for ``paging``, cached in ``cache``."""
        return Source(
            lambda params: self.request("GET", path, params=params, tally=tally),
            what,
            cache,
            lambda: self.rate_limit,
        )

    def last_date(self) -> pd.Timestamp | None:
        """The Date header of the most recent response, as a UTC Timestamp."""
        headers = self._last_headers
        if headers is None or not headers.get("Date"):
            return None
        return pd.Timestamp(pd.to_datetime(headers["Date"], utc=True))

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
            return self._request(method, url, params, json_body, headers, tally, deadline)
        except CodatError as exc:
            if key is not None:  # to retry the write safely: create(..., idempotency_key=...)
                exc.idempotency_key = key
            raise

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

    def _request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json_body: Any,
        headers: dict[str, str],
        tally: Tally | None,
        deadline: float | None,
    ) -> Any:
        policy = self.retries
        started = time.monotonic()
        deadline = started + policy.deadline if deadline is None else deadline
        attempt = 0
        maybe_applied = False
        error: CodatError | None = None
        while True:
            self._check_open(method, url)
            self._wait_for_pause(deadline, method, url, attempt, error)
            attempt += 1
            if tally is not None:
                tally.add()
            self.requests_made.add()
            outcome = self._attempt(method, url, params, json_body, headers, deadline)
            error = outcome.error
            if error is None:
                return outcome.body
            if method == "DELETE" and maybe_applied and isinstance(error, NotFoundError):
                # It existed (callers check first) and is gone: an earlier attempt deleted it.
                warnings.warn(
                    f"DELETE {url}: an earlier attempt failed without a clear answer and the "
                    "retry found nothing there, so it is treated as deleted",
                    CodatWarning,
                    stacklevel=3,
                )
                return None
            maybe_applied = maybe_applied or outcome.maybe_applied
            if outcome.refused and (
                attempt > policy.max_retries or time.monotonic() - started > REFUSED_WINDOW_S
            ):
                raise self._refused_error(error)
            if not outcome.retryable:
                if attempt > 1:  # a final answer, not a retry given up on
                    error.message += f" (on attempt {attempt}, after retries)"
                raise error
            if attempt > policy.max_retries:
                error.message += f" (gave up after {attempt} attempts)"
                raise error
            wait = policy.delay(attempt, outcome.retry_after)
            if outcome.refused:
                wait = min(wait, REFUSED_WINDOW_S / 4)
            if isinstance(error, RateLimitError) and wait >= deadline - time.monotonic():
                # The quota, not a burst: end the call now. Not kept as a pause, so the next
                # call asks again (one request) and finds out whether the quota has reset.
                raise self._quota_error(wait, attempt, error, method, url)
            if isinstance(error, RateLimitError):
                self.pause.pause(wait)  # every request of this client waits, not just this one
            elif wait >= deadline - time.monotonic():
                error.message += (
                    f" (gave up after {attempt} attempts: the {policy.deadline:g} s deadline "
                    "would pass before the next one)"
                )
                raise error
            else:
                self._sleep(wait, method, url)
            log.info(
                "retrying %s %s after %s (retry %d of %d)",
                method,
                url,
                error.status_code or type(error).__name__,
                attempt,
                policy.max_retries,
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

    def _attempt(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json_body: Any,
        headers: dict[str, str],
        deadline: float,
    ) -> _Outcome:
        """One HTTP exchange, classified: a parsed body, or an error and whether to retry."""
        is_write = method in WRITES
        left = deadline - time.monotonic()
        if left <= 0.001:
            error = CodatTimeoutError(
                f"the call's {self.retries.deadline:g} s deadline passed", method=method, url=url
            )
            return _Outcome(error=error)
        timeout = (min(self.timeout[0], left), min(self.timeout[1], left))
        t0 = time.perf_counter()
        try:
            with deadline_scope(deadline):
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
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
            return _Outcome(error=exc)
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            sent = not _never_sent(exc)
            what = "reading the response" if sent else "connecting"
            error: CodatTransportError = CodatTimeoutError(
                f"timed out {what} ({_describe(exc)})", method=method, url=url
            )
            log.debug("%s %s -> timeout after %.1f ms", method, url, _ms(t0))
            return _Outcome(error=error, retryable=True, maybe_applied=sent)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            sent = not _never_sent(exc)
            error = CodatConnectionError(
                f"connection failed: {_describe(exc)}", method=method, url=url
            )
            log.debug("%s %s -> connection error after %.1f ms", method, url, _ms(t0))
            return _Outcome(error=error, retryable=True, maybe_applied=sent, refused=_refused(exc))
        except BaseException as exc:
            # Ctrl-C mid-request: the frames below hold the request's headers, the key among
            # them; the interrupt travels on without them (nothing in them is the user's).
            exc.__context__ = None
            raise exc.with_traceback(None) from None
        status = response.status_code
        self._last_headers = response.headers
        log.debug("%s %s -> %d in %.1f ms", method, url, status, _ms(t0))
        if 300 <= status < 400:
            error = CodatError(
                f"Codat answered {status} (a redirect to {response.headers.get('Location')!r}), "
                "which codat_nb does not follow: check base_url",
                status_code=status,
                method=method,
                url=url,
            )
            return _Outcome(error=error)
        if status < 400:
            if not content:
                return _Outcome()
            try:
                return _Outcome(body=json.loads(content))
            except (ValueError, RecursionError):
                bad = error_from_response(status, content, method=method, url=url)
                bad.message = f"Codat answered {status} but the body is not valid JSON; " + (
                    bad.message
                )
                return _Outcome(error=bad, retryable=not is_write, maybe_applied=True)
        retry_after_header = response.headers.get("Retry-After")
        api_error = error_from_response(
            status, content, method=method, url=url, retry_after=retry_after_header
        )
        # A write's 5xx is replayed for the same key; its 409 means "still in progress".
        statuses = WRITE_RETRY_STATUSES if is_write else self.retries.statuses
        return _Outcome(
            error=api_error,
            retry_after=parse_retry_after(retry_after_header),
            retryable=status in statuses,
            maybe_applied=status >= 500,
        )

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
