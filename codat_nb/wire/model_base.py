"""What every pydantic model of the wire format shares (the models themselves are generated
from ``wire.schema`` into ``wire.models``): camelCase on the wire, snake_case attributes.

Parsing is lenient where Codat may move ahead of this code: an unknown enum value is kept as a
string (with one CodatWarning per value) and unknown properties are ignored, so a newer API never
breaks an analyst's notebook. A missing non-nullable array is empty; other optional fields None.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from codat_nb.exceptions import CodatError, CodatWarning
from codat_nb.wire import schema as s
from codat_nb.wire.dates import parse_codat_datetime
from codat_nb.wire.rows import check_rows

_warned_enum_values: set[tuple[str, str]] = set()
Model = TypeVar("Model", bound="CodatModel")


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


def known_value(schema: s.Schema, wire: str) -> AfterValidator:
    """The check of an enum field: a value Codat documents, or one kept with a warning."""
    field = schema.by_wire[wire]
    return AfterValidator(lambda value: known_or_warn(field.label, value, field.values))


class CodatModel(BaseModel):
    #: The wire schema the model was generated from.
    __codat_schema__: ClassVar[s.Schema]

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict Codat would send (camelCase, optional fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_model(model: type[Model], body: Any, what: str) -> Model:
    """Validate a response body, turning a malformed answer into a CodatError (not a traceback).

    The body passes ``wire.rows.check_rows`` first, the gate listings use too, so a single
    read and a listing accept and refuse exactly the same shapes.
    """
    check_rows(model.__codat_schema__, [body], what)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        name = model.__codat_schema__.name
        raise CodatError(
            f"Codat sent an invalid {name} ({what}): {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from None
