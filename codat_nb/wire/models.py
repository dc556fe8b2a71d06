"""Pydantic v2 models of the wire format, built from ``wire.schema`` (camelCase wire, snake_case
attributes).

Parsing is lenient where Codat may move ahead of this code: an unknown enum value is kept as a
string (with one CodatWarning per value) and unknown properties are ignored, so a newer API never
breaks an analyst's notebook. A missing non-nullable array is empty; other optional fields None.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from functools import partial
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    create_model,
)
from pydantic import Field as PydanticField
from pydantic.alias_generators import to_camel

from codat_nb.exceptions import CodatError, CodatWarning
from codat_nb.wire import schema as s
from codat_nb.wire.dates import parse_codat_datetime
from codat_nb.wire.rows import check_rows

_warned_enum_values: set[tuple[str, str]] = set()
Model = TypeVar("Model", bound=BaseModel)


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


def _enum(field: s.Field) -> Any:
    check = partial(known_or_warn, field.label, known=field.values)
    return Annotated[str, AfterValidator(lambda value: check(value))]


def _annotation(field: s.Field) -> Any:
    kind = field.kind
    if kind == s.ENUM:
        return _enum(field)
    if kind == s.DATETIME:
        return CodatDatetime
    if kind == s.INTEGER:
        return int
    if kind == s.OBJECT:
        return dict[str, str] if field.item == s.TEXT else dict[str, Any]
    if kind == s.MODEL:
        return model_for(field.item)  # type: ignore[arg-type]
    if kind == s.LIST:
        return list[str] if field.item in (s.TEXT, None) else list[model_for(field.item)]  # type: ignore[arg-type,misc]
    return str


def _definition(field: s.Field) -> tuple[Any, Any]:
    annotation = _annotation(field)
    alias = PydanticField(alias=field.wire)
    if field.required:
        return annotation, alias
    if field.kind == s.LIST and not field.nullable:
        return annotation, PydanticField(default_factory=list, alias=field.wire)
    return annotation | None, PydanticField(default=None, alias=field.wire)


_models: dict[str, type[CodatModel]] = {}


def model_for(schema: s.Schema) -> type[CodatModel]:
    """The (cached) pydantic model of a wire schema."""
    model = _models.get(schema.name)
    if model is None:
        fields = {f.name: _definition(f) for f in schema.fields}
        model = create_model(schema.name, __base__=CodatModel, __module__=__name__, **fields)
        model.__doc__ = f"Codat's {schema.name}, as declared in ``codat_nb.wire.schema``."
        model.__codat_schema__ = schema  # type: ignore[attr-defined]
        _models[schema.name] = model
    return model


DataConnectionError = model_for(s.DATA_CONNECTION_ERROR)
Connection = model_for(s.CONNECTION)
CompanyReference = model_for(s.COMPANY_REFERENCE)
Company = model_for(s.COMPANY)
ValidationItem = model_for(s.VALIDATION_ITEM)
ErrorValidation = model_for(s.ERROR_VALIDATION)
ErrorMessage = model_for(s.ERROR_MESSAGE)


def parse_model(model: type[Model], body: Any, what: str) -> Model:
    """Validate a response body, turning a malformed answer into a CodatError (not a traceback).

    The body passes ``wire.rows.check_rows`` first, the gate listings use too, so a single
    read and a listing accept and refuse exactly the same shapes.
    """
    check_rows(model.__codat_schema__, [body], what)  # type: ignore[attr-defined]
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        name = model.__codat_schema__.name  # type: ignore[attr-defined]
        raise CodatError(
            f"Codat sent an invalid {name} ({what}): {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from None
