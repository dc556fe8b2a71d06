"""One HTTP exchange, classified: what came back (a body or an error), whether it may be
retried, and whether the server may have acted on it. Pure functions of what was received, so
every rule is tested without a socket; ``transport.py`` sends, ``retry.py`` decides what next.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import requests
import urllib3.exceptions
from urllib3.exceptions import NewConnectionError

from codat_nb.error_mapping import error_from_response, parse_retry_after
from codat_nb.exceptions import (
    ClientClosedError,
    CodatConnectionError,
    CodatError,
    CodatTimeoutError,
    CodatTransportError,
    RateLimitError,
)

WRITES = frozenset({"POST", "PATCH"})
#: A write's 5xx is replayed by Codat for the same key; its 409 means "still in progress".
WRITE_RETRY_STATUSES = frozenset({408, 409, 429})
#: What a transport failure may be (anything else is not the exchange's to classify).
TRANSPORT_FAILURES = (requests.RequestException, urllib3.exceptions.HTTPError)


class Outcome(NamedTuple):
    body: Any = None
    error: CodatError | None = None
    retry_after: float | None = None
    retryable: bool = False
    #: the server may have acted on the request although it failed (no answer, or a 5xx)
    maybe_applied: bool = False
    #: nothing listened at the address (connection refused)
    refused: bool = False


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
    result: BaseException = reason
    return result


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


def failure_outcome(exc: BaseException, method: str, url: str) -> Outcome:
    """A request that got no HTTP answer (``TRANSPORT_FAILURES``): always retryable; the server
    may have acted on it unless it cannot have been sent."""
    sent = not _never_sent(exc)
    error: CodatError
    if isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError)):
        what = "reading the response" if sent else "connecting"
        error = CodatTimeoutError(f"timed out {what} ({_describe(exc)})", method=method, url=url)
        return Outcome(error=error, retryable=True, maybe_applied=sent)
    error = CodatConnectionError(f"connection failed: {_describe(exc)}", method=method, url=url)
    return Outcome(error=error, retryable=True, maybe_applied=sent, refused=_refused(exc))


def response_outcome(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    method: str,
    url: str,
    retry_statuses: frozenset[int],
) -> Outcome:
    """An HTTP answer: the parsed body of a success, or the error Codat's answer maps to.
    ``retry_statuses`` are the policy's for reads and DELETEs; writes retry only on
    ``WRITE_RETRY_STATUSES``."""
    is_write = method in WRITES
    if 300 <= status < 400:
        error = CodatError(
            f"Codat answered {status} (a redirect to {headers.get('Location')!r}), "
            "which codat_nb does not follow: check base_url",
            status_code=status,
            method=method,
            url=url,
        )
        return Outcome(error=error)
    if status < 400:
        if not content:
            return Outcome()
        try:
            return Outcome(body=json.loads(content))
        except (ValueError, RecursionError):
            bad = error_from_response(status, content, method=method, url=url)
            bad.message = f"Codat answered {status} but the body is not valid JSON; {bad.message}"
            return Outcome(error=bad, retryable=not is_write, maybe_applied=True)
    retry_after = headers.get("Retry-After")
    error = error_from_response(status, content, method=method, url=url, retry_after=retry_after)
    return Outcome(
        error=error,
        retry_after=parse_retry_after(retry_after),
        retryable=status in (WRITE_RETRY_STATUSES if is_write else retry_statuses),
        maybe_applied=status >= 500,
    )


def write_advice(error: CodatError, key: str) -> str:
    """What to do after a write failed with ``error`` (its final one), sent with the
    Idempotency-Key ``key``, to add to its message. Codat keeps a key's first answer for 90
    minutes and replays it (a 429 excepted), so sending the key again helps only where no
    answer was kept: none came, the first attempt was still in progress (409), or a 429.
    Whatever ends the call, an attempt that may have been applied is never "Nothing"."""
    again = f"idempotency_key={key!r}"
    if isinstance(error, ClientClosedError):
        return ""  # nothing was sent
    if isinstance(error, (CodatTransportError, RateLimitError)) or error.status_code in (408, 409):
        return (
            f". To send it again, pass {again}: Codat applies a key's write at most once and "
            "answers with the first answer (for 90 minutes)"
        )
    if error.maybe_applied and (error.status_code is None or error.status_code < 500):
        return (
            ". An attempt may have been applied (an answer was lost, or could not be read): "
            "check whether it took effect (list or get what it wrote) before sending it again"
        )
    if error.status_code is not None and error.status_code >= 500:
        return (
            f". It may or may not have been applied, and Codat keeps this {error.status_code} "
            f"for the key for 90 minutes ({again} again only gets it back): check whether it "
            "took effect (list or get what it wrote), then, if not, send it again without "
            "idempotency_key (a new key)"
        )
    return (
        ". Nothing was applied; Codat keeps this answer for the key for 90 minutes, so send "
        "the corrected request without idempotency_key (a new key)"
    )
