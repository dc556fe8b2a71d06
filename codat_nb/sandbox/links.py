"""Link URLs shaped like Codat's, and its optional one-time passwords (OTPs).

Codat's connection link is ``https://link-api.codat.io/companies/{companyId}/connections/
{connectionId}/start`` and its company link ``https://link.codat.io/company/{companyId}``
(blog/250110-secure-linking.md); the sandbox serves both shapes on its own host. With one-time
links on, each carries an OTP (``?otp=`` and ``?link.otp=``): usable once, and expiring one
day after it was issued even if unused. An OTP is issued whenever a URL is shown and encodes
its own issue time, signed, so showing links costs no memory: only redeemed OTPs are
remembered, until they would have expired anyway. The issue time is the sandbox clock's, which
moves only on writes, so the same reads show the same URLs and the same seed the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from codat_nb.sandbox.clock import Clock

VALID_FOR = timedelta(days=1)
#: Redeemed OTPs remembered at most (the oldest forgotten first; each expires within a day).
MAX_REDEEMED = 100_000
VALID, USED, EXPIRED, INVALID = "valid", "used", "expired", "invalid"
_MAC_BYTES = 12


def connection_path(company_id: str, connection_id: str) -> str:
    return f"/companies/{company_id}/connections/{connection_id}/start"


def company_path(company_id: str) -> str:
    return f"/company/{company_id}"


class OneTimeLinks:
    """Issues and redeems OTPs for link URLs; ``enabled`` says whether links carry them."""

    def __init__(self, seed: str, clock: Clock, enabled: Callable[[], bool]):
        self._key = hashlib.sha256(f"links:{seed}".encode()).digest()
        self._clock, self.enabled = clock, enabled
        self._lock = threading.Lock()
        self._redeemed: OrderedDict[str, datetime] = OrderedDict()  # OTP -> when it expires

    def connection_url(self, base: str) -> str:
        """A stored connection ``linkUrl`` as shown now: with a fresh ``otp`` when enabled."""
        return f"{base}?otp={self._issue(base)}" if self.enabled() else base

    def company_url(self, base: str) -> str:
        """A stored company ``redirect`` as shown now: with a fresh ``link.otp`` when enabled."""
        return f"{base}?link.otp={self._issue(base)}" if self.enabled() else base

    def redeem(self, path: str, otp: str | None) -> str:
        """Use the link at ``path`` (its URL without host and query) once: VALID (and
        remembered as used), USED, EXPIRED or INVALID (no OTP, or not one issued for it).
        With one-time links off every visit is VALID."""
        if not self.enabled():
            return VALID
        issued = self._issued(path, otp or "")
        if issued is None:
            return INVALID
        now = self._clock.now()
        expires = issued + VALID_FOR
        with self._lock:
            self._forget_expired(now)
            if otp in self._redeemed:
                return USED
            if now >= expires:
                return EXPIRED
            self._redeemed[otp] = expires  # type: ignore[index]
            while len(self._redeemed) > MAX_REDEEMED:
                self._redeemed.popitem(last=False)
        return VALID

    def redeemed(self) -> list[str]:
        """The OTPs used so far and not yet expired (for state snapshots)."""
        with self._lock:
            return sorted(self._redeemed)

    def _issue(self, base: str) -> str:
        seconds = int(self._clock.now().timestamp())
        stamp = struct.pack(">q", seconds)
        return _b32(stamp + self._mac(_path_of(base), stamp))

    def _issued(self, path: str, otp: str) -> datetime | None:
        try:
            raw = base64.b32decode(otp + "=" * (-len(otp) % 8))
        except (binascii.Error, ValueError):
            return None
        stamp, mac = raw[:8], raw[8:]
        if len(stamp) != 8 or not hmac.compare_digest(mac, self._mac(path, stamp)):
            return None
        return datetime.fromtimestamp(struct.unpack(">q", stamp)[0], timezone.utc)

    def _mac(self, path: str, stamp: bytes) -> bytes:
        return hmac.new(self._key, path.lower().encode() + stamp, "sha256").digest()[:_MAC_BYTES]

    def _forget_expired(self, now: datetime) -> None:
        expired = [otp for otp, expires in self._redeemed.items() if expires <= now]
        for otp in expired:
            del self._redeemed[otp]


def _path_of(url: str) -> str:
    """The path of an absolute URL (``http://host:port/path`` -> ``/path``)."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")
