"""The one gate every row from Codat passes, whatever reads it (``get``, ``iter``, ``list``).

``check_rows`` accepts or refuses a wire shape the same way for one row or ten thousand: required
fields present and not null, each value of its declared JSON type, dates that parse (with the
same parser the DataFrames use), nested objects checked the same way. An empty string where a
date belongs is read as null (Codat has sent both), a null array the document does not allow
as empty. A refusal is a CodatError naming the row
and the field, never a half-built result. Column-wise, so a big listing pays little for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import pandas as pd

from codat_nb.exceptions import CodatError
from codat_nb.wire import schema as s
from codat_nb.wire.dates import to_utc_datetimes

Row = dict[str, Any]
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    s.TEXT: (str,),
    s.ENUM: (str,),
    s.DATETIME: (str,),
    s.INTEGER: (int,),
    s.OBJECT: (dict,),
    s.MODEL: (dict,),
    s.LIST: (list,),
}
_TYPE_NAMES = {s.OBJECT: "an object", s.MODEL: "an object", s.LIST: "an array"}


def _refuse(schema: s.Schema, what: str, rows: Sequence[Any], index: int, problem: str) -> None:
    row = rows[index]
    ident = row.get("id") if isinstance(row, dict) else None
    where = [what] if len(rows) == 1 else [what, f"row {index + 1}"]
    if isinstance(ident, str):
        where.append(f"id {ident}")
    raise CodatError(f"Codat sent an invalid {schema.name} ({', '.join(where)}): {problem}")


def dates(schema: s.Schema, field: s.Field, values: list[Any], what: str) -> pd.Series:
    """A date column parsed as the DataFrames hold it; a value that is not a date is refused."""
    try:
        return to_utc_datetimes(field.column_name, values)
    except ValueError as exc:
        raise CodatError(
            f"Codat sent an invalid {schema.name} ({what}): {field.wire}: {exc}"
        ) from None


def check_rows(
    schema: s.Schema,
    rows: Sequence[Any],
    what: str,
    *,
    parse_dates: bool = True,
    shallow: frozenset[str] = frozenset(),
) -> dict[str, list[Any]]:
    """Refuse (CodatError) any row that is not a valid ``schema``; normalises '' dates to null
    and a null array the document does not allow to an empty one.

    Returns the rows' values by wire name, so a caller building columns reads each row once.
    ``parse_dates=False`` leaves date parsing to the caller, who must use ``dates()`` (the
    DataFrames do, so each date is parsed once). Fields named in ``shallow`` are checked as
    arrays or objects, their items left to the caller's own ``check_rows`` (the portfolio
    checks every company's connections in one pass).
    """
    columns: dict[str, list[Any]] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            _refuse(schema, what, rows, index, f"expected an object, got {type(row).__name__}")
    for field in schema.fields:
        values = list(map(dict.get, rows, repeat(field.wire)))  # every row is a dict (above)
        if field.kind == s.DATETIME and "" in values:  # '' where a date belongs: null
            for row in rows:
                if row.get(field.wire) == "":
                    row[field.wire] = None
            values = [row.get(field.wire) for row in rows]
        elif field.kind == s.LIST and not field.nullable and None in values:
            for row in rows:  # a null array the document does not allow: empty
                if field.wire in row and row[field.wire] is None:
                    row[field.wire] = []
            values = [row.get(field.wire) for row in rows]
        allowed = set(_JSON_TYPES[field.kind]) | (set() if field.required else {type(None)})
        if not set(map(type, values)) <= allowed:  # C speed; the loop only finds the culprit
            for index, value in enumerate(values):
                if value is None and field.required:
                    _refuse(schema, what, rows, index, f"{field.wire} is missing")
                if type(value) not in allowed:
                    expected = _TYPE_NAMES.get(field.kind, _JSON_TYPES[field.kind][0].__name__)
                    problem = f"{field.wire} should be {expected}, got {type(value).__name__}"
                    _refuse(schema, what, rows, index, problem)
        if field.item == s.TEXT:  # an array of strings, or an object of string values
            items = [
                item
                for v in values
                if v is not None
                for item in (v.values() if isinstance(v, dict) else v)
            ]
            if not set(map(type, items)) <= {str}:
                bad = next(item for item in items if not isinstance(item, str))
                raise CodatError(
                    f"Codat sent an invalid {schema.name} ({what}): {field.wire} should hold "
                    f"strings, got {type(bad).__name__}"
                )
        if field.kind == s.DATETIME and parse_dates:
            dates(schema, field, values, what)
        elif isinstance(field.item, s.Schema) and field.wire not in shallow:
            nested = [v for v in values if v is not None]
            items = [item for v in nested for item in v] if field.kind == s.LIST else nested
            if items:
                check_rows(field.item, items, f"{what}, {field.wire}")
        columns[field.wire] = values
    return columns


def embedded_connections(company: Row) -> list[Row]:
    """The connections a Company carries (``dataConnections``; a null or missing one: none)."""
    connections: list[Row] = company.get("dataConnections") or []
    return connections
