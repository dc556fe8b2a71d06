"""Pydantic v2 models of the Sync for Expenses v1 wire format (camelCase wire, snake_case here).

Faithful to ``Codat-Sync-Expenses-v1.json``. Parsing is lenient where Codat may move ahead
of this code: an unknown enum value is kept as a string (with one warning per value) and
unknown properties are ignored, so a newer API never breaks an analyst's notebook.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

CONNECTION_STATUSES = ("PendingAuth", "Linked", "Unlinked", "Deauthorized")
SOURCE_TYPES = ("Accounting", "Banking", "BankFeed", "Commerce", "Expense", "Other", "Unknown")
ERROR_STATUSES = ("Active", "Resolved")

_FRACTION = re.compile(r"(\.\d{6})\d+")
_warned_enum_values: set[tuple[str, str]] = set()


def parse_codat_datetime(value: str) -> datetime:
    """Parse any of Codat's three date shapes: ``...Z``, ``...+01:00`` and unqualified local time.

    Fractions longer than six digits (Codat sends seven) are truncated to microseconds.
    Unqualified times come back naive: Codat says they are local to the business, whose
    time zone the API does not give; ``frames`` documents how DataFrames treat them.
    """
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None


def format_codat_datetime(value: datetime) -> str:
    """Render a datetime as Codat does: UTC with ``Z`` when aware, bare when unqualified."""
    if value.tzinfo is not None and value.utcoffset() is not None and not value.utcoffset():
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


class CodatWarning(UserWarning):
    """Something to know about a result that is still correct (dropped duplicates, an unknown
    enum value kept as text). Lives here, below errors.py, so models can raise it too."""


def known_or_warn(kind: str, value: str, known: tuple[str, ...]) -> str:
    """Keep a value a newer API added (never crash on it), warning once per kind and value."""
    if value not in known and (kind, value) not in _warned_enum_values:
        _warned_enum_values.add((kind, value))
        warnings.warn(
            f"Codat sent a {kind} this version of codat_nb does not know: {value!r}; kept as text",
            CodatWarning,
            stacklevel=2,
        )
    return value


CodatDatetime = Annotated[
    datetime, BeforeValidator(lambda v: parse_codat_datetime(v) if isinstance(v, str) else v)
]


class CodatModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict Codat would send (camelCase, optional fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DataConnectionError(CodatModel):
    status_code: str | None = None
    status_text: str | None = None
    error_message: str | None = None
    errored_on_utc: CodatDatetime | None = None
    status: str | None = None
    resolved_on_utc: CodatDatetime | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        return None if value is None else known_or_warn("error status", value, ERROR_STATUSES)


class Connection(CodatModel):
    id: str
    integration_id: str
    integration_key: str | None = None
    source_id: str
    source_type: str
    platform_name: str
    link_url: str
    status: str
    last_sync: CodatDatetime | None = None
    created: CodatDatetime
    data_connection_errors: list[DataConnectionError] | None = None
    connection_info: dict[str, Any] | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        return known_or_warn("connection status", value, CONNECTION_STATUSES)

    @field_validator("source_type")
    @classmethod
    def _source_type(cls, value: str) -> str:
        return known_or_warn("source type", value, SOURCE_TYPES)

    def _repr_html_(self) -> str:
        """A small card in notebooks (``display(connection)``): status, dates, link, errors."""
        from codat_nb.display import connection_html  # display imports this module

        return connection_html(self)


class HalRef(CodatModel):
    href: str


class PageLinks(CodatModel):
    self_: HalRef = Field(alias="self")
    current: HalRef
    next: HalRef | None = None
    previous: HalRef | None = None


class Page(CodatModel):
    page_number: int
    page_size: int
    total_results: int
    links: PageLinks = Field(alias="_links")


class ConnectionsPage(Page):
    results: list[Connection] = Field(default_factory=list)


class CompanyReference(CodatModel):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    links: dict[str, Any] | None = None
    tags: dict[str, str] | None = None


class Company(CodatModel):
    id: str
    name: str
    description: str | None = None
    redirect: str
    last_sync: CodatDatetime | None = None
    created: CodatDatetime | None = None
    created_by_user_name: str | None = None
    products: list[str] | None = None
    tags: dict[str, str] | None = None
    reference_parent_company: CompanyReference | None = None
    reference_subsidiary_companies: list[CompanyReference] | None = None
    data_connections: list[Connection] = Field(default_factory=list)


class CompaniesPage(Page):
    results: list[Company] = Field(default_factory=list)


class ValidationItem(CodatModel):
    item_id: str | None = None
    message: str | None = None
    validator_name: str | None = None


class ErrorValidation(CodatModel):
    errors: list[ValidationItem] | None = None
    warnings: list[ValidationItem] | None = None


class ErrorMessage(CodatModel):
    status_code: int | None = None
    service: str | None = None
    error: str | None = None
    correlation_id: str | None = None
    validation: ErrorValidation | None = None
    can_be_retried: str | None = None
    detailed_error_code: int | None = None
