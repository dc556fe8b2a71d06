"""The sandbox's HTTP layer (werkzeug): what every API request goes through, in order.

Routing is ``routes``, the handlers are ``handlers`` (and ``webhooks.api`` for the webhook
consumer routes); this is the pipeline around them:
authentication, the expired account, the quota and the other rate limits, a restricted company,
the Idempotency-Key, injected latency and faults, the catch-all, the rate-limit headers and a
dropped answer. Anything unexpected becomes a 500 ErrorMessage and is logged, and the test suite
asserts no bad input ever gets there.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import random
import socket
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from codat_nb.sandbox import errors, routes
from codat_nb.sandbox.errors import ApiError
from codat_nb.sandbox.faults import DROP, RATE_LIMITED, Faults
from codat_nb.sandbox.handlers import Handlers
from codat_nb.sandbox.idempotency import IN_PROGRESS, MISMATCH, IdempotencyKeys
from codat_nb.sandbox.limits import PER_COMPANY_IN_FLIGHT, PER_MINUTE, Quota, RateLimits
from codat_nb.sandbox.link_pages import LinkPages
from codat_nb.sandbox.parsing import idempotency_key, raw_body
from codat_nb.sandbox.responses import Kept, encode, json_response
from codat_nb.sandbox.store import Store
from codat_nb.wire.protocol import basic_auth_header

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("codat_nb.sandbox")
#: Tracebacks kept in ``unexpected_errors`` and logged; later ones are only counted.
MAX_KEPT_ERRORS = 20

Endpoint = Callable[..., Response]


class SandboxApp:
    """The WSGI application for one sandbox."""

    def __init__(self, store: Store, faults: Faults, api_key: str, seed: str, webhook_api: object):
        self.store = store
        self.faults = faults
        self._auth = basic_auth_header(api_key).encode()
        self._correlation_rng = random.Random(f"correlation:{seed}")
        self._correlation_lock = threading.Lock()
        self.idempotency: IdempotencyKeys[Kept] = IdempotencyKeys()
        self.link_pages = LinkPages(store, store.links)
        self.limits = RateLimits(store.clock, store.active_connected_companies)
        self.unexpected_errors: list[str] = []
        self.unexpected_error_count = 0
        self._api_endpoints = {
            **_endpoints(Handlers(store, faults), routes.API_ROUTES),
            **_endpoints(webhook_api, routes.WEBHOOK_ROUTES),  # served as the API is
        }
        self._page_endpoints = _endpoints(self.link_pages, routes.LINK_PAGE_ROUTES)

    # ----- WSGI entry --------------------------------------------------------------------
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        match = routes.match(request)
        page = self._page_endpoints.get(match.endpoint or "")
        if page is not None:
            return page(request, **match.params)(environ, start_response)
        return self._api(request, match)(environ, start_response)

    def _api(self, request: Request, match: routes.Match) -> Response:
        self.store.count_request()
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), self._auth):
            # First: an unauthenticated request is not charged to a quota nor handed a fault.
            return self._error_response(errors.unauthorized())
        if self.store.account_expired:  # every request, before any limit or fault
            return self._error_response(errors.payment_required())
        quota = self.limits.charge(self.faults.daily_quota)
        company = match.params.get("company_id", "").lower() if self.faults.rate_limits else ""
        with (
            self.faults.admitted() as over_cap,
            self.limits.company_slot(company or None) as company_full,
        ):
            response, drop = self._answer(request, match, (over_cap, company_full), quota)
        if drop:
            self._drop(request)
            return Response(b"", 200)
        _rate_limit_headers(response, quota)
        return response

    def _answer(
        self, request: Request, match: routes.Match, full: tuple[bool, bool], quota: Quota
    ) -> tuple[Response, bool]:
        """The response to an authenticated request, and whether a fault drops it on the way
        back (after it was handled: the lost answer an Idempotency-Key protects against)."""
        key = None
        try:
            self._check_limits(request, *full, quota)
            if match.error is not None:
                raise match.error
            if self.store.is_restricted(match.params.get("company_id", "").lower()):
                raise errors.forbidden()
            key = idempotency_key(request)
            if key is not None:
                kept = self._idempotent_start(request, key)
                if kept is not None:
                    return kept, False
            self.faults.wait_latency()  # a key's first request is "in progress" meanwhile
            outcome = self.faults.draw()
            if outcome == RATE_LIMITED:
                raise errors.too_many_requests(self.faults.retry_after)
            if isinstance(outcome, int):
                raise errors.server_error(outcome)
            response = self._api_endpoints[match.endpoint or ""](request, **match.params)
        except ApiError as exc:
            response, outcome = self._error_response(exc), None
        except Exception:  # the catch-all: never a bare traceback on the wire
            self._unexpected(request)
            response, outcome = self._error_response(errors.server_error(500)), None
        if key is not None:
            if response.status_code == 429:
                self.idempotency.release(key)  # not kept: the client retries with the same key
            else:
                self.idempotency.finish(key, Kept.of(response))
        return response, outcome == DROP

    def _check_limits(
        self, request: Request, over_cap: bool, company_full: bool, quota: Quota
    ) -> None:
        """429 when a request is over a limit: the concurrency cap knob, Codat's per-minute
        and per-company limits, the daily quota."""
        if over_cap:
            raise errors.too_many_requests(
                self.faults.retry_after,
                "Too many concurrent requests; at most "
                f"{self.faults.max_concurrency} may be in flight. Please retry later.",
            )
        if self.faults.rate_limits:
            wait = self.limits.per_minute_wait(request.remote_addr or "")
            if wait is not None:
                raise errors.too_many_requests(
                    wait, f"Too many requests: at most {PER_MINUTE:,} a minute are allowed."
                )
        if company_full:
            raise errors.too_many_requests(
                1,
                f"Too many concurrent requests for this company; at most {PER_COMPANY_IN_FLIGHT}"
                " may be in flight. Please retry later.",
            )
        if quota.remaining < 0:
            raise errors.too_many_requests(
                quota.retry_after(self.store.clock.now()), "The daily request quota is used up."
            )

    def _idempotent_start(self, request: Request, key: str) -> Response | None:
        """The kept response for a repeated key, an error for a misused one, or None to go on."""
        fingerprint = hashlib.sha256(
            b"\0".join([request.method.encode(), request.path.encode(), raw_body(request)])
        ).hexdigest()
        decision, kept = self.idempotency.begin(key, fingerprint, self.store.clock.now())
        if kept is not None:  # a replay
            return kept.response()
        if decision == IN_PROGRESS:
            raise errors.idempotency_in_progress(key)
        if decision == MISMATCH:
            raise errors.idempotency_mismatch(key)
        return None

    def _unexpected(self, request: Request) -> None:
        """Keep and log the first few tracebacks; count the rest (memory and stderr stay
        bounded however often a bug fires)."""
        self.unexpected_error_count += 1
        if len(self.unexpected_errors) < MAX_KEPT_ERRORS:
            self.unexpected_errors.append(traceback.format_exc())
            log.exception("sandbox: unexpected error on %s %s", request.method, request.path[:200])

    # ----- errors ------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> bytes:
        """An ErrorMessage body for an error the HTTP server answers itself (bad framing, a
        header too large, a timeout)."""
        return encode(self._error_body(errors.protocol_error(status, message)))

    def _error_response(self, exc: ApiError) -> Response:
        response = json_response(self._error_body(exc), exc.status)
        response.headers.update(exc.headers)
        return response

    def _error_body(self, exc: ApiError) -> dict[str, Any]:
        with self._correlation_lock:
            correlation = self._correlation_rng.getrandbits(128)
        return exc.body(correlation, self.faults.error_validation)

    @staticmethod
    def _drop(request: Request) -> None:
        """Close the socket without answering, as a dying load balancer would."""
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _rate_limit_headers(response: Response, quota: Quota) -> None:
    """Codat's ``X-Rate-Limit-*``: today's quota, what is left of it and when it resets."""
    response.headers["X-Rate-Limit-Limit"] = str(quota.limit)
    response.headers["X-Rate-Limit-Remaining"] = str(max(quota.remaining, 0))
    response.headers["X-Rate-Limit-Reset"] = quota.reset.strftime("%Y-%m-%dT%H:%M:%SZ")


def _endpoints(served_by: object, table: Mapping[str, Mapping[str, str]]) -> dict[str, Endpoint]:
    """Each endpoint ``table`` names, as the method of ``served_by`` that serves it (a missing
    one fails when the app is built, not when the route is first asked for)."""
    names = {name for methods in table.values() for name in methods.values()}
    return {name: getattr(served_by, name) for name in names}
