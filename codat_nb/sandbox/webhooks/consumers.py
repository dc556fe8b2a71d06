"""Webhook consumers as Codat's Platform API has them: what one subscribes to, and the checks on
a request to create one (``POST /webhooks``).

A consumer names its ``url``, the ``eventTypes`` it wants (at least one, each documented),
whether it starts ``disabled``, and optionally a ``companyId`` and ``companyTags``
(``key:value``, at most 10 of up to 128 characters each; a message goes out when any of the
company's tags matches: ``docs/using-the-api/webhooks/create-consumer.md``). ``companyId`` is
not in the 2026 document's prototype but was in Codat's earlier one ("the associated webhook
consumer will receive events only for the specified ID"); the sandbox keeps it. Given both,
a message must satisfy both; a client's rate-limit events, about no company, go only to
consumers without either filter. What is refused raises ``RuleViolation`` naming the field,
as the rest of the sandbox does; the API answers it as Codat's 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from codat_nb.sandbox.rules import RecordNotFound, RuleViolation
from codat_nb.sandbox.webhooks.events import SENT, is_documented
from codat_nb.wire.protocol import UUID_TEXT

#: Consumers an account may have (the document's create-webhook-consumer description).
MAX_CONSUMERS = 50
#: Company tags a consumer may filter on, and their length (the ``WebhookConsumer`` schema).
MAX_COMPANY_TAGS, MAX_COMPANY_TAG_LENGTH = 10, 128
#: The sandbox's own bound on a consumer's URL (Codat documents none).
MAX_URL_LENGTH = 2_048
#: What a create request may name: the document's prototype, and ``companyId``.
FIELDS = ("url", "disabled", "eventTypes", "companyId", "companyTags")


class ConsumerNotFound(RecordNotFound):
    wording = "Webhook consumer {} not found"


class TooManyConsumers(RuleViolation):
    def __init__(self) -> None:
        super().__init__(
            "webhookConsumers",
            f"at most {MAX_CONSUMERS} webhook consumers may exist; delete an unused one first",
            "MaxConsumers",
        )


@dataclass(frozen=True)
class Consumer:
    """One consumer's subscription (whether it is disabled is delivery state: ``delivery``)."""

    id: str
    url: str
    event_types: tuple[str, ...]
    company_id: str | None = None
    company_tags: tuple[str, ...] | None = None

    def wants(self, event_type: str, company: Mapping[str, Any] | None) -> bool:
        """Whether an event of this type about ``company`` (None: about the client, not a
        company) goes to this consumer."""
        if event_type not in self.event_types:
            return False
        if self.company_id is not None and (company is None or company["id"] != self.company_id):
            return False
        if self.company_tags is None:
            return True
        tags = (company or {}).get("tags") or {}
        return any(f"{key}:{value}" in self.company_tags for key, value in tags.items())

    def wire(self, disabled: bool) -> dict[str, Any]:
        """The ``WebhookConsumer`` the API answers with, in the document's order."""
        shown: dict[str, Any] = {"id": self.id, "url": self.url, "disabled": disabled}
        shown["eventTypes"] = list(self.event_types)
        if self.company_tags is not None:
            shown["companyTags"] = list(self.company_tags)
        if self.company_id is not None:
            shown["companyId"] = self.company_id
        return shown


@dataclass(frozen=True)
class Prototype:
    """A create request, checked: everything a new consumer needs but its id."""

    url: str
    event_types: tuple[str, ...]
    disabled: bool
    company_id: str | None
    company_tags: tuple[str, ...] | None


def prototype(body: Mapping[str, Any]) -> Prototype:
    """The request's fields checked, in the order the document lists them; RuleViolation."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise RuleViolation(
            unknown[0], f"is not a property of a webhook consumer (they are: {', '.join(FIELDS)})",
            "UnknownProperty",
        )  # fmt: skip
    return Prototype(
        url=_url(body.get("url")),
        event_types=_event_types(body.get("eventTypes")),
        disabled=_disabled(body.get("disabled")),
        company_id=_company_id(body.get("companyId")),
        company_tags=_company_tags(body.get("companyTags")),
    )


def _url(value: object) -> str:
    if value is None:
        raise RuleViolation("url", "is required", "Required")
    if not isinstance(value, str):
        raise RuleViolation("url", f"must be a string, got {type(value).__name__}", "Type")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise RuleViolation(
            "url",
            f"must be ASCII without spaces (percent-encode the rest, punycode a host), got"
            f" {value[:100]!r}",
            "UriFormat",
        )
    parts = urlsplit(value)
    absolute = parts.scheme in ("http", "https") and bool(parts.hostname)
    if not absolute or len(value) > MAX_URL_LENGTH or not _port_is_valid(parts):
        raise RuleViolation(
            "url", f"must be an absolute http(s) URL, got {value[:100]!r}", "UriFormat"
        )
    return value


def _port_is_valid(parts: SplitResult) -> bool:
    try:
        return parts.port is None or parts.port > 0
    except ValueError:  # not a number, or out of range
        return False


def _event_types(value: object) -> tuple[str, ...]:
    if value is None or value == []:
        raise RuleViolation("eventTypes", "at least one event type is required", "Required")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RuleViolation("eventTypes", "must be a list of event type names", "Type")
    unknown = [item for item in value if not is_documented(item)]
    if unknown:
        raise RuleViolation(
            "eventTypes",
            f"{unknown[0]!r} is not an event type Codat documents; those the sandbox sends"
            " are: " + ", ".join(SENT),
            "EventType",
        )
    return tuple(value)


def _disabled(value: object) -> bool:
    if value is None:  # nullable, default false (the schema)
        return False
    if not isinstance(value, bool):
        raise RuleViolation("disabled", f"must be true or false, got {value!r}", "Type")
    return value


def _company_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not UUID_TEXT.fullmatch(value):
        raise RuleViolation("companyId", f"must be a company's id (a UUID), got {value!r}", "Uuid")
    return value.lower()


def _company_tags(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RuleViolation("companyTags", "must be a list of 'key:value' strings", "Type")
    if len(value) > MAX_COMPANY_TAGS:
        raise RuleViolation(
            "companyTags", f"at most {MAX_COMPANY_TAGS} tags, got {len(value)}", "MaxItems"
        )
    for tag in value:
        key, colon, _ = tag.partition(":")
        if not key or not colon or len(tag) > MAX_COMPANY_TAG_LENGTH:
            raise RuleViolation(
                "companyTags",
                f"each tag is 'key:value', up to {MAX_COMPANY_TAG_LENGTH} characters;"
                f" got {tag[:140]!r}",
                "CompanyTag",
            )
    return tuple(value)
