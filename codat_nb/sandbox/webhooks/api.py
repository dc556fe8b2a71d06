"""Codat's webhook consumer routes (the Platform API), and the sandbox's route for a secret.

``GET /webhooks`` lists the consumers (``{"results": [...]}``, no paging: there are 50 at
most), ``POST /webhooks`` creates one (201 with the ``WebhookConsumer``), ``DELETE
/webhooks/{webhookId}`` deletes one (204). Codat's API never returns a consumer's signing
secret (the Portal shows it); the sandbox-only ``GET /sandbox/webhooks/{webhookId}/secret``
does, to the same API key, so a receiver in another process can verify what it gets
(``codat-nb webhook-secret``). Refusals are Codat's ErrorMessages, like every other route's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from werkzeug.wrappers import Request, Response

from codat_nb.sandbox import errors
from codat_nb.sandbox.errors import SERVICE_PUBLIC
from codat_nb.sandbox.handlers import store_errors
from codat_nb.sandbox.parsing import json_body, path_id
from codat_nb.sandbox.responses import empty, json_response
from codat_nb.sandbox.webhooks.consumers import ConsumerNotFound
from codat_nb.sandbox.webhooks.hub import Webhooks


class WebhookApi:
    """The webhook routes' handlers (``routes.WEBHOOK_ROUTES`` names them)."""

    def __init__(self, webhooks: Webhooks):
        self.webhooks = webhooks

    def list_webhook_consumers(self, request: Request) -> Response:
        return json_response({"results": self.webhooks.consumers()})

    def create_webhook_consumer(self, request: Request) -> Response:
        body = json_body(request)
        with store_errors():
            return json_response(self.webhooks.create_from(body), 201)

    def delete_webhook_consumer(self, request: Request, webhook_id: str) -> Response:
        with _consumer_errors():
            self.webhooks.delete(path_id("webhookId", webhook_id, SERVICE_PUBLIC))
        return empty(204)

    def webhook_consumer_secret(self, request: Request, webhook_id: str) -> Response:
        with _consumer_errors():
            secret = self.webhooks.secret(path_id("webhookId", webhook_id, SERVICE_PUBLIC))
        return json_response({"id": webhook_id.lower(), "secret": secret})


@contextlib.contextmanager
def _consumer_errors() -> Iterator[None]:
    try:
        yield
    except ConsumerNotFound as exc:
        raise errors.not_found(str(exc), SERVICE_PUBLIC) from None
