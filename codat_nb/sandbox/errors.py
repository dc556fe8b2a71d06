"""Errors the sandbox answers with, worded as Codat words them (see the OpenAPI's responses).

Handlers raise ``ApiError``; the HTTP layer renders it as an ErrorMessage body with a fresh
correlationId. ``validation`` is always sent (empty lists when nothing failed validation): Codat's
official SDK 0.5.0 defaults a missing ``validation`` to a sentinel string and then fails to parse
the whole error, so omitting it would turn every 401/404/429 into an SDK crash.
Keeping the wording here means every route says the same thing the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SERVICE_CLIENTS = "ClientsApi"
SERVICE_PUBLIC = "PublicApi"

TOO_MANY_REQUESTS = "You have made too many requests in a given amount of time; please retry later."
SERVER_ERROR = "There is a problem with our server. Please try again later."
UNAVAILABLE = "The Codat API is temporarily offline for maintenance. Please try again later."


@dataclass
class ApiError(Exception):
    """One non-2xx answer: status, Codat's service name, the message and optional validation."""

    status: int
    service: str
    error: str
    validation: list[dict[str, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, correlation_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "statusCode": self.status,
            "service": self.service,
            "error": self.error,
            "correlationId": correlation_id,
        }
        # Always present: the official SDK (0.5.0) cannot parse an ErrorMessage without it.
        body["validation"] = {"errors": self.validation or [], "warnings": []}
        body["canBeRetried"] = "Unknown"  # what every ErrorMessage example in the contract says
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


def company_not_found(company_id: str) -> ApiError:
    return ApiError(404, SERVICE_CLIENTS, f"No company was found with ID {company_id}")


def connection_not_found(connection_id: str) -> ApiError:
    return ApiError(404, SERVICE_PUBLIC, f"Data connection {connection_id} not found")


def unauthorized() -> ApiError:
    return ApiError(401, SERVICE_PUBLIC, "Unauthorized")


def no_route(method: str, path: str) -> ApiError:
    return ApiError(404, SERVICE_PUBLIC, f"No resource found at {method} {path}")


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


def server_error(status: int) -> ApiError:
    text = UNAVAILABLE if status == 503 else SERVER_ERROR
    return ApiError(status, SERVICE_PUBLIC, text)
