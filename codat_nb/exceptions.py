"""Exceptions and warnings a notebook user can act on: one root, one subclass per status family.

Modelled on ``requests.exceptions``: catch ``CodatError`` broadly or a subclass narrowly.
Every API error carries Codat's ``correlationId`` (what support asks for) and the request's
method and URL, never credentials. This module imports nothing from the package, so every
other module can raise these without an import cycle.
"""

from __future__ import annotations

from typing import Any


class CodatWarning(UserWarning):
    """Something to know about a result that is still correct (dropped duplicates, an unknown
    enum value kept as text)."""


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
        validation: Any = None,
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
        #: a write's Idempotency-Key; the message says when sending it again helps (a lost
        #: answer, 409, 429) and when it only gets the same answer back (a 5xx, a refusal)
        self.idempotency_key: str | None = None
        #: whether an attempt may have been applied (an answer lost, a 5xx, an unreadable 2xx)
        self.maybe_applied = False

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    @property
    def validation_messages(self) -> list[str]:
        """The validation errors Codat listed, as ``"item: message"`` lines."""
        return validation_lines(self.validation)


def validation_lines(validation: Any) -> list[str]:
    """Codat's validation errors (an ErrorMessage's ``validation``) as ``"item: message"``."""
    errors = getattr(validation, "errors", None) if validation is not None else None
    return [
        f"{item.item_id}: {item.message}" if item.item_id else str(item.message)
        for item in errors or ()
    ]


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


class QuotaExceededError(RateLimitError):
    """429 with a wait longer than the call may take: Codat's daily quota is used up.

    ``reset_at`` (UTC) says when to try again; ``requests_made`` how many requests the call had
    made before stopping. A listing stopped by it resumes from its pages when run again.
    """

    def __init__(
        self,
        message: str,
        *,
        reset_at: Any = None,
        requests_made: int | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message, **fields)
        self.reset_at = reset_at
        self.requests_made = requests_made


class ServerError(CodatError):
    """5xx: Codat (or something in front of it) failed; usually worth retrying later."""


class CodatTransportError(CodatError):
    """The request got no HTTP answer at all (network, timeout, dropped connection)."""


class CodatTimeoutError(CodatTransportError):
    """Connecting or reading took longer than the client's timeout."""


class CodatConnectionError(CodatTransportError):
    """The connection could not be made or broke before a full answer arrived."""


class ResponseTooLargeError(CodatError):
    """The response body (decompressed) passed the client's ``max_response_bytes``."""


class ClientClosedError(CodatError):
    """The client was closed; make a new one (or use ``with CodatClient(...)`` blocks)."""


class IncompleteListingError(CodatError):
    """A paged listing came back with fewer rows than Codat's ``totalResults`` promised.

    Raised instead of returning a partial result as if it were whole.
    """
