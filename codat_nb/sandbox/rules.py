"""What the sandbox refuses, and why: its errors and the checks on what a request asks for.

Pure functions and exception types, no state: the store raises these, the app maps each to
Codat's ErrorMessage in one place, and the link pages show the not-found ones as a page.
"""

from __future__ import annotations

from typing import Any, ClassVar

from codat_nb.platforms import PARTNER_EXPENSE_KEY, PLATFORMS, Platform, is_platform_key
from codat_nb.sandbox.shapes import LINKED

#: Codat's ``name`` pattern ``^[A-Za-z0-9\s\-',&@.,?!\s]+$``: ASCII letters and digits, these
#: symbols and .NET's ``\s``, which is Python's ``str.isspace`` without U+001C..U+001F.
COMPANY_NAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-',&@.?!"
)
_NOT_DOTNET_SPACE = frozenset("\x1c\x1d\x1e\x1f")
#: The sandbox's own bounds (Codat documents none): longer is refused rather than stored.
MAX_NAME_LENGTH, MAX_DESCRIPTION_LENGTH = 255, 2_000
#: Codat's tag bounds (the document): tags per company, name length, value length.
MAX_TAGS, MAX_TAG_NAME_LENGTH, MAX_TAG_VALUE_LENGTH = 10, 27, 100


class RecordNotFound(KeyError):
    """No record with this id; ``str()`` is Codat's wording for it (the document's 404s)."""

    wording: ClassVar[str]

    def __init__(self, record_id: str):
        super().__init__(record_id)
        self.record_id = record_id

    def __str__(self) -> str:
        return self.wording.format(self.record_id)


class CompanyNotFound(RecordNotFound):
    wording = "No company was found with ID {}"


class ConnectionNotFound(RecordNotFound):
    wording = "Data connection {} not found"


class CompanyLimitReached(Exception):
    """Creating a company would take the account over its company limit."""


class RuleViolation(ValueError):
    """A request the rules refuse; names the field, the reason and the validator."""

    def __init__(self, item_id: str, message: str, validator: str):
        super().__init__(f"{item_id}: {message}")
        self.item_id, self.message, self.validator = item_id, message, validator


def allowed_in_name(ch: str) -> bool:
    return ch in COMPANY_NAME_CHARS or (ch.isspace() and ch not in _NOT_DOTNET_SPACE)


def company_name(name: object) -> str:
    """The name Codat creates: forbidden characters removed (its example: ``Company
    (Codat[1])`` becomes ``Company Codat1``); RuleViolation when it is not a string, too long,
    or nothing but blanks is left."""
    if not isinstance(name, str):
        raise RuleViolation("name", "a company name (a string) is required", "Required")
    if len(name) > MAX_NAME_LENGTH:
        raise RuleViolation(
            "name", f"at most {MAX_NAME_LENGTH} characters, got {len(name)}", "MaxLength"
        )
    kept = "".join(ch for ch in name if allowed_in_name(ch))
    if not kept.strip():
        raise RuleViolation(
            "name",
            "needs a letter, digit or one of - ' , & @ . ? ! (other characters are removed)",
            "Pattern",
        )
    return kept


def company_description(description: object) -> str | None:
    """``description`` if it is one (a string within the bound, or none); else RuleViolation."""
    if description is None:
        return None
    if not isinstance(description, str):
        raise RuleViolation("description", "must be a string", "Type")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise RuleViolation(
            "description",
            f"at most {MAX_DESCRIPTION_LENGTH} characters, got {len(description)}",
            "MaxLength",
        )
    return description


def company_tags(tags: object) -> dict[str, str] | None:
    """``tags`` if they are Codat's (an object of at most 10 short string values, or none)."""
    if tags is None:
        return None
    if not isinstance(tags, dict):
        raise RuleViolation("tags", "must be an object of string values", "Type")
    if len(tags) > MAX_TAGS:
        raise RuleViolation(
            "tags", f"at most {MAX_TAGS} tags are allowed, got {len(tags)}", "MaxItems"
        )
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_TAG_NAME_LENGTH:
            message = f"tag names are 1 to {MAX_TAG_NAME_LENGTH} characters"
            raise RuleViolation(f"tags.{key}", message, "Length")
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE_LENGTH:
            message = f"tag values are strings of at most {MAX_TAG_VALUE_LENGTH}"
            raise RuleViolation(f"tags.{key}", message, "Length")
    return tags


def platform(platform_key: object) -> Platform:
    """The platform ``platform_key`` names; RuleViolation for a malformed or unknown key."""
    if not is_platform_key(platform_key):
        raise RuleViolation(
            "platformKey",
            f"must be exactly four lowercase letters (e.g. 'gbol'), got {platform_key!r}",
            "PlatformKeyFormat",
        )
    known = PLATFORMS.get(str(platform_key))
    if known is None:
        raise RuleViolation(
            "platformKey", f"{platform_key!r} is not a known platform key", "KnownPlatform"
        )
    return known


def require_linked(row: dict[str, Any], action: str) -> None:
    """RuleViolation unless ``row`` is Linked: only a Linked connection ``action``."""
    if row["status"] != LINKED:
        raise RuleViolation(
            "status",
            f"only a Linked connection {action}; this one is {row['status']}",
            "ConnectionStatus",
        )


def partner_expense_allowed(rows: list[dict[str, Any]]) -> None:
    """RuleViolation unless a company with these connections may get its partner expense
    connection: Codat's Expenses guide creates it "once your customer has authorized access to
    their accounting software", and gives a company one of them (the sandbox refuses a second
    rather than guess what Codat does; docs/fidelity.md)."""
    existing = [
        row
        for row in rows
        if row.get("integrationKey") == PARTNER_EXPENSE_KEY or row["sourceType"] == "Expense"
    ]
    if existing:
        row = existing[0]
        raise RuleViolation(
            "dataConnections",
            f"the company already has a partner expense connection ({row['id']}, "
            f"{row['status']}); a company has one (delete it first to create a new one)",
            "SinglePartnerExpense",
        )
    if not any(row["status"] == LINKED and row["sourceType"] == "Accounting" for row in rows):
        raise RuleViolation(
            "dataConnections",
            "create the partner expense connection once the customer has authorized their "
            "accounting software: the company has no Linked accounting connection",
            "AccountingLinkedFirst",
        )
