"""Failed HTTP answers -> the right CodatError, with Codat's ErrorMessage fields and Retry-After.

A body that is not an ErrorMessage (a proxy's HTML page, an empty or truncated body) still
becomes a clean error with the status and a short snippet of what arrived.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import ValidationError

from codat_nb.exceptions import (
    AuthenticationError,
    BadRequestError,
    CodatError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    validation_lines,
)
from codat_nb.wire.models import ErrorMessage

_SNIPPET_CHARS = 120

_BY_STATUS: dict[int, type[CodatError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class_for_status(status_code: int) -> type[CodatError]:
    """The CodatError subclass for an HTTP status (CodatError itself for unmapped ones)."""
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    if 500 <= status_code <= 599:
        return ServerError
    return CodatError


#: A Retry-After longer than this is read as this (the quota resets daily): a value in the
#: billions of seconds must not overflow a date computed from it.
MAX_RETRY_AFTER_S = 2 * 86_400


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date, a date without a zone
    read as UTC), between 0 and ``MAX_RETRY_AFTER_S``; None if absent or not understood."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            seconds = (when - datetime.now(timezone.utc)).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


def _snippet(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    if not text:
        return "empty response body"
    if len(text) > _SNIPPET_CHARS:
        text = text[:_SNIPPET_CHARS] + "..."
    return f"unexpected response body: {text!r}"


def error_from_response(
    status_code: int,
    body: bytes,
    *,
    method: str,
    url: str,
    retry_after: str | None = None,
) -> CodatError:
    """Build the right CodatError from a failed response's status, body and Retry-After."""
    cls = error_class_for_status(status_code)
    fields: dict[str, Any] = {"status_code": status_code, "method": method, "url": url}
    message = None
    try:
        payload = json.loads(body) if body else None
        if isinstance(payload, dict):
            parsed = ErrorMessage.model_validate(payload)
            if parsed.error or parsed.correlation_id:
                message = parsed.error or "Codat gave no error message"
                fields.update(
                    error=parsed.error,
                    service=parsed.service,
                    correlation_id=parsed.correlation_id,
                    can_be_retried=parsed.can_be_retried,
                    detailed_error_code=parsed.detailed_error_code,
                    validation=parsed.validation,
                )
                details = [
                    line
                    for line in validation_lines(parsed.validation)
                    if (line.partition(": ")[2] or line) not in message  # not said by ``error``
                ]
                if details:
                    message += " [" + "; ".join(details) + "]"
    except (ValueError, ValidationError, RecursionError):
        message = None
    if message is None:
        message = _snippet(body)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(retry_after), **fields)
    return cls(message, **fields)
