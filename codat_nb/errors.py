"""Exceptions a notebook user can act on: one root, one subclass per status family.

Modelled on ``requests.exceptions``: catch ``CodatError`` broadly or a subclass narrowly.
Every API error carries Codat's ``correlationId`` (what support asks for) and the request's
method and URL, never credentials. A body that is not an ErrorMessage (a proxy's HTML page,
an empty or truncated body) still becomes a clean error with the status and a short snippet.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from codat_nb.models import ErrorMessage, ErrorValidation

_SNIPPET_CHARS = 120
Model = TypeVar("Model", bound=BaseModel)


class CodatError(Exception):
    """Root of every error codat_nb raises for a failed API call."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error: str | None = None,
        service: str | None = None,
        correlation_id: str | None = None,
        can_be_retried: str | None = None,
        detailed_error_code: int | None = None,
        validation: ErrorValidation | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error = error
        self.service = service
        self.correlation_id = correlation_id
        self.can_be_retried = can_be_retried
        self.detailed_error_code = detailed_error_code
        self.validation = validation
        self.method = method
        self.url = url

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(str(self.status_code))
        if self.method and self.url:
            parts.append(f"{self.method} {self.url}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.correlation_id:
            text += f" (correlationId: {self.correlation_id})"
        return text

    def _repr_html_(self) -> str:
        """A small card in notebooks (``display(error)``), correlationId first to quote."""
        from codat_nb.display import error_html  # display imports this module

        return error_html(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    @property
    def validation_messages(self) -> list[str]:
        """The validation errors Codat listed, as ``"item: message"`` lines."""
        return validation_lines(self.validation)


class BadRequestError(CodatError):
    """400 or 422: Codat rejected the request's content (bad query, invalid body...)."""


class AuthenticationError(CodatError):
    """401: the API key or Authorization header is missing or wrong."""


class PaymentRequiredError(CodatError):
    """402: the account's plan does not cover this (or the free trial ended)."""


class PermissionDeniedError(CodatError):
    """403: the key is valid but may not do this."""


class NotFoundError(CodatError):
    """404: no such company or connection (or it was deleted)."""


class RateLimitError(CodatError):
    """429: too many requests; ``retry_after`` says how many seconds to wait (None if unsaid)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after


class ServerError(CodatError):
    """5xx: Codat (or something in front of it) failed; usually worth retrying later."""


class CodatTransportError(CodatError):
    """The request got no HTTP answer at all (network, timeout, dropped connection)."""


class CodatTimeoutError(CodatTransportError):
    """Connecting or reading took longer than the client's timeout."""


class CodatConnectionError(CodatTransportError):
    """The connection could not be made or broke before a full answer arrived."""


class IncompleteListingError(CodatError):
    """A paged listing came back with fewer rows than Codat's ``totalResults`` promised.

    Raised instead of returning a partial result as if it were whole.
    """


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


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _snippet(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    if not text:
        return "empty response body"
    if len(text) > _SNIPPET_CHARS:
        text = text[:_SNIPPET_CHARS] + "..."
    return f"unexpected response body: {text!r}"


def validation_lines(validation: ErrorValidation | None) -> list[str]:
    """Codat's validation errors as ``"item: message"`` lines."""
    if validation is None or not validation.errors:
        return []
    return [
        f"{item.item_id}: {item.message}" if item.item_id else str(item.message)
        for item in validation.errors
    ]


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
    except (ValueError, ValidationError):
        message = None
    if message is None:
        message = _snippet(body)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(retry_after), **fields)
    return cls(message, **fields)


def parse_model(model: type[Model], body: Any, what: str) -> Model:
    """Validate a response body, turning a malformed answer into a CodatError (not a traceback)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise CodatError(
            f"Codat's answer is not a valid {what}: {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from None
