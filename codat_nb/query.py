"""Codat's query language and ``orderBy``, evaluated over wire-format dicts.

One engine for both sides: the sandbox filters with it, and the client uses it to check a
query before sending and to filter rows locally. Properties come from ``wire.schema``.
Decisions (Codat's public docs leave these open):
- property names match case-insensitively (``Status`` finds ``status``), as Codat's .NET API does;
- ``=`` and ``!=`` compare strings case-sensitively; ``~`` (contains) ignores case;
- ``>``, ``<``, ``>=``, ``<=`` work on dates and numbers only; dates are compared as instants
  (``Z``, offsets and 7-digit fractions all understood; an unqualified time is taken as UTC);
- a missing or null value never matches, not even ``!=``;
- arrays cannot be queried, unless the caller allows ``array.property`` (true when any element
  matches; for ``!=``, when no element equals), as Codat documents for
  ``dataConnections.status`` on companies (its "companies with no connections" example joins
  four ``!=`` with ``&&``);
- a value runs to the next ``&&``, ``||``, ``}`` or the end and is trimmed; wrap it in double
  quotes to keep those characters (``name="A && B"``); ``&&`` binds tighter than ``||``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from codat_nb.wire import schema as s
from codat_nb.wire.dates import as_instant
from codat_nb.wire.protocol import MAX_QUERY_LENGTH

R = TypeVar("R", bound=Mapping[str, Any])  # a wire row

STRING, DATE, NUMBER, ARRAY, OBJECT, DYNAMIC = (
    "string",
    "date",
    "number",
    "array",
    "object",
    "dynamic",
)
_QUERY_KINDS = {
    s.TEXT: STRING,
    s.ENUM: STRING,
    s.DATETIME: DATE,
    s.INTEGER: NUMBER,
    s.OBJECT: OBJECT,
    s.MODEL: OBJECT,
    s.LIST: ARRAY,
}

#: Braces nested deeper than this are refused (each level costs stack; nothing real needs it).
MAX_NESTING = 32
_ORDERING_OPS = (">", "<", ">=", "<=")
_OPS = ("!=", ">=", "<=", "=", "~", ">", "<")
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class QueryError(ValueError):
    """A query or orderBy that cannot be understood; the message names the problem."""

    def __init__(self, message: str, item_id: str = "query", unknown: str | None = None):
        super().__init__(message)
        self.item_id = item_id
        self.unknown = unknown  # the property that could not be resolved, if that was it


@dataclass(frozen=True)
class _Path:
    """A resolved property path: canonical names and the kind of value found there."""

    names: tuple[str, ...]
    kind: str
    field: s.Field | None = None  # the schema's field at the end of the path, if known

    @property
    def text(self) -> str:
        return ".".join(self.names)

    def get(self, row: Mapping[str, Any]) -> Any:
        value: Any = row
        for name in self.names:
            if not isinstance(value, Mapping):
                return None
            value = value.get(name)
        return value


@dataclass(frozen=True)
class _ArrayPath:
    """``array.property``: true when any element of the array matches at ``inner``."""

    array: _Path
    inner: _Path

    @property
    def text(self) -> str:
        return f"{self.array.text}.{self.inner.text}"


def _resolve(
    prop: str, schema: s.Schema | None, resource: str, item_id: str, arrays: bool = False
) -> _Path | _ArrayPath:
    """Resolve a dotted property against a schema (None: free-form, anything goes)."""
    head, *rest = prop.split(".")
    if schema is None:
        return _Path((head, *rest), DYNAMIC)
    canonical = {name.lower(): name for name in schema.wire_names}.get(head.lower())
    if canonical is None:
        raise QueryError(f"Could not resolve property {prop} on {resource}", item_id, prop)
    field = schema.by_wire[canonical]
    kind = _QUERY_KINDS[field.kind]
    if kind == ARRAY:
        item = field.item if isinstance(field.item, s.Schema) else None
        if not (arrays and item is not None and rest):
            raise QueryError(
                f"{canonical} is an array; querying inside arrays is not supported", item_id
            )
        inner = _resolve(".".join(rest), item, resource, item_id)
        if isinstance(inner, _ArrayPath):
            raise QueryError(f"{prop}: only one array can be queried inside", item_id)
        return _ArrayPath(_Path((canonical,), ARRAY), inner)
    if kind == OBJECT:
        if not rest:
            raise QueryError(
                f"{canonical} is an object; name one of its properties, e.g. {canonical}.name",
                item_id,
            )
        nested = field.item if isinstance(field.item, s.Schema) else None
        inner = _resolve(".".join(rest), nested, resource, item_id)
        if isinstance(inner, _ArrayPath):
            raise QueryError(f"{prop}: querying inside arrays is not supported", item_id)
        return _Path((canonical, *inner.names), inner.kind, inner.field)
    if rest:
        raise QueryError(f"Could not resolve property {prop} on {resource}", item_id, prop)
    return _Path((canonical,), kind, field)


Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Condition:
    """One ``property op value`` of a query, with the schema field it compares (if known)."""

    path: str
    op: str
    value: str
    field: s.Field | None


_COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def _compare(ordered: Any, value: Any, op: str) -> bool:
    return bool(_COMPARE[op](ordered, value))


def _comparison(path: _Path | _ArrayPath, op: str, raw: str) -> Predicate:
    """Build the test for one ``property op value``; type errors are raised here, not per row."""
    if isinstance(path, _ArrayPath):
        negated = op == "!="
        inner, array = _comparison(path.inner, "=" if negated else op, raw), path.array

        def test(row: Mapping[str, Any]) -> bool:
            items = array.get(row)
            if not isinstance(items, list):  # missing or null: never matches, not even !=
                return False
            return negated != any(isinstance(item, Mapping) and inner(item) for item in items)

        return test
    if path.kind == STRING:
        if op in _ORDERING_OPS:
            raise QueryError(
                f"Operator {op} compares numbers and dates; {path.text} is a string "
                "(use =, != or ~)"
            )
        return _string_test(path, op, raw)
    if path.kind == DATE:
        if op == "~":
            raise QueryError(f"Operator ~ (contains) is for strings; {path.text} is a date")
        wanted = as_instant(raw)
        if wanted is None:
            raise QueryError(f"{raw!r} is not a date (comparing {path.text})")

        def date_test(row: Mapping[str, Any]) -> bool:
            value = path.get(row)
            instant = as_instant(value) if isinstance(value, str) else None
            return instant is not None and _compare(instant, wanted, op)

        return date_test
    return _dynamic_test(path, op, raw)


def _string_test(path: _Path, op: str, raw: str) -> Predicate:
    if op == "~":
        needle = raw.lower()
        return lambda row: isinstance(v := path.get(row), str) and needle in v.lower()
    if op == "=":
        return lambda row: isinstance(v := path.get(row), str) and v == raw
    return lambda row: isinstance(v := path.get(row), str) and v != raw


def _dynamic_test(path: _Path, op: str, raw: str) -> Predicate:
    """Free-form sub-properties (connectionInfo.x, tags.x): the stored JSON type decides."""
    number = float(raw) if _NUMBER.fullmatch(raw) else None
    instant = as_instant(raw) if op in _ORDERING_OPS else None
    strings = _string_test(path, op, raw)

    def test(row: Mapping[str, Any]) -> bool:
        value = path.get(row)
        if value is None or isinstance(value, (list, dict)):
            return False
        if isinstance(value, bool):
            return op in ("=", "!=") and _compare(str(value).lower(), raw.lower(), op)
        if isinstance(value, (int, float)):
            return number is not None and op != "~" and _compare(float(value), number, op)
        if op in _ORDERING_OPS:
            have = as_instant(value)
            return have is not None and instant is not None and _compare(have, instant, op)
        return strings(row)

    return test


class _Parser:
    """Recursive descent over the query text; every error says where and what."""

    def __init__(self, text: str, schema: s.Schema | None, resource: str, arrays: bool = False):
        self.text, self.schema, self.resource, self.arrays = text, schema, resource, arrays
        self.pos = 0
        self.depth = 0
        self.conditions: list[Condition] = []

    def fail(self, what: str) -> QueryError:
        near = self.text[self.pos : self.pos + 20] or "end of query"
        return QueryError(f"Malformed query - {what} at position {self.pos} (near {near!r})")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def take(self, token: str) -> bool:
        self.skip_space()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.expression()
        self.skip_space()
        if self.pos != len(self.text):
            raise self.fail("expected && or || or end")
        return predicate

    def expression(self) -> Predicate:
        terms = [self.term()]
        while self.take("||"):
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else (lambda row: any(t(row) for t in terms))

    def term(self) -> Predicate:
        factors = [self.factor()]
        while self.take("&&"):
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else (lambda row: all(f(row) for f in factors))

    def factor(self) -> Predicate:
        if self.take("{"):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.fail(f"braces nested more than {MAX_NESTING} deep")
            inner = self.expression()
            if not self.take("}"):
                raise self.fail("expected }")
            self.depth -= 1
            return inner
        self.skip_space()
        match = _PROPERTY.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a property name")
        self.pos = match.end()
        path = _resolve(match.group(), self.schema, self.resource, "query", self.arrays)
        self.skip_space()
        op = next((o for o in _OPS if self.text.startswith(o, self.pos)), None)
        if op is None:
            raise self.fail(f"expected an operator (=, !=, ~, >, <, >=, <=) after {match.group()}")
        self.pos += len(op)
        raw = self.value(match.group() + op)
        leaf = path.inner if isinstance(path, _ArrayPath) else path
        self.conditions.append(Condition(path.text, op, raw, leaf.field))
        return _comparison(path, op, raw)

    def value(self, after: str) -> str:
        self.skip_space()
        if self.text.startswith('"', self.pos):
            end = self.text.find('"', self.pos + 1)
            if end < 0:
                raise self.fail("unterminated quoted value")
            raw, self.pos = self.text[self.pos + 1 : end], end + 1
            return raw
        stops = [self.text.find(stop, self.pos) for stop in ("&&", "||", "}")]
        end = min([at for at in stops if at >= 0], default=len(self.text))
        raw = self.text[self.pos : end].strip()
        if not raw:
            raise self.fail(f"missing value after {after}")
        if raw.startswith("="):  # status==Linked: a C habit, never a real value
            raise self.fail(f"unexpected = after {after} (use a single = for equality)")
        self.pos = end
        return raw


def compile_query(text: str, schema: s.Schema, *, arrays: bool = False) -> Predicate:
    """Compile ``text`` once into a row predicate; raises QueryError for anything malformed.

    ``arrays`` allows ``array.property`` conditions (any element matches).
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"query is {len(text)} characters; the limit is {MAX_QUERY_LENGTH}")
    if not text.strip():
        raise QueryError("Malformed query - the query is empty")
    return _Parser(text, schema, schema.name, arrays).parse()


def conditions(text: str, schema: s.Schema, *, arrays: bool = False) -> list[Condition]:
    """The ``property op value`` comparisons of a query (checked as ``compile_query`` does)."""
    if len(text) > MAX_QUERY_LENGTH or not text.strip():
        compile_query(text, schema, arrays=arrays)  # raises the same QueryError
    parser = _Parser(text, schema, schema.name, arrays)
    parser.parse()
    return parser.conditions


def compile_tags_filter(text: str) -> Predicate:
    """The list-companies ``tags`` parameter: the same language over each company's tags."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"tags is {len(text)} characters; the limit is {MAX_QUERY_LENGTH}", "tags")
    try:
        predicate = _Parser(text, None, "Tags").parse()
    except QueryError as exc:
        raise QueryError(str(exc), "tags") from None
    return lambda company: predicate(company.get("tags") or {})


@dataclass(frozen=True)
class Ordering:
    """A parsed ``orderBy``: which path and which direction."""

    path: _Path
    descending: bool

    def key(self, row: Mapping[str, Any]) -> tuple[int, Any] | None:
        value = self.path.get(row)
        if value is None or isinstance(value, (list, dict)):
            return None
        if self.path.kind == DATE or (self.path.kind == DYNAMIC and isinstance(value, str)):
            instant = as_instant(value) if self.path.kind == DATE or len(value) >= 10 else None
            if instant is not None:
                return (1, instant)
        if isinstance(value, (int, float)):
            return (0, float(value))
        return (2, str(value))


def compile_order(text: str, schema: s.Schema) -> Ordering:
    """Parse ``field`` or ``-field``; unknown or unorderable properties raise QueryError."""
    spec = text.strip()
    descending = spec.startswith("-")
    prop = spec[1:].strip() if descending else spec
    if not _PROPERTY.fullmatch(prop):
        raise QueryError(
            f"orderBy {text!r} is not a property name (use field or -field)", "orderBy"
        )
    path = _resolve(prop, schema, schema.name, "orderBy")  # arrays refused: always a _Path
    assert isinstance(path, _Path)
    return Ordering(path, descending)


def order_rows(rows: Iterable[R], ordering: Ordering) -> list[R]:
    """Sort by the ordering, ties broken by ascending id; rows without a value come last."""
    by_id = sorted(rows, key=lambda row: row["id"])
    keyed = [(ordering.key(row), row) for row in by_id]
    present = [(key, row) for key, row in keyed if key is not None]
    present.sort(key=lambda pair: pair[0], reverse=ordering.descending)
    return [row for _, row in present] + [row for key, row in keyed if key is None]
