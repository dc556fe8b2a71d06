"""Codat's query language and ``orderBy``, evaluated over wire-format dicts.

Kept apart from the store so the rules of the language can be tested without HTTP or state.
Decisions (Codat's public docs leave these open):
- property names match case-insensitively (``Status`` finds ``status``), as Codat's .NET API does;
- ``=`` and ``!=`` compare strings case-sensitively; ``~`` (contains) ignores case;
- ``>``, ``<``, ``>=``, ``<=`` work on dates and numbers only; dates are compared as instants
  (``Z``, offsets and 7-digit fractions all understood; an unqualified time is taken as UTC);
- a missing or null value never matches, not even ``!=``; arrays cannot be queried;
- a value runs to the next ``&&``, ``||``, ``}`` or the end and is trimmed; wrap it in double
  quotes to keep those characters (``name="A && B"``); ``&&`` binds tighter than ``||``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from codat_nb.models import parse_codat_datetime

MAX_QUERY_LENGTH = 2048

STRING, DATE, ARRAY, OBJECT, DYNAMIC = "string", "date", "array", "object", "dynamic"

#: Queryable shape of each resource: top-level property -> kind.
CONNECTION_FIELDS: dict[str, str] = {
    "id": STRING,
    "integrationId": STRING,
    "integrationKey": STRING,
    "sourceId": STRING,
    "sourceType": STRING,
    "platformName": STRING,
    "linkUrl": STRING,
    "status": STRING,
    "lastSync": DATE,
    "created": DATE,
    "dataConnectionErrors": ARRAY,
    "connectionInfo": OBJECT,
}
COMPANY_FIELDS: dict[str, str] = {
    "id": STRING,
    "name": STRING,
    "description": STRING,
    "redirect": STRING,
    "lastSync": DATE,
    "created": DATE,
    "createdByUserName": STRING,
    "products": ARRAY,
    "tags": OBJECT,
    "referenceParentCompany": OBJECT,
    "referenceSubsidiaryCompanies": ARRAY,
    "dataConnections": ARRAY,
}

_ORDERING_OPS = (">", "<", ">=", "<=")
_OPS = ("!=", ">=", "<=", "=", "~", ">", "<")
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class QueryError(ValueError):
    """A query or orderBy that cannot be understood; the message names the problem."""

    def __init__(self, message: str, item_id: str = "query"):
        super().__init__(message)
        self.item_id = item_id


@lru_cache(maxsize=262_144)
def as_instant(text: str) -> datetime | None:
    """A Codat date string as an aware UTC datetime (unqualified times read as UTC), or None."""
    try:
        value = parse_codat_datetime(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class _Path:
    """A resolved property path: canonical names and the kind of the top-level property."""

    names: tuple[str, ...]
    kind: str

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


def _resolve(prop: str, fields: Mapping[str, str], resource: str, item_id: str) -> _Path:
    head, *rest = prop.split(".")
    if DYNAMIC in fields:
        return _Path((head, *rest), DYNAMIC)
    canonical = {name.lower(): name for name in fields}.get(head.lower())
    if canonical is None:
        raise QueryError(f"Could not resolve property {prop} on {resource}", item_id)
    kind = fields[canonical]
    if kind == ARRAY:
        raise QueryError(
            f"{canonical} is an array; querying inside arrays is not supported", item_id
        )
    if kind == OBJECT:
        if not rest:
            raise QueryError(
                f"{canonical} is an object; name one of its properties, e.g. {canonical}.name",
                item_id,
            )
        return _Path((canonical, *rest), DYNAMIC)
    if rest:
        raise QueryError(f"Could not resolve property {prop} on {resource}", item_id)
    return _Path((canonical,), kind)


Predicate = Callable[[Mapping[str, Any]], bool]


def _compare(ordered: Any, value: Any, op: str) -> bool:
    if op == "=":
        return ordered == value
    if op == "!=":
        return ordered != value
    if op == ">":
        return ordered > value
    if op == "<":
        return ordered < value
    if op == ">=":
        return ordered >= value
    return ordered <= value


def _comparison(path: _Path, op: str, raw: str) -> Predicate:
    """Build the test for one ``property op value``; type errors are raised here, not per row."""
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

    def __init__(self, text: str, fields: Mapping[str, str], resource: str):
        self.text, self.fields, self.resource, self.pos = text, fields, resource, 0

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
            inner = self.expression()
            if not self.take("}"):
                raise self.fail("expected }")
            return inner
        self.skip_space()
        match = _PROPERTY.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a property name")
        self.pos = match.end()
        path = _resolve(match.group(), self.fields, self.resource, "query")
        self.skip_space()
        op = next((o for o in _OPS if self.text.startswith(o, self.pos)), None)
        if op is None:
            raise self.fail(f"expected an operator (=, !=, ~, >, <, >=, <=) after {match.group()}")
        self.pos += len(op)
        return _comparison(path, op, self.value(match.group() + op))

    def value(self, after: str) -> str:
        self.skip_space()
        if self.text.startswith('"', self.pos):
            end = self.text.find('"', self.pos + 1)
            if end < 0:
                raise self.fail("unterminated quoted value")
            raw, self.pos = self.text[self.pos + 1 : end], end + 1
            return raw
        stops = [self.text.find(s, self.pos) for s in ("&&", "||", "}")]
        end = min([s for s in stops if s >= 0], default=len(self.text))
        raw = self.text[self.pos : end].strip()
        if not raw:
            raise self.fail(f"missing value after {after}")
        if raw.startswith("="):  # status==Linked: a C habit, never a real value
            raise self.fail(f"unexpected = after {after} (use a single = for equality)")
        self.pos = end
        return raw


def compile_query(text: str, fields: Mapping[str, str], resource: str) -> Predicate:
    """Compile ``text`` once into a row predicate; raises QueryError for anything malformed."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"query is {len(text)} characters; the limit is {MAX_QUERY_LENGTH}")
    if not text.strip():
        raise QueryError("Malformed query - the query is empty")
    return _Parser(text, fields, resource).parse()


def compile_tags_filter(text: str) -> Predicate:
    """The list-companies ``tags`` parameter: the same language over each company's tags."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"tags is {len(text)} characters; the limit is {MAX_QUERY_LENGTH}", "tags")
    try:
        predicate = _Parser(text, {DYNAMIC: DYNAMIC}, "Tags").parse()
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


def compile_order(text: str, fields: Mapping[str, str], resource: str) -> Ordering:
    """Parse ``field`` or ``-field``; unknown or unorderable properties raise QueryError."""
    spec = text.strip()
    descending = spec.startswith("-")
    prop = spec[1:].strip() if descending else spec
    if not _PROPERTY.fullmatch(prop):
        raise QueryError(
            f"orderBy {text!r} is not a property name (use field or -field)", "orderBy"
        )
    return Ordering(_resolve(prop, fields, resource, "orderBy"), descending)


def order_rows(rows: Iterable[Mapping[str, Any]], ordering: Ordering) -> list:
    """Sort by the ordering, ties broken by ascending id; rows without a value come last."""
    by_id = sorted(rows, key=lambda row: row["id"])
    keyed = [(ordering.key(row), row) for row in by_id]
    present = [(key, row) for key, row in keyed if key is not None]
    present.sort(key=lambda pair: pair[0], reverse=ordering.descending)
    return [row for _, row in present] + [row for key, row in keyed if key is None]
