"""Codat's routes the sandbox does not serve, so asking for one gets a 404 that says so.

A client walking Codat's API (the official SDKs have every operation) must not read such a 404
as "company not found": the answer names the operation's document and says the sandbox does
not serve it. The paths and methods are those of Codat's Platform API document
(``Codat-Platform.json``) and its Sync for Expenses (v1) document that ``routes`` does not
serve; ``routes.match`` asks here only after its own routes found nothing, so a route served
later (the webhooks') is never shadowed.
"""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from codat_nb.sandbox import errors
from codat_nb.sandbox.errors import ApiError

PLATFORM_API = "Platform API"
EXPENSES_API = "Sync for Expenses API"

#: document -> {path (as the document writes it): the methods it has there}
DOCUMENTED: Mapping[str, Mapping[str, str]] = {
    PLATFORM_API: {
        "/companies/{companyId}/products/{productIdentifier}": "PUT DELETE",
        "/companies/{companyId}/products/{productIdentifier}/refresh": "POST",
        "/companies/{companyId}/connections/{connectionId}/authorization": "PUT",
        "/companies/{companyId}/accessToken": "GET",
        "/companies/{companyId}/syncSettings": "GET POST",
        "/companies/{companyId}/connectionManagement/accessToken": "GET",
        "/connectionManagement/corsSettings": "GET POST",
        "/corsSettings": "GET POST",
        "/companies/{companyId}/data/all": "POST",
        "/companies/{companyId}/data/queue/{dataType}": "POST",
        "/companies/{companyId}/dataStatus": "GET",
        "/companies/{companyId}/data/history": "GET",
        "/companies/{companyId}/data/history/{datasetId}": "GET",
        "/webhooks": "GET POST",
        "/webhooks/{webhookId}": "DELETE",
        "/webhooks/integrationKeys/zapier": "POST",
        "/integrations": "GET",
        "/integrations/{platformKey}": "GET",
        "/integrations/{platformKey}/branding": "GET",
        "/profile": "GET PUT",
        "/profile/syncSettings": "GET POST",
        "/apiKeys": "GET POST",
        "/apiKeys/{apiKeyId}": "DELETE",
        "/companies/{companyId}/sync/{datasetId}/validation": "GET",
        "/companies/{companyId}/connections/{connectionId}/options/{dataType}": "GET",
        "/companies/{companyId}/push": "GET",
        "/companies/{companyId}/push/{pushOperationKey}": "GET",
        "/integrations/{platformKey}/dataTypes/{dataType}/supplementalDataConfig": "PUT GET",
        "/integrations/{platformKey}/dataTypes/custom/{customDataIdentifier}": "PUT GET",
        "/companies/{companyId}/connections/{connectionId}/data/queue/custom/"
        "{customDataIdentifier}": "POST",
        "/companies/{companyId}/connections/{connectionId}/data/custom/{customDataIdentifier}": (
            "GET"
        ),
    },
    EXPENSES_API: {
        "/companies/{companyId}/sync/expenses/config": "GET POST",
        "/companies/{companyId}/sync/expenses/mappingOptions": "GET",
        "/companies/{companyId}/sync/expenses/syncs": "POST",
        "/companies/{companyId}/sync/expenses/syncs/lastSuccessful/status": "GET",
        "/companies/{companyId}/sync/expenses/syncs/latest/status": "GET",
        "/companies/{companyId}/sync/expenses/syncs/list/status": "GET",
        "/companies/{companyId}/sync/expenses/syncs/{syncId}/status": "GET",
        "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions": "GET",
        "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions/{transactionId}": "GET",
        "/companies/{companyId}/sync/expenses/data/expense-transactions": "POST",
        "/companies/{companyId}/sync/expenses/expense-transactions/{transactionId}": "PUT",
        "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions/{transactionId}/"
        "attachments": "POST",
    },
}


def _rule(path: str, methods: str, document: str) -> Rule:
    werkzeug_path = path.replace("{", "<").replace("}", ">")
    return Rule(werkzeug_path, methods=methods.split(), endpoint=f"{document}\0{path}")


_DOCUMENTED_URLS = Map(
    [
        _rule(path, methods, document)
        for document, paths in DOCUMENTED.items()
        for path, methods in paths.items()
    ],
    strict_slashes=False,
    merge_slashes=False,
)


def not_served(request: Request) -> ApiError | None:
    """The 404 for a documented operation the sandbox does not serve, or None."""
    adapter = _DOCUMENTED_URLS.bind_to_environ(request.environ)
    try:
        endpoint, _ = adapter.match()
    except HTTPException:
        return None
    document, _, path = str(endpoint).partition("\0")
    return errors.not_served(request.method, path, document)
