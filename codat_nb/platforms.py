"""Known Codat platform keys: one catalogue for the sandbox, the client's checks and the widgets.

Every key is one Codat's documentation uses (files of the public repository codatio/codat-docs):
the platform-key tables of ``docs/integrations/accounting/overview.md`` ("Platform keys"),
``docs/integrations/banking/overview.md`` and ``docs/integrations/commerce/overview.md``; the
bank-feeds keys of ``docs/bank-feeds/create-account.md`` (its table: QuickBooks Online Bankfeeds
``hcws``, Sage bank feeds ``olpr``), with the ``platformName`` and ``sourceType`` of the answers
in ``docs/integrations/bank-feeds/qbo-bank-feeds/qbo-bank-feeds-setup.md`` and
``.../sage-bank-feeds/sage-bank-feeds-setup.md``. ``dfxm`` for partner expense connections is
the sandbox's own choice (docs/fidelity.md): Codat's documentation uses it only as an example of
a partner's own connector key (``docs/commerce/advanced-setup.md``).
"""

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
        # The rest of Codat's documented keys (appended: the demo portfolio pins its own).
        Platform("rqwd", "Dynamics 365 Finance & Operations", "Accounting"),
        Platform("qudb", "Exact (Netherlands)", "Accounting"),
        Platform("pbbf", "Exact (UK)", "Accounting"),
        Platform("jcrp", "Sage 200 Standard", "Accounting"),
        Platform("hbql", "Sage 50 (UK)", "Accounting"),
        Platform("pbtz", "Wave", "Accounting"),
        Platform("rvam", "Workday", "Accounting"),
        Platform("qkdj", "Amazon Seller Central", "Commerce"),
        Platform("vqzp", "BigCommerce", "Commerce"),
        Platform("fqly", "Clover", "Commerce"),
        Platform("ldgh", "Lightspeed K", "Commerce"),
        Platform("lrhd", "Lightspeed K Sandbox", "Commerce"),
        Platform("ltes", "Lightspeed K Trial", "Commerce"),
        Platform("lqai", "Partner Commerce", "Commerce"),
        Platform("xcwv", "Square Sandbox", "Commerce"),
        Platform("yzth", "Stripe Test", "Commerce"),
        Platform("ltpp", "WooCommerce", "Commerce"),
        Platform("hcws", "QuickBooks Online Bank Feeds", "BankFeed"),
        Platform("olpr", "SageBankFeed", "BankFeed"),
    ]
}


#: Integrations Codat documents without a platform key: their connections carry no
#: ``integrationKey`` (the "Business documents file upload" of docs/integrations/file-upload.md).
KEYLESS_PLATFORM_NAMES = ("Business documents file upload",)


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
