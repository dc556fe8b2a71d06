"""The sandbox's routes, each declared once: a path, the methods it serves and who serves each.

``API_ROUTES`` are Codat's API (authenticated; each named for its method on
``handlers.Handlers``), ``WEBHOOK_ROUTES`` its webhook consumers (authenticated too;
``webhooks.api.WebhookApi``); ``LINK_PAGE_ROUTES`` are the end customer's pages (no authentication;
``link_pages.LinkPages``). A method a path does not serve is a 405 naming those it does, any
other path a 404; a ``GET`` route answers ``HEAD`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from codat_nb.sandbox import errors
from codat_nb.sandbox.errors import ApiError

_COMPANY = "/companies/<company_id>"
_CONNECTION = f"{_COMPANY}/connections/<connection_id>"

#: path -> {method: the ``Handlers`` method that answers it}
API_ROUTES: Mapping[str, Mapping[str, str]] = {
    "/companies": {"GET": "list_companies", "POST": "create_company"},
    _COMPANY: {"GET": "get_company", "DELETE": "delete_company"},
    f"{_COMPANY}/connections": {"GET": "list_connections", "POST": "create_connection"},
    _CONNECTION: {
        "GET": "get_connection",
        "PATCH": "unlink_connection",
        "DELETE": "delete_connection",
    },
    f"{_COMPANY}/sync/expenses/connections/partnerExpense": {
        "POST": "create_partner_expense_connection"
    },
}
#: path -> {method: the ``webhooks.api.WebhookApi`` method that answers it} (authenticated as
#: the API; the ``/sandbox/`` route is the sandbox's own, not Codat's)
WEBHOOK_ROUTES: Mapping[str, Mapping[str, str]] = {
    "/webhooks": {"GET": "list_webhook_consumers", "POST": "create_webhook_consumer"},
    "/webhooks/<webhook_id>": {"DELETE": "delete_webhook_consumer"},
    "/sandbox/webhooks/<webhook_id>/secret": {"GET": "webhook_consumer_secret"},
}
#: path -> {method: the link page that answers it}
LINK_PAGE_ROUTES: Mapping[str, Mapping[str, str]] = {
    f"{_CONNECTION}/start": {"GET": "link_page"},
    "/company/<company_id>": {"GET": "company_link_page"},
}


def _rules(routes: Mapping[str, Mapping[str, str]]) -> list[Rule]:
    return [
        Rule(path, methods=[method], endpoint=endpoint)
        for path, methods in routes.items()
        for method, endpoint in methods.items()
    ]


URLS = Map(
    [*_rules(API_ROUTES), *_rules(WEBHOOK_ROUTES), *_rules(LINK_PAGE_ROUTES)],
    strict_slashes=False,
    merge_slashes=False,
)


@dataclass(frozen=True)
class Match:
    """What a request's method and path name: an endpoint and its path parameters, or the
    404/405 to answer (after authentication, for the API)."""

    endpoint: str | None
    params: dict[str, str]
    error: ApiError | None = None


def match(request: Request) -> Match:
    adapter = URLS.bind_to_environ(request.environ)
    try:
        endpoint, params = adapter.match()
    except MethodNotAllowed as exc:
        allowed = sorted(exc.valid_methods or [])
        return Match(None, {}, errors.method_not_allowed(request.method, request.path, allowed))
    except NotFound:
        return Match(None, {}, errors.no_route(request.method, request.path))
    return Match(str(endpoint), {name: str(value) for name, value in params.items()})
