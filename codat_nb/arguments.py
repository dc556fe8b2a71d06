"""Argument checks run before any request: bad input fails fast, names itself, changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from codat_nb.platforms import is_platform_key
from codat_nb.wire.protocol import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_QUERY_LENGTH, UUID_TEXT

#: Codat allows at most 10 concurrent requests per company.
MAX_CONCURRENCY = 10


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
    if not isinstance(value, str):
        raise TypeError(f"platform_key must be a str, got {_type_name(value)}")
    if not is_platform_key(value):
        raise ValueError(
            "platform_key must be four lowercase letters (e.g. 'gbol' for Xero), "
            f"got {value[:60]!r}"
        )
    return value


def check_query(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"query must be a str or None, got {_type_name(value)}")
    if not value.strip():
        raise ValueError("query must not be blank; pass None to list everything")
    if len(value) > MAX_QUERY_LENGTH:
        raise ValueError(
            f"query is {len(value)} characters long; Codat accepts at most {MAX_QUERY_LENGTH}"
        )
    return value


def check_order_by(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"order_by must be a str or None, got {_type_name(value)}")
    if not value.strip() or any(ch.isspace() for ch in value):
        raise ValueError(f"order_by must be one field name, optionally with '-', got {value!r}")
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

    @classmethod
    def check(
        cls,
        *,
        query: Any = None,
        order_by: Any = None,
        page_size: Any = DEFAULT_PAGE_SIZE,
        limit: Any = None,
        concurrency: Any = None,
        progress: Any = None,
        max_concurrency: int = 1,
    ) -> ListingArgs:
        return cls(
            query=check_query(query),
            order_by=check_order_by(order_by),
            page_size=check_page_size(page_size),
            limit=check_limit(limit),
            concurrency=concurrency_or_default(concurrency, max_concurrency),
            progress=check_progress(progress),
        )

    def params(self, page: int) -> dict[str, Any]:
        params: dict[str, Any] = {"page": page, "pageSize": self.page_size}
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
