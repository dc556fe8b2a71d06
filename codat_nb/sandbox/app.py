"""The sandbox's HTTP layer (werkzeug): routing, auth, parameter parsing, faults and rendering.

Handlers only parse and validate what arrived, call the Store and render what it returns; the
rules live in store.py. Anything unexpected becomes a 500 ErrorMessage and is logged, and the
test suite asserts no bad input ever gets there.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import random
import re
import socket
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from codat_nb.query import QueryError
from codat_nb.sandbox import errors
from codat_nb.sandbox.errors import SERVICE_CLIENTS, SERVICE_PUBLIC, ApiError
from codat_nb.sandbox.faults import DROP, RATE_LIMITED, Faults
from codat_nb.sandbox.framing import BODY_KEY, FramingError
from codat_nb.sandbox.idempotency import IN_PROGRESS, MISMATCH, REPLAY, IdempotencyKeys
from codat_nb.sandbox.limits import PER_COMPANY_IN_FLIGHT, PER_MINUTE, Quota, RateLimits
from codat_nb.sandbox.link_pages import LinkPages
from codat_nb.sandbox.store import (
    CompanyLimitReached,
    CompanyNotFound,
    ConnectionNotFound,
    PageResult,
    RuleViolation,
    Store,
)
from codat_nb.wire.protocol import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    UUID_TEXT,
    basic_auth_header,
)

log = logging.getLogger("codat_nb.sandbox")
#: Tracebacks kept in ``unexpected_errors`` and logged; later ones are only counted.
MAX_KEPT_ERRORS = 20


_URLS = Map(
    [
        Rule("/companies", methods=["GET"], endpoint="list_companies"),
        Rule("/companies", methods=["POST"], endpoint="create_company"),
        Rule("/companies/<company_id>", methods=["GET"], endpoint="get_company"),
        Rule("/companies/<company_id>", methods=["DELETE"], endpoint="delete_company"),
        Rule("/companies/<company_id>/connections", methods=["GET"], endpoint="list_connections"),
        Rule("/companies/<company_id>/connections", methods=["POST"], endpoint="create_connection"),
        Rule(
            "/companies/<company_id>/connections/<connection_id>",
            methods=["GET"],
            endpoint="get_connection",
        ),
        Rule(
            "/companies/<company_id>/connections/<connection_id>",
            methods=["PATCH"],
            endpoint="unlink_connection",
        ),
        Rule(
            "/companies/<company_id>/connections/<connection_id>",
            methods=["DELETE"],
            endpoint="delete_connection",
        ),
        Rule(
            "/companies/<company_id>/sync/expenses/connections/partnerExpense",
            methods=["POST"],
            endpoint="create_partner_expense_connection",
        ),
        Rule(
            "/companies/<company_id>/connections/<connection_id>/start",
            methods=["GET"],
            endpoint="link_page",
        ),
        Rule("/company/<company_id>", methods=["GET"], endpoint="company_link_page"),
    ],
    strict_slashes=False,
    merge_slashes=False,
)


class SandboxApp:
    """The WSGI application for one sandbox."""

    def __init__(self, store: Store, faults: Faults, api_key: str, seed: str):
        self.store = store
        self.faults = faults
        self._auth = basic_auth_header(api_key).encode()
        self._correlation_rng = random.Random(f"correlation:{seed}")
        self._correlation_lock = threading.Lock()
        self.idempotency = IdempotencyKeys()
        self.link_pages = LinkPages(store, store.links)
        self.limits = RateLimits(store.clock, store.active_connected_companies)
        self.unexpected_errors: list[str] = []
        self.unexpected_error_count = 0

    # ----- WSGI entry --------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        adapter = _URLS.bind_to_environ(environ)
        try:
            endpoint, params = adapter.match()
            route_error: ApiError | None = None
        except MethodNotAllowed as exc:
            endpoint, params = None, {}
            route_error = errors.method_not_allowed(
                request.method, request.path, sorted(exc.valid_methods or [])
            )
        except NotFound:
            endpoint, params = None, {}
            route_error = errors.no_route(request.method, request.path)
        if endpoint == "link_page":
            return self.link_pages.connection(request, **params)(environ, start_response)
        if endpoint == "company_link_page":
            return self.link_pages.company(request, **params)(environ, start_response)
        return self._api(request, environ, endpoint, params, route_error)(environ, start_response)

    def _api(
        self,
        request: Request,
        environ: dict,
        endpoint: str | None,
        params: dict[str, str],
        route_error: ApiError | None,
    ) -> Response:
        self.store.count_request()
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), self._auth):
            # First: an unauthenticated request is not charged to a quota nor handed a fault.
            return self._error_response(errors.unauthorized())
        if self.store.account_expired:  # every request, before any limit or fault
            return self._error_response(errors.payment_required())
        quota = self.limits.charge(self.faults.daily_quota)
        company = params.get("company_id", "").lower() if self.faults.rate_limits else ""
        with (
            self.faults.admitted() as over_cap,
            self.limits.company_slot(company or None) as company_full,
        ):
            response, drop = self._answer(
                request, endpoint, params, route_error, (over_cap, company_full), quota
            )
        if drop:
            self._drop(environ)
            return Response(b"", 200)
        response.headers["X-Rate-Limit-Limit"] = str(quota.limit)
        response.headers["X-Rate-Limit-Remaining"] = str(max(quota.remaining, 0))
        response.headers["X-Rate-Limit-Reset"] = quota.reset.strftime("%Y-%m-%dT%H:%M:%SZ")
        return response

    def _answer(
        self,
        request: Request,
        endpoint: str | None,
        params: dict[str, str],
        route_error: ApiError | None,
        full: tuple[bool, bool],
        quota: Quota,
    ) -> tuple[Response, bool]:
        """The response to an authenticated request, and whether a fault drops it on the way
        back (after it was handled: the lost answer an Idempotency-Key protects against)."""
        key = None
        try:
            self._check_limits(request, *full, quota)
            if route_error is not None:
                raise route_error
            if self.store.is_restricted(params.get("company_id", "").lower()):
                raise errors.forbidden()
            key = self._idempotency_key(request)
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
            response = getattr(self, endpoint)(request, **params)  # type: ignore[arg-type]
        except ApiError as exc:
            response, outcome = self._error_response(exc), None
        except Exception:  # the catch-all: never a bare traceback on the wire
            self._unexpected(request)
            response, outcome = self._error_response(errors.server_error(500)), None
        if key is not None:
            if response.status_code == 429:
                self.idempotency.release(key)  # not kept: the client retries with the same key
            else:
                self.idempotency.finish(key, _Kept.of(response))
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

    def _unexpected(self, request: Request) -> None:
        """Keep and log the first few tracebacks; count the rest (memory and stderr stay
        bounded however often a bug fires)."""
        self.unexpected_error_count += 1
        if len(self.unexpected_errors) < MAX_KEPT_ERRORS:
            self.unexpected_errors.append(traceback.format_exc())
            log.exception("sandbox: unexpected error on %s %s", request.method, request.path[:200])

    def error_body(self, status: int, message: str) -> bytes:
        """An ErrorMessage body for an error the HTTP server answers itself (bad framing, a
        header too large, a timeout)."""
        return self._encode(self._error_body(errors.protocol_error(status, message)))

    def _idempotency_key(self, request: Request) -> str | None:
        """The request's Idempotency-Key (POST and PATCH only); it must be a GUID."""
        if request.method not in ("POST", "PATCH"):
            return None
        values = request.headers.getlist("Idempotency-Key")
        if not values:
            return None
        if len(values) > 1 or not UUID_TEXT.fullmatch(values[0].strip()):
            raise errors.invalid(
                "Idempotency-Key",
                f"must be one GUID (8-4-4-4-12 hex digits), got {', '.join(values)[:60]!r}",
                "IdempotencyKey",
            )
        return values[0].strip().lower()

    def _idempotent_start(self, request: Request, key: str) -> Response | None:
        """The kept response for a repeated key, an error for a misused one, or None to go on."""
        fingerprint = hashlib.sha256(
            b"\0".join([request.method.encode(), request.path.encode(), self._raw_body(request)])
        ).hexdigest()
        decision, kept = self.idempotency.begin(key, fingerprint, self.store.clock.now())
        if decision == REPLAY:
            return kept.response()
        if decision == IN_PROGRESS:
            raise errors.idempotency_in_progress(key)
        if decision == MISMATCH:
            raise errors.idempotency_mismatch(key)
        return None

    def _error_response(self, exc: ApiError) -> Response:
        response = self._json(self._error_body(exc), exc.status)
        response.headers.update(exc.headers)
        return response

    @staticmethod
    def _drop(environ: dict) -> None:
        """Close the socket without answering, as a dying load balancer would."""
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _error_body(self, exc: ApiError) -> dict[str, Any]:
        with self._correlation_lock:
            correlation = self._correlation_rng.getrandbits(128)
        return exc.body(correlation, self.faults.error_validation)

    # ----- rendering ---------------------------------------------------------------------
    @staticmethod
    def _encode(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    def _json(self, body: Any, status: int = 200) -> Response:
        return Response(self._encode(body), status, content_type="application/json")

    @staticmethod
    def _empty(status: int) -> Response:
        response = Response(b"", status)
        del response.headers["Content-Type"]
        if status == 204:  # RFC 9110: a 204 carries no Content-Length
            del response.headers["Content-Length"]
        return response

    def _paged(self, request: Request, result: PageResult, page: int, size: int) -> Response:
        extra = {k: request.args[k] for k in ("query", "orderBy", "tags") if k in request.args}

        def href(number: int) -> dict[str, str]:
            args = {"page": number, "pageSize": size, **extra}
            return {"href": f"{request.path}?{urlencode(args, quote_via=quote)}"}

        links = {"self": {"href": request.path}, "current": href(page)}
        if page * size < result.total:
            links["next"] = href(page + 1)
        if page > 1:
            links["previous"] = href(page - 1)
        body = {
            "results": result.results,
            "pageNumber": page,
            "pageSize": size,
            "totalResults": result.total,
            "_links": links,
        }
        return self._json(body)

    # ----- parsing helpers ---------------------------------------------------------------
    @staticmethod
    def _uuid(item_id: str, value: str, service: str) -> str:
        if not UUID_TEXT.fullmatch(value):
            raise errors.invalid(item_id, f"must be a UUID, got {value!r}", "UuidFormat", service)
        return value.lower()

    @classmethod
    def _int_arg(cls, request: Request, name: str, default: int, low: int, high: int) -> int:
        given = cls._str_arg(request, name)
        if given is None:
            return default
        text = given.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text):  # ASCII only: int() takes any digit
            raise errors.invalid(name, f"must be an integer, got {given!r}", "Integer")
        # More than 10 significant digits is beyond any bound (and int() of thousands is slow).
        in_range = len(text.lstrip("+-").lstrip("0")) <= 10 and low <= int(text) <= high
        if not in_range:
            raise errors.invalid(name, f"must be from {low} to {high}, got {text}", "Range")
        return int(text)

    @staticmethod
    def _str_arg(request: Request, name: str) -> str | None:
        values = request.args.getlist(name)
        if len(values) > 1:
            raise errors.invalid(name, f"give {name} once, got {len(values)} values", "Single")
        return values[0] if values else None

    def _paging(self, request: Request) -> tuple[int, int]:
        page = self._int_arg(request, "page", 1, 1, MAX_PAGE)
        size = self._int_arg(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        return page, size

    @staticmethod
    def _raw_body(request: Request) -> bytes:
        """The request body, read now (after authentication) within the server's cap."""
        body = request.environ.get(BODY_KEY)
        if body is None:  # served by another WSGI server
            return request.get_data()
        try:
            return body.read()
        except FramingError as exc:
            raise errors.protocol_error(exc.status, exc.message) from None
        except TimeoutError:
            raise errors.protocol_error(408, "the request body took too long to arrive") from None

    def _body(self, request: Request, required: bool) -> dict[str, Any] | None:
        raw = self._raw_body(request)
        if not raw.strip():
            if required:
                raise errors.invalid("body", "a JSON object body is required", "Required")
            return None
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise errors.invalid("body", f"is not valid JSON ({exc})", "Json") from None
        if not isinstance(body, dict):
            kind = type(body).__name__
            raise errors.invalid("body", f"must be a JSON object, got {kind}", "Type")
        return body

    # ----- companies ---------------------------------------------------------------------
    def list_companies(self, request: Request) -> Response:
        page, size = self._paging(request)
        query, order_by = self._str_arg(request, "query"), self._str_arg(request, "orderBy")
        tags = self._str_arg(request, "tags")
        served = self.faults.max_page_size
        with _store_errors(SERVICE_CLIENTS):
            result = self.store.page_companies(page, size, query, order_by, tags, served)
        if query is not None and "pageSize" not in request.args:
            raise errors.invalid(
                "pageSize",
                "is required when querying companies (Codat's querying guide)",
                "Required",
                SERVICE_CLIENTS,
            )
        return self._paged(request, result, page, size)

    def create_company(self, request: Request) -> Response:
        body = self._body(request, required=True) or {}
        with _store_errors(SERVICE_CLIENTS):
            company = self.store.create_company(
                body.get("name"),
                body.get("description"),
                body.get("tags"),
                limit=self.faults.company_limit,
            )
        return self._json(company)

    def get_company(self, request: Request, company_id: str) -> Response:
        company_id = self._uuid("companyId", company_id, SERVICE_CLIENTS)
        with _store_errors():
            return self._json(self.store.get_company_wire(company_id))

    def delete_company(self, request: Request, company_id: str) -> Response:
        company_id = self._uuid("companyId", company_id, SERVICE_CLIENTS)
        with _store_errors():
            self.store.delete_company(company_id)
        return self._empty(204)

    # ----- connections -------------------------------------------------------------------
    def list_connections(self, request: Request, company_id: str) -> Response:
        company_id = self._uuid("companyId", company_id, SERVICE_CLIENTS)
        page, size = self._paging(request)
        query, order_by = self._str_arg(request, "query"), self._str_arg(request, "orderBy")
        filtered = None if self.faults.ignore_query else query
        served = self.faults.max_page_size
        with _store_errors():
            result = self.store.page_connections(company_id, page, size, filtered, order_by, served)
        return self._paged(request, result, page, size)

    def create_connection(self, request: Request, company_id: str) -> Response:
        company_id = self._uuid("companyId", company_id, SERVICE_CLIENTS)
        body = self._body(request, required=True) or {}
        if "platformKey" not in body:
            raise errors.invalid("platformKey", "is required", "Required")
        with _store_errors():
            return self._json(self.store.create_connection(company_id, body["platformKey"]))

    def create_partner_expense_connection(self, request: Request, company_id: str) -> Response:
        company_id = self._uuid("companyId", company_id, SERVICE_CLIENTS)
        with _store_errors():
            return self._json(self.store.create_partner_expense_connection(company_id))

    def get_connection(self, request: Request, company_id: str, connection_id: str) -> Response:
        company_id, connection_id = self._ids(company_id, connection_id)
        with _store_errors():
            return self._json(self.store.get_connection_wire(company_id, connection_id))

    def unlink_connection(self, request: Request, company_id: str, connection_id: str) -> Response:
        company_id, connection_id = self._ids(company_id, connection_id)
        body = self._body(request, required=True) or {}
        if body != {"status": "Unlinked"}:
            extra = sorted(set(body) - {"status"})
            message = (
                f'unexpected properties {extra}; the body must be exactly {{"status": "Unlinked"}}'
                if extra
                else f'must be "Unlinked", got {body.get("status")!r}'
            )
            raise errors.invalid("status", message, "UnlinkStatus")
        with _store_errors():
            return self._json(self.store.unlink(company_id, connection_id))

    def delete_connection(self, request: Request, company_id: str, connection_id: str) -> Response:
        company_id, connection_id = self._ids(company_id, connection_id)
        with _store_errors():
            self.store.delete_connection(company_id, connection_id)
        return self._empty(200)

    def _ids(self, company_id: str, connection_id: str) -> tuple[str, str]:
        return (
            self._uuid("companyId", company_id, SERVICE_CLIENTS),
            self._uuid("connectionId", connection_id, SERVICE_PUBLIC),
        )


@dataclass(frozen=True)
class _Kept:
    """A response as first sent, to replay byte for byte for the same Idempotency-Key."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, response: Response) -> _Kept:
        headers = tuple((k, v) for k, v in response.headers.items() if not k.startswith("X-Rate"))
        return cls(response.status_code, response.get_data(), headers)

    def response(self) -> Response:
        response = Response(self.body, self.status)
        response.headers.clear()
        response.headers.extend(self.headers)
        return response


@contextlib.contextmanager
def _store_errors(service: str = SERVICE_PUBLIC) -> Iterator[None]:
    """Turn the store's errors into Codat's ErrorMessages; ``service`` names the API that
    answers a refused rule or query."""
    try:
        yield
    except CompanyNotFound as exc:
        raise errors.company_not_found(exc.company_id) from None
    except ConnectionNotFound as exc:
        raise errors.connection_not_found(exc.connection_id) from None
    except RuleViolation as exc:
        raise errors.invalid(exc.item_id, exc.message, exc.validator, service) from None
    except QueryError as exc:
        raise errors.malformed_query(exc.item_id, str(exc), service) from None
    except CompanyLimitReached:
        raise errors.company_limit_exceeded() from None
