"""Known Codat platform keys: one catalogue for the sandbox, the client's checks and the widgets."""

from __future__ import annotations

import re
from typing import NamedTuple

PLATFORM_KEY_PATTERN = re.compile(r"^[a-z]{4}$")

#: The platform key Codat uses for partner expense connections (sourceType ``Expense``).
PARTNER_EXPENSE_KEY = "dfxm"


class Platform(NamedTuple):
    key: str
    name: str
    source_type: str


PLATFORMS: dict[str, Platform] = {
    p.key: p
    for p in [
        Platform("gbol", "Xero", "Accounting"),
        Platform("qhyg", "QuickBooks Online", "Accounting"),
        Platform("ndsk", "QuickBooks Online Sandbox", "Accounting"),
        Platform("pqsw", "QuickBooks Desktop", "Accounting"),
        Platform("akxx", "Oracle NetSuite", "Accounting"),
        Platform("knfz", "Sage Intacct", "Accounting"),
        Platform("trji", "Dynamics 365 Business Central", "Accounting"),
        Platform("fbrh", "FreeAgent", "Accounting"),
        Platform("vxvy", "FreshBooks", "Accounting"),
        Platform("rwuv", "Zoho Books", "Accounting"),
        Platform("pdvj", "MYOB Business", "Accounting"),
        Platform("tgff", "Sage Accounting", "Accounting"),
        Platform("mqjo", "Sandbox", "Accounting"),
        Platform("suuo", "Plaid", "Banking"),
        Platform("upvr", "TrueLayer", "Banking"),
        Platform("fztf", "Shopify", "Commerce"),
        Platform("zsth", "Square", "Commerce"),
        Platform("exgd", "Stripe", "Commerce"),
        Platform("ugxp", "Zettle", "Commerce"),
        Platform("aiwb", "Commerce Sandbox", "Commerce"),
        Platform(PARTNER_EXPENSE_KEY, "Partner Expense", "Expense"),
    ]
}


def is_platform_key(value: object) -> bool:
    """True for a string of exactly four lowercase ASCII letters (Codat's key shape)."""
    return isinstance(value, str) and PLATFORM_KEY_PATTERN.fullmatch(value) is not None


def _compact(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def keys_for_name(text: str, exact: bool = False) -> list[str]:
    """The keys of the platforms ``text`` names (``"xero"`` -> ``["gbol"]``; unless ``exact``,
    a name's beginning too: ``"QuickBooks"`` -> the QuickBooks ones), ignoring case, spaces and
    punctuation; none for anything else, a known key included."""
    wanted = _compact(text)
    if len(wanted) < 3 or text in PLATFORMS:
        return []
    named = [p.key for p in PLATFORMS.values() if _compact(p.name) == wanted]
    if named or exact:
        return named
    return [p.key for p in PLATFORMS.values() if _compact(p.name).startswith(wanted)]
