"""Codat's webhooks in the sandbox: consumers, events, signing and delivery.

``hub.Webhooks`` is ``sb.webhooks``; ``consumers`` checks and keeps what a consumer subscribes
to; ``events`` says which store change is which event and builds its payload; ``signing``
signs as Codat (Svix) does; ``outbox`` keeps each consumer's retry schedule, ``delivery`` runs
the workers that send, over ``sender``; ``api`` serves Codat's ``/webhooks`` routes.
"""

from codat_nb.sandbox.webhooks.delivery import Attempt
from codat_nb.sandbox.webhooks.hub import Webhooks
from codat_nb.sandbox.webhooks.outbox import Pending

__all__ = ["Attempt", "Pending", "Webhooks"]
