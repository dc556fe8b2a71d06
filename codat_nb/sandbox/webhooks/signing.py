"""Signing as Codat signs its webhooks: Standard Webhooks, as Svix does it.

Each attempt carries ``webhook-id`` (the message's id, the same on every attempt),
``webhook-timestamp`` (unix seconds of the attempt, wall time: a receiver checks it against
its own clock) and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of
``{id}.{timestamp}.{body}`` under the secret's key, the base64 part of ``whsec_...``
(``docs/using-the-api/webhooks/create-consumer.md``). A consumer's secret is derived from the
sandbox's seed and the consumer's id, so the same seed gives the same secrets: it guards
nothing from someone who knows the seed, which is what a test oracle needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
_KEY_BYTES = 24  # as Svix's secrets


def consumer_secret(seed: str, consumer_id: str) -> str:
    """The consumer's ``whsec_...`` secret (deterministic: see the module's docstring)."""
    key = hashlib.sha256(f"webhook-secret:{seed}:{consumer_id}".encode()).digest()[:_KEY_BYTES]
    return SECRET_PREFIX + base64.b64encode(key).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
