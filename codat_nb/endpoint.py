"""Where a client talks to and how long it waits: the base URL and the per-attempt timeouts,
checked before anything is sent."""

from __future__ import annotations

import ipaddress
import warnings
from typing import Any
from urllib.parse import urlsplit

from codat_nb.exceptions import CodatWarning

DEFAULT_BASE_URL = "https://api.codat.io"


def check_timeout(timeout: Any) -> tuple[float, float]:
    """Normalise a timeout to (connect, read) seconds; both must be finite positive numbers."""
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(pair) != 2 or not all(
        isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < float("inf")
        for t in pair
    ):
        raise ValueError(
            "timeout must be a finite positive number or a (connect, read) pair of them, "
            f"got {timeout!r}"
        )
    return float(pair[0]), float(pair[1])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: only "localhost" is known to stay on this machine
        return False


def check_base_url(base_url: Any) -> str:
    """An http(s) URL with a host, without a trailing slash.

    Paths are appended to it, so a query or fragment would garble every request; and the URL
    is shown in reprs and errors, so credentials in it (``https://key@host``) are refused. Plain
    ``http://`` to anything but this machine sends the key in clear text: warned.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}")
    if "@" in parts.netloc:  # not echoed: the part before '@' may be the key
        raise ValueError("base_url must not contain credentials; pass api_key= instead")
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise ValueError("base_url must not have a query or fragment (request paths follow it)")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        warnings.warn(
            f"base_url {base_url!r} is plain http: the API key would cross the network "
            "unencrypted; use https",
            CodatWarning,
            stacklevel=3,
        )
    return base_url.rstrip("/")
