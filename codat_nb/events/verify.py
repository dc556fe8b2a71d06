"""Is this message Codat's? The ``svix`` library's verdict on the raw body and its headers.

Codat signs every webhook as Svix does (Standard Webhooks): ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` over ``{id}.{timestamp}.{raw body}`` under the
endpoint's ``whsec_...`` secret, and tells receivers to check it with ``svix``'s
``Webhook(secret).verify(raw_body, headers)``, which also refuses a timestamp more than five
minutes from the receiver's clock (a captured message cannot be replayed later). The body is
checked exactly as it arrived, before it is parsed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from svix.webhooks import Webhook, WebhookVerificationError

from codat_nb.secret import Secret

SECRET_PREFIX = "whsec_"
#: The fewest key bytes a secret may have (Codat's, as Svix's, have 24).
MIN_KEY_BYTES = 16
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class Rejected(Exception):
    """A message that is not stored: ``status`` (4xx) and why, for the answer and the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def check_secret(secret: object) -> Secret:
    """``secret`` as a Secret if it is an endpoint signing secret (``whsec_`` and base64 of at
    least MIN_KEY_BYTES bytes); ValueError saying what is wrong, never what it is."""
    if isinstance(secret, Secret):
        secret = secret.reveal()
    if not isinstance(secret, str):
        raise TypeError(f"secret must be a string, not {type(secret).__name__}")
    key = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        decoded = base64.b64decode(key, validate=True) if _BASE64.fullmatch(key) else b""
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) < MIN_KEY_BYTES:
        raise ValueError(
            "the webhook secret is not an endpoint signing secret (whsec_ followed by the base64 "
            f"of at least {MIN_KEY_BYTES} bytes): copy it from Codat's Portal (Settings > "
            "Webhooks > the endpoint > Signing secret), or for the sandbox from "
            "sb.webhook_secret(consumer_id) or codat-nb webhook-secret"
        )
    return Secret(secret.strip())


class Verifier:
    """Checks messages against one endpoint's secret (thread-safe: svix keeps no state)."""

    def __init__(self, secret: str | Secret) -> None:
        self._webhook = Webhook(check_secret(secret).reveal())

    def __repr__(self) -> str:
        return "Verifier(secret=Secret('********'))"

    def check(self, headers: Mapping[str, str], body: bytes) -> str:
        """The message's ``webhook-id`` if Codat signed ``body`` within the tolerance;
        Rejected otherwise (400: headers missing or malformed; 401: the signature or its
        time)."""
        missing = [name for name in HEADERS if not headers.get(name)]
        if missing:
            raise Rejected(400, f"missing header(s): {', '.join(missing)} (not a Codat webhook)")
        try:
            self._webhook.verify(body, dict(headers))
        except WebhookVerificationError as error:
            reason = str(error) or "the signature does not verify"
            if "Invalid Signature Headers" in reason:
                raise Rejected(400, "webhook-timestamp is not a number of seconds") from None
            raise Rejected(401, reason) from None
        return headers["webhook-id"]
