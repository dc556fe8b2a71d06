"""What a request asks for, read and checked: query arguments, path ids, the body, headers.

Every query argument is read through ``arg_values``, so how a name is matched is decided in one
place: case-insensitively, as ASP.NET binds them (Codat's own guides write ``orderby=`` and
``PageSize=``). A bad value is an ``ApiError`` 400 naming the argument; nothing here touches the
store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request

from codat_nb.sandbox import errors
from codat_nb.sandbox.framing import BODY_KEY, Body, FramingError
from codat_nb.wire.protocol import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE, UUID_TEXT

_INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII only: int() takes any Unicode digit
#: More significant digits than this is beyond any bound (and int() of thousands is slow).
_MAX_DIGITS = 10


def arg_values(request: Request, name: str) -> list[str]:
    """Every value given for the query argument ``name``, whatever the (ASCII) case of its name:
    ``PageSize`` is ``pageSize``, while a look-alike such as the Kelvin sign is not a ``k``."""
    wanted = name.lower()
    return [
        value
        for key, value in request.args.items(multi=True)
        if key.isascii() and key.lower() == wanted
    ]


def has_arg(request: Request, name: str) -> bool:
    return bool(arg_values(request, name))


def str_arg(request: Request, name: str) -> str | None:
    """The argument's one value, None if it is not given; 400 if given more than once."""
    values = arg_values(request, name)
    if len(values) > 1:
        raise errors.invalid(name, f"give {name} once, got {len(values)} values", "Single")
    return values[0] if values else None


def int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    """The argument as an integer from ``low`` to ``high``, ``default`` if not given."""
    given = str_arg(request, name)
    if given is None:
        return default
    text = given.strip()
    if not _INTEGER.fullmatch(text):
        raise errors.invalid(name, f"must be an integer, got {given!r}", "Integer")
    in_range = len(text.lstrip("+-").lstrip("0")) <= _MAX_DIGITS and low <= int(text) <= high
    if not in_range:
        raise errors.invalid(name, f"must be from {low} to {high}, got {text}", "Range")
    return int(text)


def paging(request: Request) -> tuple[int, int]:
    """``page`` and ``pageSize``, checked against Codat's bounds."""
    page = int_arg(request, "page", 1, 1, MAX_PAGE)
    size = int_arg(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return page, size


def echoed(request: Request, names: Iterable[str]) -> dict[str, str]:
    """The first value of each of ``names`` given, to carry into a listing's links."""
    found = {name: arg_values(request, name) for name in names}
    return {name: values[0] for name, values in found.items() if values}


def path_id(item_id: str, value: str, service: str) -> str:
    """A UUID from the path, lower-cased; 400 naming ``item_id`` otherwise."""
    if not UUID_TEXT.fullmatch(value):
        raise errors.invalid(item_id, f"must be a UUID, got {value!r}", "UuidFormat", service)
    return value.lower()


def raw_body(request: Request) -> bytes:
    """The request body, read now (after authentication) within the server's cap."""
    body: Body | None = request.environ.get(BODY_KEY)
    if body is None:  # served by another WSGI server
        return request.get_data()
    try:
        return body.read()
    except FramingError as exc:
        raise errors.protocol_error(exc.status, exc.message) from None
    except TimeoutError:
        raise errors.protocol_error(408, "the request body took too long to arrive") from None


def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is missing or anything else."""
    raw = raw_body(request)
    if not raw.strip():
        raise errors.invalid("body", "a JSON object body is required", "Required")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise errors.invalid("body", f"is not valid JSON ({exc})", "Json") from None
    if not isinstance(body, dict):
        kind = type(body).__name__
        raise errors.invalid("body", f"must be a JSON object, got {kind}", "Type")
    try:  # JSON may escape half a UTF-16 pair; kept, no answer showing it could be encoded
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        message = f"holds a lone surrogate ({bad!a}), which is not Unicode text"
        raise errors.invalid("body", message, "Json") from None
    return body


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key (POST and PATCH only); it must be one GUID."""
    if request.method not in ("POST", "PATCH"):
        return None
    values = request.headers.getlist("Idempotency-Key")
    if not values:
        return None
    if len(values) > 1 or not UUID_TEXT.fullmatch(values[0].strip()):
        raise errors.invalid(
            "Idempotency-Key",
            f"must be one GUID (8-4-4-4-12 hex digits), got {', '.join(values)[:60]!r}",
            "IdempotencyKey",
        )
    return values[0].strip().lower()
