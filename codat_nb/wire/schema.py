"""The wire schema: every field of every Codat type this toolkit speaks, declared once.

The pydantic models (``wire.models``), the DataFrame columns and dtypes (``frames``), the
sandbox's rendering (``sandbox.store``) and the query language's properties (``query``) are all
derived from these tables, so adding a field is one line here. ``tests`` check the tables
against Codat's OpenAPI document (``Codat-Sync-Expenses-v1.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pydantic.alias_generators import to_snake

from codat_nb.platforms import KEYLESS_PLATFORM_NAMES, PLATFORMS

# Kinds of value on the wire.
TEXT, ENUM, DATETIME, INTEGER = "text", "enum", "datetime", "integer"
OBJECT = "object"  # free-form JSON object (``connectionInfo``, ``tags``)
MODEL = "model"  # an object with a schema of its own (``item``)
LIST = "list"  # an array of ``item`` (a Schema, or TEXT)

# DataFrame dtypes.
STR = "str"
CATEGORY = "category"
INT64 = "int64"
PYOBJECT = "object"
UTC_DATETIME = "datetime64[us, UTC]"

CONNECTION_STATUSES = ("PendingAuth", "Linked", "Unlinked", "Deauthorized")
SOURCE_TYPES = ("Accounting", "Banking", "BankFeed", "Commerce", "Expense", "Other", "Unknown")
ERROR_STATUSES = ("Active", "Resolved")
PLATFORM_NAMES = tuple(
    dict.fromkeys([*(p.name for p in PLATFORMS.values()), *KEYLESS_PLATFORM_NAMES])
)
PLATFORM_KEYS = tuple(PLATFORMS)


@dataclass(frozen=True)
class Field:
    """One property: its wire name, kind, whether it must be present or may be null, and how it
    appears in a DataFrame (``dtype`` None: not a column)."""

    wire: str
    kind: str
    required: bool = False
    nullable: bool = False
    item: Schema | str | None = None
    values: tuple[str, ...] = ()  # ENUM: the documented values (others are kept, with a warning)
    label: str = ""  # ENUM: what a value is, for that warning ("connection status")
    dtype: str | None = None
    column: str = ""  # frame column name when not the Python name
    categories: tuple[str, ...] = ()  # CATEGORY: known categories first (default: ``values``)
    python: str = ""  # Python name when not the snake_case of ``wire``
    #: False: Codat sends it, but the OpenAPI document does not declare it (docs/fidelity.md).
    contract: bool = True

    @property
    def name(self) -> str:
        """The Python (snake_case) name."""
        return self.python or to_snake(self.wire)

    @property
    def column_name(self) -> str:
        return self.column or self.name

    @property
    def known_categories(self) -> tuple[str, ...]:
        return self.categories or self.values


@dataclass(frozen=True)
class Schema:
    """A wire type: its fields in the order Codat's document lists them (and the wire order).

    ``frame_order`` lists the DataFrame's leading columns (derived ones included); any other
    column follows in field order, so a new field needs no second edit.
    """

    name: str
    fields: tuple[Field, ...]
    frame_order: tuple[str, ...] = ()
    extra_allowed: bool = True  # the document's additionalProperties

    @cached_property
    def by_wire(self) -> dict[str, Field]:
        return {f.wire: f for f in self.fields}

    @cached_property
    def wire_names(self) -> tuple[str, ...]:
        return tuple(f.wire for f in self.fields)

    @cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(f.wire for f in self.fields if f.required)

    @cached_property
    def columns(self) -> tuple[Field, ...]:
        """The fields that are DataFrame columns, in field order."""
        return tuple(f for f in self.fields if f.dtype is not None)

    def frame_columns(self, derived: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Column names in frame order: ``frame_order``, then the rest in field order."""
        names = [f.column_name for f in self.columns] + list(derived)
        lead = [c for c in self.frame_order if c in names]
        return (*lead, *(c for c in names if c not in lead))


def _category_enum(wire: str, values: tuple[str, ...], label: str) -> Field:
    """A required enum shown as a category column (a connection's status, its source type)."""
    return Field(wire, ENUM, required=True, values=values, label=label, dtype=CATEGORY)


DATA_CONNECTION_ERROR = Schema(
    "DataConnectionError",
    (
        Field("statusCode", TEXT),
        Field("statusText", TEXT),
        Field("errorMessage", TEXT),
        Field("erroredOnUtc", DATETIME),
        Field("status", ENUM, nullable=True, values=ERROR_STATUSES, label="error status"),
        Field("resolvedOnUtc", DATETIME, nullable=True),
    ),
)

CONNECTION = Schema(
    "Connection",
    (
        Field("id", TEXT, required=True, dtype=STR),
        Field("integrationId", TEXT, required=True, dtype=STR),
        Field("integrationKey", TEXT, dtype=CATEGORY, categories=PLATFORM_KEYS),
        Field("sourceId", TEXT, required=True, dtype=STR),
        _category_enum("sourceType", SOURCE_TYPES, "source type"),
        Field("platformName", TEXT, required=True, dtype=CATEGORY, categories=PLATFORM_NAMES),
        Field("linkUrl", TEXT, required=True, dtype=STR),
        _category_enum("status", CONNECTION_STATUSES, "connection status"),
        Field("lastSync", DATETIME, nullable=True, dtype=UTC_DATETIME),
        Field("created", DATETIME, required=True, dtype=UTC_DATETIME),
        Field(
            "dataConnectionErrors",
            LIST,
            nullable=True,
            item=DATA_CONNECTION_ERROR,
            dtype=PYOBJECT,
        ),
        Field("connectionInfo", OBJECT, nullable=True, dtype=PYOBJECT),
    ),
    frame_order=(
        "id",
        "platform_name",
        "integration_key",
        "source_type",
        "status",
        "created",
        "last_sync",
        "error_count",
        "latest_error",
        "link_url",
        "integration_id",
        "source_id",
        "data_connection_errors",
        "connection_info",
    ),
    extra_allowed=False,
)

COMPANY_REFERENCE = Schema(
    "CompanyReference",
    (
        Field("id", TEXT),
        Field("name", TEXT),
        Field("description", TEXT, nullable=True),
        Field("links", OBJECT),
        Field("tags", OBJECT, item=TEXT),
    ),
)

COMPANY = Schema(
    "Company",
    (
        Field("id", TEXT, required=True, dtype=STR, column="company_id"),
        Field("name", TEXT, required=True, dtype=STR, column="company_name"),
        Field("description", TEXT, nullable=True, dtype=STR),
        Field("redirect", TEXT, required=True),
        Field("lastSync", DATETIME, nullable=True, dtype=UTC_DATETIME),
        Field("created", DATETIME, dtype=UTC_DATETIME),
        Field("createdByUserName", TEXT, nullable=True),
        Field("products", LIST, item=TEXT),
        Field("tags", OBJECT, item=TEXT),
        # In every company response, says the managing-companies guide; later documents have it.
        Field("ownerUserIds", LIST, item=TEXT, contract=False),
        Field("referenceParentCompany", MODEL, nullable=True, item=COMPANY_REFERENCE),
        Field("referenceSubsidiaryCompanies", LIST, item=COMPANY_REFERENCE),
        Field("dataConnections", LIST, item=CONNECTION),
    ),
    frame_order=(
        "company_id",
        "company_name",
        "description",
        "created",
        "last_sync",
        "connection_count",
    ),
)

VALIDATION_ITEM = Schema(
    "ValidationItem",
    (
        Field("itemId", TEXT, nullable=True),
        Field("message", TEXT, nullable=True),
        Field("validatorName", TEXT, nullable=True),
    ),
)

ERROR_VALIDATION = Schema(
    "ErrorValidation",
    (
        Field("errors", LIST, nullable=True, item=VALIDATION_ITEM),
        Field("warnings", LIST, nullable=True, item=VALIDATION_ITEM),
    ),
)

ERROR_MESSAGE = Schema(
    "ErrorMessage",
    (
        Field("statusCode", INTEGER),
        Field("service", TEXT),
        Field("error", TEXT),
        Field("correlationId", TEXT),
        Field("validation", MODEL, nullable=True, item=ERROR_VALIDATION),
        Field("canBeRetried", TEXT),
        Field("detailedErrorCode", INTEGER),
    ),
)

#: The envelope of every listing (``Connections``, ``Companies``): results plus PagingInfo.
PAGE = Schema(
    "Page",
    (
        Field("results", LIST),
        Field("pageNumber", INTEGER, required=True),
        Field("pageSize", INTEGER, required=True),
        Field("totalResults", INTEGER, required=True),
        Field("_links", OBJECT, required=True, python="links"),
    ),
)
