"""Errors the sandbox answers with, worded and shaped as Codat's documentation shows them.

Handlers raise ``ApiError``; the HTTP layer renders it as an ErrorMessage body with a fresh
correlation id. Two documented shapes exist. The OpenAPI document's examples (every status
but 402) carry ``canBeRetried: "Unknown"``, ``detailedErrorCode: 0`` and a 32-hex-digit
``correlationId``, and no ``validation``. The errors guide's 402 examples carry ``validation``
(the "Payment Required" item without ``itemId``), a UUID ``correlationId`` and neither of the
other two. ``validation`` is sent on every error by default (``with_validation``): Codat's
official SDK 0.5.0 defaults a missing ``validation`` to a sentinel string and then fails to
parse the whole error, so omitting it turns every 401/404/429 into an SDK crash; the
``error_validation`` knob turns the documented shape on. Keeping the wording here means every
route says the same thing the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

SERVICE_CLIENTS = "ClientsApi"
SERVICE_PUBLIC = "PublicApi"

TOO_MANY_REQUESTS = "You have made too many requests in a given amount of time; please retry later."
SERVER_ERROR = "There is a problem with our server. Please try again later."
UNAVAILABLE = "The Codat API is temporarily offline for maintenance. Please try again later."
FORBIDDEN = "You are using an outdated API key or a key not associated with that resource."
ERRORS_GUIDE = "https://docs.codat.io/using-the-api/errors"

#: The OpenAPI examples' shape, and the errors guide's (its 402 examples).
CONTRACT, GUIDE = "contract", "guide"


@dataclass
class ApiError(Exception):
    """One non-2xx answer: status, Codat's service name, the message, optional validation
    items, extra headers and which documented ``shape`` the body takes."""

    status: int
    service: str
    error: str
    validation: list[dict[str, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    shape: str = CONTRACT

    def body(self, correlation: int, with_validation: bool = True) -> dict[str, Any]:
        """The ErrorMessage; ``correlation`` is 128 random bits for its correlationId."""
        guide = self.shape == GUIDE
        body: dict[str, Any] = {
            "statusCode": self.status,
            "service": self.service,
            "error": self.error,
            "correlationId": str(uuid.UUID(int=correlation)) if guide else f"{correlation:032x}",
        }
        if with_validation or self.validation:
            body["validation"] = {"errors": self.validation or [], "warnings": []}
        if not guide:
            body["canBeRetried"] = "Unknown"  # what every example in the contract says
            body["detailedErrorCode"] = 0
        return body


def invalid(item_id: str, message: str, validator: str, service: str = SERVICE_PUBLIC) -> ApiError:
    """400 naming the offending field, as Codat's validation errors do."""
    return ApiError(
        400,
        service,
        f"Error processing request - not valid. {item_id}: {message}",
        validation=[{"itemId": item_id, "message": message, "validatorName": validator}],
    )


def malformed_query(item_id: str, message: str, service: str) -> ApiError:
    return ApiError(
        400,
        service,
        f"Error parsing query - {message}",
        validation=[{"itemId": item_id, "message": message, "validatorName": "QueryValidator"}],
    )


def not_found(message: str, service: str) -> ApiError:
    """404 for a record that is not there, worded by the store's error (``rules``)."""
    return ApiError(404, service, message)


def unauthorized() -> ApiError:
    return ApiError(401, SERVICE_PUBLIC, "Unauthorized")


def no_route(method: str, path: str) -> ApiError:
    return ApiError(404, SERVICE_PUBLIC, f"No resource found at {method} {path}")


def not_served(method: str, path: str, document: str) -> ApiError:
    """404 for an operation of Codat's API that the sandbox does not serve (``unserved``)."""
    return ApiError(
        404,
        SERVICE_PUBLIC,
        f"The sandbox does not serve {method} {path} (Codat's {document} has it): it serves "
        "companies and their connections only (docs/fidelity.md)",
    )


def method_not_allowed(method: str, path: str, allowed: list[str]) -> ApiError:
    allow = ", ".join(allowed)
    return ApiError(
        405,
        SERVICE_PUBLIC,
        f"Method {method} is not allowed on {path}; allowed: {allow}",
        headers={"Allow": allow},
    )


def too_many_requests(retry_after: int, reason: str = TOO_MANY_REQUESTS) -> ApiError:
    return ApiError(
        429,
        SERVICE_PUBLIC,
        reason,
        headers={"Retry-After": str(retry_after)},
    )


def idempotency_in_progress(key: str) -> ApiError:
    return ApiError(
        409,
        SERVICE_PUBLIC,
        f"A request with Idempotency-Key {key} is still being processed; retry it later.",
    )


def idempotency_mismatch(key: str) -> ApiError:
    return ApiError(
        422,
        SERVICE_PUBLIC,
        f"Idempotency-Key {key} was already used for a different request; use a new key.",
    )


def protocol_error(status: int, message: str) -> ApiError:
    """An HTTP-level refusal (bad framing, too large, too slow); the connection then closes."""
    return ApiError(status, SERVICE_PUBLIC, message, headers={"Connection": "close"})


def forbidden() -> ApiError:
    """403: the key may not touch this company (the document's example, word for word)."""
    return ApiError(403, SERVICE_PUBLIC, FORBIDDEN)


def payment_required() -> ApiError:
    """402 on every request once the account has expired (the errors guide's example)."""
    message = f"Account expired. Learn more at {ERRORS_GUIDE}"
    return ApiError(402, SERVICE_PUBLIC, "Payment Required", [{"message": message}], shape=GUIDE)


def company_limit_exceeded() -> ApiError:
    """402 on create company once the account holds its limit (the errors guide's example)."""
    return ApiError(
        402,
        SERVICE_PUBLIC,
        "CompanyValidationException: Company limit exceeded",
        [
            {
                "itemId": "Company",
                "message": f"Company limit exceeded. Learn more at {ERRORS_GUIDE}",
                "validatorName": "CreateCompany",
            }
        ],
        shape=GUIDE,
    )


def server_error(status: int) -> ApiError:
    text = UNAVAILABLE if status == 503 else SERVER_ERROR
    return ApiError(status, SERVICE_PUBLIC, text)
