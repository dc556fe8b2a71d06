"""The API's handlers: each reads what its request asks for, calls the store, renders the answer.

One method per route (``routes.API_ROUTES`` names them); the rules live in the store, the
argument checks in ``parsing``, the rendering in ``responses``. The store's refusals become
Codat's ErrorMessages in one place, ``store_errors``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from werkzeug.wrappers import Request, Response

from codat_nb.query import QueryError
from codat_nb.sandbox import errors
from codat_nb.sandbox.errors import SERVICE_CLIENTS, SERVICE_PUBLIC
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.parsing import has_arg, json_body, paging, path_id, str_arg
from codat_nb.sandbox.responses import empty, json_response, paged
from codat_nb.sandbox.rules import (
    CompanyLimitReached,
    CompanyNotFound,
    ConnectionNotFound,
    RuleViolation,
)
from codat_nb.sandbox.store import Store

#: The only body an unlink accepts.
UNLINK_BODY = {"status": "Unlinked"}


class Handlers:
    """The API's endpoints over one store; ``faults`` supplies the knobs a listing obeys."""

    def __init__(self, store: Store, faults: Faults):
        self.store, self.faults = store, faults

    # ----- companies ---------------------------------------------------------------------
    def list_companies(self, request: Request) -> Response:
        page, size = paging(request)
        query, order_by = str_arg(request, "query"), str_arg(request, "orderBy")
        tags = str_arg(request, "tags")
        served = self.faults.max_page_size
        with store_errors(SERVICE_CLIENTS):
            result = self.store.page_companies(page, size, query, order_by, tags, served)
        if query is not None and not has_arg(request, "pageSize"):
            raise errors.invalid(
                "pageSize",
                "is required when querying companies (Codat's querying guide)",
                "Required",
                SERVICE_CLIENTS,
            )
        return paged(request, result, page, size)

    def create_company(self, request: Request) -> Response:
        body = json_body(request)
        with store_errors(SERVICE_CLIENTS):
            company = self.store.create_company(
                body.get("name"),
                body.get("description"),
                body.get("tags"),
                limit=self.faults.company_limit,
            )
        return json_response(company)

    def get_company(self, request: Request, company_id: str) -> Response:
        company_id = path_id("companyId", company_id, SERVICE_CLIENTS)
        with store_errors():
            return json_response(self.store.get_company_wire(company_id))

    def update_company(self, request: Request, company_id: str) -> Response:
        company_id = path_id("companyId", company_id, SERVICE_CLIENTS)
        body = json_body(request)
        with store_errors(SERVICE_CLIENTS):
            return json_response(self.store.update_company(company_id, body))

    def replace_company(self, request: Request, company_id: str) -> Response:
        company_id = path_id("companyId", company_id, SERVICE_CLIENTS)
        body = json_body(request)
        with store_errors(SERVICE_CLIENTS):
            return json_response(self.store.replace_company(company_id, body))

    def delete_company(self, request: Request, company_id: str) -> Response:
        company_id = path_id("companyId", company_id, SERVICE_CLIENTS)
        with store_errors():
            self.store.delete_company(company_id)
        return empty(204)

    # ----- connections -------------------------------------------------------------------
    def list_connections(self, request: Request, company_id: str) -> Response:
        company_id = path_id("companyId", company_id, SERVICE_CLIENTS)
        page, size = paging(request)
        query, order_by = str_arg(request, "query"), str_arg(request, "orderBy")
        filtered = None if self.faults.ignore_query else query
        served = self.faults.max_page_size
        with store_errors():
            result = self.store.page_connections(company_id, page, size, filtered, order_by, served)
        return paged(request, result, page, size)

    def create_connection(self, request: Request, company_id: str) -> Response:
        company_id = path_id("companyId", company_id, SERVICE_CLIENTS)
        body = json_body(request)
        if "platformKey" not in body:
            raise errors.invalid("platformKey", "is required", "Required")
        with store_errors():
            return json_response(self.store.create_connection(company_id, body["platformKey"]))

    def create_partner_expense_connection(self, request: Request, company_id: str) -> Response:
        company_id = path_id("companyId", company_id, SERVICE_CLIENTS)
        with store_errors():
            return json_response(self.store.create_partner_expense_connection(company_id))

    def get_connection(self, request: Request, company_id: str, connection_id: str) -> Response:
        company_id, connection_id = _ids(company_id, connection_id)
        with store_errors():
            return json_response(self.store.get_connection_wire(company_id, connection_id))

    def unlink_connection(self, request: Request, company_id: str, connection_id: str) -> Response:
        company_id, connection_id = _ids(company_id, connection_id)
        body = json_body(request)
        if body != UNLINK_BODY:
            extra = sorted(set(body) - {"status"})
            message = (
                f'unexpected properties {extra}; the body must be exactly {{"status": "Unlinked"}}'
                if extra
                else f'must be "Unlinked", got {body.get("status")!r}'
            )
            raise errors.invalid("status", message, "UnlinkStatus")
        with store_errors():
            return json_response(self.store.unlink(company_id, connection_id))

    def delete_connection(self, request: Request, company_id: str, connection_id: str) -> Response:
        company_id, connection_id = _ids(company_id, connection_id)
        with store_errors():
            self.store.delete_connection(company_id, connection_id)
        return empty(200)


def _ids(company_id: str, connection_id: str) -> tuple[str, str]:
    return (
        path_id("companyId", company_id, SERVICE_CLIENTS),
        path_id("connectionId", connection_id, SERVICE_PUBLIC),
    )


@contextlib.contextmanager
def store_errors(service: str = SERVICE_PUBLIC) -> Iterator[None]:
    """Turn the store's errors into Codat's ErrorMessages; ``service`` names the API that
    answers a refused rule or query."""
    try:
        yield
    except CompanyNotFound as exc:
        raise errors.not_found(str(exc), SERVICE_CLIENTS) from None
    except ConnectionNotFound as exc:
        raise errors.not_found(str(exc), SERVICE_PUBLIC) from None
    except RuleViolation as exc:
        raise errors.invalid(exc.item_id, exc.message, exc.validator, service) from None
    except QueryError as exc:
        raise errors.malformed_query(exc.item_id, str(exc), service) from None
    except CompanyLimitReached:
        raise errors.company_limit_exceeded() from None
