"""Argument checks run before any request: bad input fails fast, names itself, changes nothing."""

from __future__ import annotations

import difflib
import re
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic.alias_generators import to_camel

from codat_nb.exceptions import CodatWarning
from codat_nb.platforms import PLATFORMS, is_platform_key, keys_for_name
from codat_nb.query import QueryError, compile_order, conditions
from codat_nb.wire.protocol import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_QUERY_LENGTH, UUID_TEXT
from codat_nb.wire.schema import Schema

#: Codat allows at most 10 concurrent requests per company.
MAX_CONCURRENCY = 10
#: How ``list_all`` reads the portfolio: from the companies listing, or company by company.
Strategy = Literal["embedded", "per_company"]
STRATEGIES: tuple[Strategy, ...] = ("embedded", "per_company")
#: How a listing makes sure of its rows: one walk whose page boundaries are checked, or walks
#: repeated until two consecutive ones agree (README, Pagination).
Consistency = Literal["checked", "verified"]
CONSISTENCIES: tuple[Consistency, ...] = ("checked", "verified")


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_id(name: str, value: Any) -> str:
    """A Codat id (a UUID) as its canonical lowercase string."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a UUID string, got {_type_name(value)}")
    if not UUID_TEXT.fullmatch(value):
        raise ValueError(
            f"{name} must be a UUID, got {value[:60]!r} (expected 8-4-4-4-12 hex digits)"
        )
    return value.lower()


def check_idempotency_key(value: Any) -> str | None:
    """A caller's own Idempotency-Key: a GUID, as Codat requires (None: one is made per call)."""
    return None if value is None else check_id("idempotency_key", value)


def check_platform_key(value: Any) -> str:
    """A platform key's shape (four lowercase letters); a platform's name in its place (``xero``)
    is refused with the key it means, since Codat would only answer that it does not know it."""
    if not isinstance(value, str):
        raise TypeError(f"platform_key must be a str, got {_type_name(value)}")
    shaped = is_platform_key(value)
    meant = keys_for_name(value, exact=shaped)  # a well-shaped unknown key may be new: sent
    if meant:
        choices = " or ".join(f"{key!r} ({PLATFORMS[key].name})" for key in meant)
        raise ValueError(f"platform_key {value[:60]!r} names a platform; its key is {choices}")
    if not shaped:
        raise ValueError(
            "platform_key must be four lowercase letters (e.g. 'gbol' for Xero), "
            f"got {value[:60]!r}"
        )
    return value


def _did_you_mean(prop: str, schema: Schema) -> str:
    """A hint for a property the schema does not have: a DataFrame column name (``last_sync``)
    or a near miss gets its wire name, anything else the list of properties."""
    head = prop.split(".")[0]
    by_lower = {name.lower(): name for name in schema.wire_names}
    guess = by_lower.get(to_camel(head).lower()) or by_lower.get(head.replace("_", "").lower())
    close = difflib.get_close_matches(head, schema.wire_names, n=1)
    if guess or close:
        return f"; did you mean `{guess or close[0]}`?"
    return f"; {schema.name} properties are: {', '.join(schema.wire_names)}"


def _query_error(name: str, exc: QueryError, schema: Schema) -> ValueError:
    hint = _did_you_mean(exc.unknown, schema) if exc.unknown else ""
    return ValueError(f"{name}: {exc}{hint}")


#: ``and``/``or`` between conditions (followed by ``property op``): a join Codat reads as part
#: of the value before it, so the query matches nothing.
_WORD_JOIN = re.compile(
    r"\s+(and|or)\s+(?=[A-Za-z_][\w.]*\s*(?:!=|>=|<=|=|~|>|<))", flags=re.IGNORECASE
)


def _check_joins(query: str) -> None:
    if _WORD_JOIN.search(query) is None:
        return
    meant = _WORD_JOIN.sub(lambda m: " && " if m.group(1).lower() == "and" else " || ", query)
    raise ValueError(
        f"query {query[:200]!r} joins conditions with 'and'/'or'; Codat's query language "
        f"uses && and ||: did you mean {meant[:200]!r}?"
    )


def check_query(value: Any, schema: Schema | None = None, arrays: bool = False) -> str | None:
    """A query string; with ``schema``, read before anything is sent.

    A property the schema lacks is refused (with "did you mean"); a value that is not one of a
    field's documented values (``status=Linkd``) gets a CodatWarning, since it matches nothing.
    Malformed grammar is left to Codat, whose 400 names the problem.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"query must be a str or None, got {_type_name(value)}")
    if not value.strip():
        raise ValueError("query must not be blank; pass None to list everything")
    _check_joins(value)
    if len(value) > MAX_QUERY_LENGTH:
        raise ValueError(
            f"query is {len(value)} characters long; Codat accepts at most {MAX_QUERY_LENGTH}"
        )
    if schema is not None:
        try:
            found = conditions(value, schema, arrays=arrays)
        except QueryError as exc:
            if exc.unknown:  # a property Codat has not got: say which one was meant
                raise _query_error("query", exc, schema) from None
            return value  # the grammar is Codat's to judge: its 400 names the problem
        for condition in found:
            field = condition.field
            if (
                field
                and field.values
                and condition.op in ("=", "!=")
                and (condition.value not in field.values)
            ):
                warnings.warn(
                    f"query: {condition.value!r} is not a {field.label} Codat documents "
                    f"({', '.join(field.values)}), so {condition.path}{condition.op}"
                    f"{condition.value} matches {'nothing' if condition.op == '=' else 'all'}",
                    CodatWarning,
                    stacklevel=4,
                )
    return value


def check_order_by(value: Any, schema: Schema | None = None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"order_by must be a str or None, got {_type_name(value)}")
    if not value.strip() or any(ch.isspace() for ch in value):
        raise ValueError(f"order_by must be one field name, optionally with '-', got {value!r}")
    if schema is not None:
        try:
            compile_order(value, schema)
        except QueryError as exc:
            if exc.unknown:
                raise _query_error("order_by", exc, schema) from None
    return value


def _check_int(name: str, value: Any, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_type_name(value)}")
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value


def check_page_size(value: Any) -> int:
    return _check_int("page_size", value, 1, MAX_PAGE_SIZE)


def check_limit(value: Any) -> int | None:
    return None if value is None else _check_int("limit", value, 1, None)


def check_concurrency(value: Any, cap: int = MAX_CONCURRENCY, name: str = "concurrency") -> int:
    """1..cap parallel requests; ``cap`` is the client's max_concurrency (at most Codat's 10)."""
    if cap < MAX_CONCURRENCY and isinstance(value, int) and value > cap:
        raise ValueError(
            f"{name} must be 1..{cap} (the client's max_concurrency; create the client with "
            f"max_concurrency up to {MAX_CONCURRENCY} for more), got {value}"
        )
    return _check_int(name, value, 1, MAX_CONCURRENCY)


def concurrency_or_default(value: Any, cap: int) -> int:
    """A call's ``concurrency=``: checked against the client's max_concurrency, which is also
    the default."""
    return cap if value is None else check_concurrency(value, cap)


def check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_type_name(value)}")
    return value


def check_strategy(value: Any) -> Strategy:
    if value not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {value!r}")
    return cast(Strategy, value)


def check_consistency(value: Any, limit: int | None) -> Consistency:
    """``"checked"`` or ``"verified"``; verified lists every row (two walks that agree show
    the whole listing at one moment, which the first ``limit`` rows of it cannot)."""
    if value not in CONSISTENCIES:
        raise ValueError(f"consistency must be one of {CONSISTENCIES}, got {value!r}")
    if value == "verified" and limit is not None:
        raise ValueError(
            "consistency='verified' lists every row and cannot be combined with limit; "
            "drop limit= (or use the default consistency='checked')"
        )
    return cast(Consistency, value)


def check_progress(value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"progress must be True, False or None, got {_type_name(value)}")
    return value


@dataclass(frozen=True)
class ListingArgs:
    """A listing's arguments, checked once (``check``): what to ask for and how to walk.

    The walker owns ``page_size`` from here on; ``params(n)`` is page n's query string.
    """

    query: str | None = None
    order_by: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    limit: int | None = None
    concurrency: int = 1
    progress: bool | None = None
    check_quota: bool = True
    consistency: Consistency = "checked"

    @classmethod
    def check(
        cls,
        schema: Schema | None = None,
        max_concurrency: int = 1,
        query: Any = None,
        order_by: Any = None,
        page_size: Any = None,
        limit: Any = None,
        concurrency: Any = None,
        progress: Any = None,
        check_quota: Any = True,
        consistency: Any = "checked",
    ) -> ListingArgs:
        """A listing's arguments as the user gave them, checked (against ``schema``'s fields:
        a Company query may look into ``dataConnections``, as Codat documents).

        ``page_size`` None: the largest Codat serves (fewest requests; one atomic page for
        most listings). ``limit`` also bounds the page size, so ``limit=10`` asks for 10 rows.
        """
        size = MAX_PAGE_SIZE if page_size is None else check_page_size(page_size)
        limit = check_limit(limit)
        arrays = schema is not None and schema.name == "Company"
        return cls(
            query=check_query(query, schema, arrays),
            order_by=check_order_by(order_by, schema),
            page_size=size if limit is None else min(size, limit),
            limit=limit,
            concurrency=concurrency_or_default(concurrency, max_concurrency),
            progress=check_progress(progress),
            check_quota=check_flag("check_quota", check_quota),
            consistency=check_consistency(consistency, limit),
        )

    def params(self, page: int, size: int | None = None) -> dict[str, Any]:
        """Page ``page``'s query string, of ``size`` rows (by default the page size)."""
        params: dict[str, Any] = {"page": page, "pageSize": size or self.page_size}
        if self.query is not None:
            params["query"] = self.query
        if self.order_by is not None:
            params["orderBy"] = self.order_by
        return params


def check_text(name: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_type_name(value)}")
    if not optional and not value.strip():
        raise ValueError(f"{name} must not be blank")
    return value
