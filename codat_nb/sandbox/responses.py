"""How the sandbox writes its answers: JSON bodies, empty answers, pages with ``_links``, and
answers kept to be replayed for a repeated Idempotency-Key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request, Response

from codat_nb.sandbox.parsing import echoed
from codat_nb.sandbox.views import PageResult

#: The query arguments a listing's links carry over.
_CARRIED = ("query", "orderBy", "tags")


def encode(body: Any) -> bytes:
    """JSON as Codat sends it: compact, UTF-8."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(encode(body), status, content_type="application/json")


def empty(status: int) -> Response:
    response = Response(b"", status)
    del response.headers["Content-Type"]
    if status == 204:  # RFC 9110: a 204 carries no Content-Length
        del response.headers["Content-Length"]
    return response


def paged(request: Request, result: PageResult, page: int, size: int) -> Response:
    """One page as Codat pages: the rows, the paging numbers and ``_links`` to the others."""
    carried = echoed(request, _CARRIED)

    def href(number: int) -> dict[str, str]:
        args = {"page": number, "pageSize": size, **carried}
        return {"href": f"{request.path}?{urlencode(args, quote_via=quote)}"}

    links = {"self": {"href": request.path}, "current": href(page)}
    if page * size < result.total:
        links["next"] = href(page + 1)
    if page > 1:
        links["previous"] = href(page - 1)
    body = {
        "results": result.results,
        "pageNumber": page,
        "pageSize": size,
        "totalResults": result.total,
        "_links": links,
    }
    return json_response(body)


@dataclass(frozen=True)
class Kept:
    """A response as first sent, to replay byte for byte for the same Idempotency-Key (the
    rate-limit headers excepted: they are today's)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, response: Response) -> Kept:
        headers = tuple((k, v) for k, v in response.headers.items() if not k.startswith("X-Rate"))
        return cls(response.status_code, response.get_data(), headers)

    def response(self) -> Response:
        response = Response(self.body, self.status)
        response.headers.clear()
        response.headers.extend(self.headers)
        return response
