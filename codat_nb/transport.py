"""HTTP concerns only: one pooled session, auth, timeouts, retries with backoff, error mapping.

Everything above this module works with parsed JSON and CodatErrors; nothing above it
touches ``requests``. Retries follow the rule that a retry must never apply a write twice:
reads and idempotent writes retry on 408/429/5xx and network failures, while a POST retries
only when Codat cannot have acted on it (a 429, or a connection that was never made). A DELETE
retried after an attempt that may have been applied and then answered 404 has done its job.
"""

from __future__ import annotations

import json
import logging
import random
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from codat_nb._version import __version__
from codat_nb.error_mapping import error_from_response, parse_retry_after
from codat_nb.exceptions import (
    CodatConnectionError,
    CodatError,
    CodatTimeoutError,
    CodatTransportError,
    CodatWarning,
    NotFoundError,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.codat.io"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry: exponential backoff with jitter, capped per wait and in total.

    A Retry-After header overrides the computed wait (it is the server's instruction);
    when that wait would overrun ``total_budget`` seconds the error is raised instead.
    """

    max_retries: int = 5
    backoff: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    jitter: float = 0.5
    total_budget: float = 120.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError(f"max_retries must be an int, got {type(self.max_retries).__name__}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        for name in ("backoff", "backoff_factor", "backoff_max", "jitter", "total_budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"RetryPolicy.{name} must be a number >= 0, got {value!r}")

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        if retry_after is not None:
            return retry_after + random.uniform(0, self.jitter * min(retry_after, 1.0))
        base = min(self.backoff_max, self.backoff * self.backoff_factor ** (retry_number - 1))
        return base + random.uniform(0, self.jitter * base)


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


class _BasicHeaderAuth(requests.auth.AuthBase):
    """Adds the Authorization header per request; its repr never shows the secret."""

    def __init__(self, header: str) -> None:
        self._header = header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "<Codat Authorization header hidden>"


def check_timeout(timeout: Any) -> tuple[float, float]:
    """Normalise a timeout to (connect, read) seconds; both must be positive numbers."""
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(pair) != 2 or not all(
        isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 for t in pair
    ):
        raise ValueError(
            f"timeout must be a positive number or a (connect, read) pair of them, got {timeout!r}"
        )
    return float(pair[0]), float(pair[1])


def check_base_url(base_url: Any) -> str:
    """An http(s) URL with a host, without a trailing slash.

    Paths are appended to it, so a query or fragment would garble every request; and the URL
    is shown in reprs and errors, so credentials in it (``https://key@host``) are refused.
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
    return base_url.rstrip("/")


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the server (refused or connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _describe(exc: BaseException) -> str:
    """The innermost useful reason of a requests/urllib3 failure, in one short phrase."""
    reason: Any = exc
    for _ in range(4):
        inner = getattr(reason, "reason", None) or (
            reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None
        )
        if inner is None:
            break
        reason = inner
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused"
    return f"{type(reason).__name__}: {text}"[:200]


class Transport:
    """One pooled ``requests.Session`` for a base URL and a credential.

    ``session`` is the seam for a user's own session (proxies, certificates, mounted
    adapters): it is used as it is, credentials and headers are added per request, and
    ``close()`` leaves it open for its owner. Without one, a pooled session is made and owned.
    """

    def __init__(
        self,
        auth_header: str,
        base_url: str,
        *,
        timeout: tuple[float, float],
        retries: RetryPolicy,
        pool_size: int,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.retries = retries
        self._auth = _BasicHeaderAuth(auth_header)
        self._headers = {"User-Agent": f"codat-nb/{__version__}", "Accept": "application/json"}
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self._last_headers: Any = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def close(self) -> None:
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
    ) -> Any:
        """Send one API call (retrying per policy); return its parsed JSON body or None."""
        url = self.base_url + path
        policy = self.retries
        started = time.monotonic()
        attempt = 0
        maybe_applied = False
        while True:
            attempt += 1
            outcome = self._attempt(method, url, params, json_body)
            error = outcome.error
            if error is None:
                return outcome.body
            if method == "DELETE" and maybe_applied and isinstance(error, NotFoundError):
                # The thing is gone, as asked: an earlier attempt most likely deleted it.
                warnings.warn(
                    f"DELETE {url}: an earlier attempt failed without a clear answer and the "
                    "retry found nothing there, so it is treated as deleted",
                    CodatWarning,
                    stacklevel=3,
                )
                return None
            maybe_applied = maybe_applied or outcome.maybe_applied
            if not outcome.retryable:
                if attempt > 1:  # a final answer, not a retry given up on
                    error.message += f" (on attempt {attempt}, after retries)"
                raise error
            if attempt > policy.max_retries:
                if attempt > 1:
                    error.message += f" (gave up after {attempt} attempts)"
                raise error
            wait = policy.delay(attempt, outcome.retry_after)
            if time.monotonic() - started + wait > policy.total_budget:
                error.message += (
                    f" (gave up: waiting {wait:.1f} s more would exceed the "
                    f"{policy.total_budget:g} s retry budget)"
                )
                raise error
            log.info(
                "retrying %s %s in %.2f s after %s (retry %d of %d)",
                method,
                url,
                wait,
                error.status_code or type(error).__name__,
                attempt,
                policy.max_retries,
            )
            time.sleep(wait)

    def _attempt(
        self, method: str, url: str, params: dict[str, Any] | None, json_body: Any
    ) -> _Outcome:
        """One HTTP exchange, classified: a parsed body, or an error and whether to retry."""
        is_post = method == "POST"
        t0 = time.perf_counter()
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=self._headers,
                auth=self._auth,
                timeout=self.timeout,
            )
            content = response.content
        except requests.Timeout as exc:
            sent = not _never_sent(exc)
            what = "reading the response" if sent else "connecting"
            error: CodatTransportError = CodatTimeoutError(
                f"timed out {what} ({_describe(exc)})", method=method, url=url
            )
            log.debug("%s %s -> timeout after %.1f ms", method, url, _ms(t0))
            return _Outcome(error=error, retryable=not (is_post and sent), maybe_applied=sent)
        except requests.RequestException as exc:
            sent = not _never_sent(exc)
            error = CodatConnectionError(
                f"connection failed: {_describe(exc)}", method=method, url=url
            )
            log.debug("%s %s -> connection error after %.1f ms", method, url, _ms(t0))
            return _Outcome(error=error, retryable=not (is_post and sent), maybe_applied=sent)
        status = response.status_code
        self._last_headers = response.headers
        log.debug("%s %s -> %d in %.1f ms", method, url, status, _ms(t0))
        if status < 400:
            if not content:
                return _Outcome()
            try:
                return _Outcome(body=json.loads(content))
            except ValueError:
                bad = error_from_response(status, content, method=method, url=url)
                bad.message = f"Codat answered {status} but the body is not valid JSON; " + (
                    bad.message
                )
                return _Outcome(error=bad, retryable=not is_post, maybe_applied=True)
        api_error = error_from_response(
            status, content, method=method, url=url, retry_after=response.headers.get("Retry-After")
        )
        # Honoured on any retried status: a 503 may say when to come back, as a 429 does.
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        retryable = status in self.retries.statuses and (not is_post or status == 429)
        return _Outcome(
            error=api_error,
            retry_after=retry_after,
            retryable=retryable,
            maybe_applied=status >= 500,
        )


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000
