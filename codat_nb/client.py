"""The client object and ``connect()``: where credentials are resolved and then hidden."""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import TYPE_CHECKING, Any

import pandas as pd
import requests

from codat_nb.arguments import check_concurrency
from codat_nb.companies import CompaniesAPI
from codat_nb.connections import ConnectionsAPI
from codat_nb.endpoint import DEFAULT_BASE_URL, check_base_url, check_timeout
from codat_nb.headers import RateLimit
from codat_nb.listing import Listings, Unfinished
from codat_nb.retry import RetryPolicy
from codat_nb.secret import Secret
from codat_nb.transport import MAX_RESPONSE_BYTES, Transport
from codat_nb.wire.protocol import basic_auth_header

if TYPE_CHECKING:
    from codat_nb.sandbox import Sandbox

EMBEDDED_SANDBOX_NOTICE = (
    "codat_nb: no Codat API key found (CODAT_API_KEY / CODAT_AUTH_HEADER), so this client talks "
    "to an embedded local sandbox with the demo portfolio (client.sandbox)"
)


#: Codat's header is ``Basic`` + base64. Anything else (a CR/LF, a non-ASCII letter) would be
#: refused deep inside http.client by an error that quotes the header, secret and all.
_AUTH_HEADER = re.compile(r"Basic [A-Za-z0-9+/]+={0,2}")


def _resolve_auth_header(api_key: Any, auth_header: Any) -> Secret:
    """The Authorization header, as a Secret. The key is never bound to a plain local here, so
    a failure's traceback cannot show it."""
    if (api_key is None) == (auth_header is None):
        raise ValueError(
            "pass exactly one of api_key= (the raw key) or auth_header= ('Basic ...'); "
            "codat_nb.connect() also reads them from the environment"
        )
    if api_key is not None:
        if not isinstance(api_key, Secret):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        if not api_key.reveal().strip():
            raise ValueError("api_key must not be blank")
        if not api_key.reveal().startswith("Basic "):
            return Secret(basic_auth_header(api_key.reveal().strip()))
        auth_header, name = api_key, "api_key"  # the portal's ready-made header, pasted as the key
    else:
        name = "auth_header"
    if not isinstance(auth_header, Secret):
        raise TypeError(f"auth_header must be a str, got {type(auth_header).__name__}")
    if not _AUTH_HEADER.fullmatch(auth_header.reveal().strip()):  # never echoed
        raise ValueError(f"{name} must look like 'Basic <base64 of the API key>'")
    return Secret(auth_header.reveal().strip())


def _looks_like_header_value(key: str) -> bool:
    """True when ``key`` is base64 of printable text: the portal's ready-made header without its
    ``Basic `` (a raw key, random letters and digits, decodes to bytes that are not text)."""
    try:
        decoded = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(decoded) >= 8 and decoded.isascii() and decoded.decode().isprintable()


def _refusal_hint(api_key: Secret | None) -> str:
    """What to check when Codat answers 401, said with the error (never showing the key)."""
    hint = (
        "; check the credentials: CODAT_API_KEY (or api_key=) is the raw API key from Codat's "
        "portal, CODAT_AUTH_HEADER (or auth_header=) is 'Basic ' + base64 of that key"
    )
    if api_key is not None and _looks_like_header_value(api_key.reveal().strip()):
        hint += (
            ". The API key given looks like the base64 value of an Authorization header, "
            "not a raw key: set CODAT_AUTH_HEADER='Basic <that value>' instead"
        )
    return hint


def _check_retries(retries: Any) -> RetryPolicy:
    if isinstance(retries, RetryPolicy):
        return retries
    if isinstance(retries, int) and not isinstance(retries, bool):
        return RetryPolicy(max_retries=retries)
    raise TypeError(f"retries must be a RetryPolicy or an int, got {type(retries).__name__}")


class CodatClient:
    """A typed client for Codat's Sync for Expenses (v1) Connections API.

    ``client.connections`` and ``client.companies`` hold the operations. One pooled HTTP
    session is shared by all calls; close it with ``close()`` or use ``with CodatClient(...)``.
    ``session=`` takes your own ``requests.Session`` (proxies, CA bundle, mounted adapters);
    the client adds its credentials per request and leaves that session open on ``close()``.

    Thread-safe: one client may serve many threads (its connection pool is sized for it).
    ``retries`` (a ``RetryPolicy``) sets the backoff and each call's deadline; ``timeout`` is
    (connect, read) seconds per attempt; ``max_response_bytes`` caps one decompressed body.
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        auth_header: str | Secret | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        retries: RetryPolicy | int | None = None,
        max_concurrency: int = 4,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        session: requests.Session | None = None,
    ) -> None:
        # First: from here on the key is a Secret, so no traceback's locals can show it.
        api_key, auth_header = Secret.wrap(api_key), Secret.wrap(auth_header)
        header = _resolve_auth_header(api_key, auth_header)
        max_concurrency = check_concurrency(max_concurrency, name="max_concurrency")
        if session is not None and not isinstance(session, requests.Session):
            raise TypeError(f"session must be a requests.Session, got {type(session).__name__}")
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ValueError(
                f"max_response_bytes must be a positive int, got {max_response_bytes!r}"
            )
        self._transport = Transport(
            header,
            check_base_url(base_url),
            timeout=check_timeout(timeout),
            retries=RetryPolicy() if retries is None else _check_retries(retries),
            max_response_bytes=max_response_bytes,
            session=session,
            refusal_hint=_refusal_hint(api_key if isinstance(api_key, Secret) else None),
        )
        self.max_concurrency = max_concurrency
        self.sandbox: Sandbox | None = None
        self._listings = Listings()
        self.companies = CompaniesAPI(self._transport, self._listings, max_concurrency)
        self.connections = ConnectionsAPI(self._transport, self._listings, max_concurrency)

    def __repr__(self) -> str:
        transport = self.__dict__.get("_transport")  # absent while __init__ is failing
        return f"CodatClient(base_url={transport.base_url if transport else None!r})"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def unfinished(self) -> Unfinished[Any] | None:
        """The last listing that ended early (quota, Ctrl-C, an error), or None.

        ``client.unfinished.resume()`` runs it again without fetching the pages it already had.
        """
        return self._listings.unfinished

    @property
    def rate_limit(self) -> RateLimit | None:
        """The last response's X-Rate-Limit-* headers (None before any call or if absent)."""
        return self._transport.rate_limit

    def server_time(self) -> pd.Timestamp:
        """The server's clock (UTC) from a response's Date header.

        Use it as "now" in analyses so results are reproducible against the sandbox's clock.
        """
        stamp = self._transport.last_date()
        if stamp is None:
            self._transport.request("GET", "/companies", params={"page": 1, "pageSize": 1})
            stamp = self._transport.last_date()
        if stamp is None:
            raise RuntimeError(
                f"{self.base_url} sent no usable Date header, so its time is unknown"
            )
        return stamp

    def close(self) -> None:
        """Close the HTTP session and stop the embedded sandbox, if any."""
        self._transport.close()
        if self.sandbox is not None:
            self.sandbox.stop()

    def __enter__(self) -> CodatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect(
    api_key: str | Secret | None = None, base_url: str | None = None, **options: Any
) -> CodatClient:
    """A ready client: explicit arguments, else the environment, else the embedded sandbox.

    Environment: ``CODAT_API_KEY`` (raw key) or ``CODAT_AUTH_HEADER`` ("Basic ..."), with
    ``CODAT_BASE_URL`` (default https://api.codat.io). With no credentials at all, a local
    sandbox with the demo portfolio is started (printing one line saying so) and kept alive by
    the client; ``client.close()`` stops it. ``options`` go to ``CodatClient``.
    """
    api_key = Secret.wrap(api_key)  # first, as in CodatClient: no plain key in any locals
    if "auth_header" in options:
        options["auth_header"] = Secret.wrap(options["auth_header"])
    base = base_url if base_url is not None else os.environ.get("CODAT_BASE_URL", DEFAULT_BASE_URL)
    if api_key is not None or "auth_header" in options:
        return CodatClient(api_key, base_url=base, **options)
    if os.environ.get("CODAT_API_KEY"):
        return CodatClient(Secret(os.environ["CODAT_API_KEY"]), base_url=base, **options)
    if os.environ.get("CODAT_AUTH_HEADER"):
        header = Secret(os.environ["CODAT_AUTH_HEADER"])
        return CodatClient(auth_header=header, base_url=base, **options)
    if base_url is not None or os.environ.get("CODAT_BASE_URL"):
        raise ValueError(
            f"no API key for {base}: pass api_key= or set CODAT_API_KEY or CODAT_AUTH_HEADER"
        )
    from codat_nb.sandbox import Sandbox

    sandbox = Sandbox(seed="demo")
    try:
        client = CodatClient(auth_header=sandbox.auth_header, base_url=sandbox.url, **options)
    except BaseException:
        sandbox.stop()
        raise
    client.sandbox = sandbox
    print(EMBEDDED_SANDBOX_NOTICE)
    return client
