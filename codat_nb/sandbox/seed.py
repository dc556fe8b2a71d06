"""Deterministic portfolios: the demo book of companies and the one-company scale load.

Everything comes from ``random.Random(seed)``, so the same seed gives the same bytes. The demo
portfolio looks like a Sync for Expenses customer base: most companies have one accounting and
one partner expense connection, beside companies with none, several, or duplicates left behind by
re-linking; statuses, last-sync ages and error messages follow what such a book shows.

Its wire shapes are those Codat sends (a second generator draws them, so the book itself stays
the same whatever shapes are added): ``null`` where the OpenAPI document allows it as well as
missing fields, dates with 7-digit fractions, with offsets and as unqualified local times,
older connections without ``integrationKey``, ``description: ""`` as in Codat's examples,
``createdByUserName``, ``ownerUserIds`` and multi-entity groups (``referenceParentCompany``);
every documented ``sourceType`` (bank feeds beside QuickBooks Online and Sage, business-document
uploads as ``Other``, some older connections ``Unknown``) and error items both Active and
Resolved. A company has a partner expense connection only if its accounting software was
authorized once (Codat's Expenses guide creates it then).
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from codat_nb.platforms import KEYLESS_PLATFORM_NAMES, PARTNER_EXPENSE_KEY, PLATFORMS, Platform
from codat_nb.sandbox.shapes import (
    DEAUTHORIZED,
    LINKED,
    PENDING,
    UNLINKED,
    access_error,
    connection_wire,
    new_uuid,
    resolved,
    stamp,
)
from codat_nb.sandbox.store import Store
from codat_nb.wire.dates import as_instant

MIN_COMPANIES, MIN_CONNECTIONS = 240, 1_000

# The demo's platforms and their rough market shares, so the portfolio looks like a real book
# (Xero and QBO dominate); pinned here, so new keys in the catalogue leave the demo as it is.
_ACCOUNTING_WEIGHTS = {"gbol": 30, "qhyg": 26, "ndsk": 2, "pqsw": 6, "akxx": 7, "knfz": 5,
                       "trji": 5, "fbrh": 4, "vxvy": 3, "rwuv": 3, "pdvj": 3, "tgff": 5,
                       "mqjo": 1}  # fmt: skip
ACCOUNTING = [PLATFORMS[key] for key in _ACCOUNTING_WEIGHTS]
ACCOUNTING_SHARES = list(_ACCOUNTING_WEIGHTS.values())
OTHERS = [PLATFORMS[key] for key in ("suuo", "upvr", "fztf", "zsth", "exgd", "ugxp", "aiwb")]
_EXPENSE = PLATFORMS[PARTNER_EXPENSE_KEY]

NAME_HEADS = (
    "Acme", "Northwind", "Harbour", "Bluebell", "Copperfield", "Juniper", "Kestrel", "Larkspur",
    "Meridian", "Oakridge", "Pembroke", "Quayside", "Redwood", "Saltmarsh", "Thornbury", "Upland",
    "Vantage", "Wexford", "Yarrow", "Zephyr", "Ashgrove", "Brightwater", "Cobalt", "Driftwood",
    "Elmstead", "Fairhaven", "Granite", "Hollybush", "Ironbridge", "Kingfisher", "Lowther",
    "Marlow", "Nettlefield", "O'Connell", "Penrose", "Riverside", "Stonegate", "Tamarind",
    "Whitcombe", "Foxglove",
)  # fmt: skip
NAME_TRADES = (
    "Logistics", "Dental", "Architects", "Bakery", "Consulting", "Engineering", "Florists",
    "Freight", "Interiors", "Joinery", "Legal", "Media", "Motors", "Opticians", "Outfitters",
    "Plumbing", "Print & Design", "Properties", "Recruitment", "Robotics", "Software", "Studios",
    "Surveyors", "Travel", "Veterinary", "Wine Merchants", "Analytics", "Catering", "Clinics",
    "Electrical",
)  # fmt: skip
NAME_SUFFIXES = ("Ltd", "Ltd", "Limited", "LLP", "Group", "& Co", "Inc.", "Pty Ltd", "GmbH", "")
_DESCRIPTIONS = (
    "Onboarded through the partner programme.",
    "Finance contact prefers email; month-end close on the 5th working day.",
    "Multi-entity group; expenses reconciled centrally.",
    "Card programme pilot customer.",
    "Migrated from spreadsheets in the last quarter.",
)
ERRORS = (
    ("401", "Unauthorized", "The refresh token has expired; the customer must re-link."),
    ("403", "Forbidden", "The authorizing user no longer has adviser access to the organisation."),
    ("400", "invalid_grant", "Token refresh failed: invalid_grant."),
    ("401", "Unauthorized", "Access was revoked from the platform's connected apps page."),
    (
        "403",
        "Forbidden",
        "The organisation's subscription has lapsed; the platform refused access.",
    ),
)
_USERS = ("Priya Shah", "Tom Okafor", "Ana Ruiz", "Mei Lin", "Jonas Berg")
#: Connections created before this many days ago predate ``integrationKey`` and lack it.
_LEGACY_DAYS = 900
#: Bank feeds set up beside an authorized accounting platform: its key -> the bank feed's key.
_BANK_FEEDS = {"qhyg": "hcws", "tgff": "olpr"}
#: Codat's "Business documents file upload" integration (docs/integrations/file-upload.md, under
#: "Other integrations"): it documents no platform key, so these rows carry none.
_DOCUMENTS = {"platformName": KEYLESS_PLATFORM_NAMES[0], "sourceType": "Other"}
_INSTITUTIONS = ("Barclays", "HSBC UK", "Lloyds Bank", "Monzo Business", "NatWest", "Starling")
_REGIONS = ("uk", "ie", "us", "au", "de")


def demo_portfolio(store: Store, seed: str) -> None:
    """Load the demo book (>= 240 companies, >= 1,000 connections) into an empty store."""
    _Builder(store, random.Random(f"seed:{seed}"), _Shapes(random.Random(f"shapes:{seed}"))).build()


class _Builder:
    def __init__(self, store: Store, rng: random.Random, shapes: _Shapes):
        self.store, self.rng, self.shapes, self.now = store, rng, shapes, store.clock.now()
        self.names = [f"{h} {t}" for h in NAME_HEADS for t in NAME_TRADES]  # all distinct
        rng.shuffle(self.names)

    def build(self) -> None:
        companies: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        total = 0
        while len(companies) < MIN_COMPANIES or total < MIN_CONNECTIONS:
            company = self.company(self.names[len(companies)])
            companies.append(company)
            total += len(company[1])
        self.shapes.groups([details for details, _ in companies])
        self.store.ingest(companies)

    def ago(self, low: timedelta, high: timedelta) -> datetime:
        span = (high - low).total_seconds()
        return self.now - low - timedelta(seconds=int(self.rng.random() * span))

    def company(self, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rng = self.rng
        company_id = new_uuid(rng)
        created = self.ago(timedelta(days=30), timedelta(days=1100))
        name = f"{name} {rng.choice(NAME_SUFFIXES)}".strip()
        details: dict[str, Any] = {"id": company_id, "name": name}
        if rng.random() < 0.5:
            details["description"] = rng.choice(_DESCRIPTIONS)
        details["redirect"] = self.store.company_redirect(company_id)
        details["created"] = stamp(created)
        details["products"] = ["expenses"]
        if rng.random() < 0.3:
            details["tags"] = {"region": rng.choice(_REGIONS), "tier": rng.choice(("gold", "std"))}
        details["referenceSubsidiaryCompanies"] = []
        shape = rng.random()
        accounting = rng.choices(ACCOUNTING, weights=ACCOUNTING_SHARES)[0]
        if shape < 0.07:  # signed up, never connected anything
            plan: list[tuple[Platform, str | None]] = []
        elif shape < 0.45:  # the typical Sync for Expenses shape
            plan = [(accounting, None), (_EXPENSE, None)]
        elif shape < 0.55:  # accounting chosen, expense side not set up yet
            plan = [(accounting, None)]
        elif shape < 0.72:  # re-linked after trouble: stale duplicates of the same platform
            stale = [
                (accounting, rng.choice((UNLINKED, DEAUTHORIZED))) for _ in range(rng.randint(1, 3))
            ]
            plan = [*stale, (accounting, LINKED), (_EXPENSE, None)]
        else:  # several: banking and commerce beside the usual pair
            extras = [(rng.choice(OTHERS), None) for _ in range(rng.randint(2, 9))]
            plan = [(accounting, None), (_EXPENSE, None), *extras]
        rows = [self.connection(company_id, created, p, status) for p, status in plan]
        if all(r["status"] == PENDING for r in rows if r["sourceType"] == "Accounting"):
            rows = [r for r in rows if r["sourceType"] != "Expense"]  # never authorized
        legacy = self.now - timedelta(days=_LEGACY_DAYS)
        self.shapes.company(details, created)
        for row in rows:
            self.shapes.connection(row, legacy)
        rows += self.shapes.other_sources(rows, functools.partial(self.store.link_url, company_id))
        return details, rows

    def status(self, platform: Platform) -> str:
        roll = self.rng.random()
        if platform.key == PARTNER_EXPENSE_KEY:
            return LINKED if roll < 0.9 else UNLINKED
        for status, share in ((LINKED, 0.66), (DEAUTHORIZED, 0.80), (PENDING, 0.91)):
            if roll < share:
                return status
        return UNLINKED

    def connection(
        self, company_id: str, company_created: datetime, platform: Platform, status: str | None
    ) -> dict[str, Any]:
        rng = self.rng
        status = status or self.status(platform)
        age = (self.now - company_created).total_seconds()
        created = company_created + timedelta(seconds=int(rng.random() * age * 0.8))
        last_sync = self.last_sync(status, created)
        errors = None
        if status == DEAUTHORIZED and rng.random() < 0.75:
            code, text, message = rng.choice(ERRORS)
            errored = last_sync or created + timedelta(days=1)
            errors = [access_error(code, text, message, stamp(errored))]
        connection_id = new_uuid(rng)
        row = connection_wire(
            connection_id=connection_id,
            platform=platform,
            source_id=new_uuid(rng),
            link_url=self.store.link_url(company_id, connection_id),
            status=status,
            created=stamp(created),
            last_sync=self.render(last_sync) if last_sync else None,
            errors=errors,
        )
        if platform.source_type == "Banking" and rng.random() < 0.6:
            row["connectionInfo"] = {
                "institution": rng.choice(_INSTITUTIONS),
                "accountCount": rng.randint(1, 6),
            }
        return row

    def last_sync(self, status: str, created: datetime) -> datetime | None:
        rng = self.rng
        if status == PENDING or rng.random() < 0.04:
            return None
        if status == LINKED:  # mostly fresh, a tail of stale ones
            high = timedelta(days=2) if rng.random() < 0.8 else timedelta(days=240)
            low = timedelta(minutes=3)
        else:  # unlinked or deauthorized: weeks to many months ago
            low, high = timedelta(days=7), timedelta(days=400)
        return max(self.ago(low, high), created + timedelta(minutes=5))

    def render(self, value: datetime) -> str:
        """Codat's date shapes as they really arrive: mostly Z, some 7-digit fractions, offsets."""
        return _shaped(self.rng, value, fraction=0.25, offset=0.35)


def _offset(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def _shaped(
    rng: random.Random, value: datetime, fraction: float, offset: float, local: float = 0.0
) -> str:
    """``value`` in one of Codat's date shapes, by one roll: below ``fraction`` a 7-digit
    fraction, then below ``offset`` a UTC offset, below ``local`` an unqualified local time,
    else ``...Z`` (the thresholds are cumulative)."""
    roll = rng.random()
    if roll < fraction:
        return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{rng.randrange(10**7):07d}Z"
    if roll < offset:
        return value.astimezone(_offset(rng.choice((-5, 1, 10)))).isoformat()
    if roll < local:
        return _local(rng, value)
    return stamp(value)


def _local(rng: random.Random, value: datetime) -> str:
    """An unqualified local time: the business's wall clock, its zone not given."""
    zone = _offset(rng.choice((-8, -5, 0, 1, 2, 10)))
    return value.astimezone(zone).replace(tzinfo=None).isoformat()


class _Shapes:
    """Reshapes built records into what Codat's wire also carries, from its own generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.owners = [new_uuid(rng) for _ in range(4)]  # a few users own most companies

    def date(self, value: datetime) -> str:
        """Mostly ``Z``; some 7-digit fractions, some offsets, some unqualified local times."""
        return _shaped(self.rng, value, fraction=0.15, offset=0.25, local=0.40)

    def company(self, details: dict[str, Any], created: datetime) -> None:
        rng = self.rng
        details["created"] = self.date(created)
        if "description" not in details:
            roll = rng.random()
            if roll < 0.4:
                details["description"] = None
            elif roll < 0.6:
                details["description"] = ""  # as Codat's own examples of a company show
        if rng.random() < 0.3:
            details["lastSync"] = None  # replaced by the latest sync where there is one
        details["createdByUserName"] = rng.choice(_USERS) if rng.random() < 0.8 else None
        details["ownerUserIds"] = sorted(rng.sample(self.owners, rng.choice((0, 0, 1, 1, 1, 2))))
        if rng.random() < 0.5:
            details["referenceParentCompany"] = None  # "Null if the company has no parent"

    def connection(self, row: dict[str, Any], legacy: datetime) -> None:
        rng = self.rng
        created = as_instant(row["created"])
        assert created is not None
        if created < legacy:
            del row["integrationKey"]  # older connections predate it
        row["created"] = self.date(created)
        last_sync = row.get("lastSync")
        if last_sync is None:
            if rng.random() < 0.5:
                row["lastSync"] = None
        elif last_sync.endswith("Z") and "." not in last_sync and rng.random() < 0.2:
            row["lastSync"] = _local(rng, as_instant(last_sync))  # type: ignore[arg-type]
        if created < legacy and row["sourceType"] != "Expense" and rng.random() < 0.3:
            row["sourceType"] = "Unknown"  # older connections Codat never classified
        if row["status"] == LINKED and "dataConnectionErrors" not in row and rng.random() < 0.1:
            row["dataConnectionErrors"] = [self.resolved_error(created, row.get("lastSync"))]
        if "dataConnectionErrors" not in row and rng.random() < 0.3:
            row["dataConnectionErrors"] = None
        if "connectionInfo" not in row and rng.random() < 0.25:
            row["connectionInfo"] = None

    def other_sources(
        self, rows: list[dict[str, Any]], link_url: Callable[[str], str]
    ) -> list[dict[str, Any]]:
        """A company's connections beyond the book: a bank feed beside some Linked QuickBooks
        Online and Sage Accounting connections, and now and then a business-documents upload."""
        extra: list[dict[str, Any]] = []
        for row in rows:
            feed = _BANK_FEEDS.get(row.get("integrationKey") or "")
            if feed and row["status"] == LINKED and self.rng.random() < 0.3:
                extra.append(self._added(PLATFORMS[feed], row, link_url))
        if rows and self.rng.random() < 0.04:
            extra.append(self._added(None, rows[0], link_url))
        return extra

    def _added(
        self, platform: Platform | None, beside: dict[str, Any], link_url: Callable[[str], str]
    ) -> dict[str, Any]:
        """A Linked connection made a day after ``beside``, synced since."""
        rng, connection_id = self.rng, new_uuid(self.rng)
        created = as_instant(beside["created"])
        assert created is not None
        created += timedelta(days=1)
        if platform is None:
            platform = Platform("", _DOCUMENTS["platformName"], _DOCUMENTS["sourceType"])
        row = connection_wire(
            connection_id=connection_id,
            platform=platform,
            source_id=new_uuid(rng),
            link_url=link_url(connection_id),
            status=LINKED,
            created=stamp(created),
            last_sync=stamp(created + timedelta(minutes=rng.randint(5, 600))),
        )
        if not platform.key:  # no documented key: no integrationKey, an id of its own
            del row["integrationKey"]
            row["integrationId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "file-upload/documents"))
        return row

    def resolved_error(self, created: datetime, last_sync: str | None) -> dict[str, Any]:
        """An error a Linked connection once had: access lost, then re-authorized (Resolved)."""
        synced = as_instant(last_sync) if last_sync else None
        end = synced or created + timedelta(days=30)
        errored = created + (end - created) * self.rng.uniform(0.2, 0.8)
        code, text, message = self.rng.choice(ERRORS)
        error = access_error(code, text, message, stamp(errored))
        return resolved([error], stamp(errored + (end - errored) / 2))[0]

    def groups(self, companies: list[dict[str, Any]]) -> None:
        """A few multi-entity groups: a parent and the next one to three companies."""
        rng, n = self.rng, 0
        while n < len(companies):
            if rng.random() < 0.04:
                parent, size = companies[n], rng.randint(1, 3)
                subsidiaries = companies[n + 1 : n + 1 + size]
                parent["referenceSubsidiaryCompanies"] = [_reference(c) for c in subsidiaries]
                for company in subsidiaries:
                    company["referenceParentCompany"] = _reference(parent)
                n += size
            n += 1


def _reference(company: dict[str, Any]) -> dict[str, Any]:
    return {"id": company["id"], "name": company["name"]}


def _scale_rows(
    store: Store, company_id: str, count: int, rng: random.Random
) -> list[dict[str, Any]]:
    """``count`` connections for one company in a seeded status mix, created a second apart."""
    base = store.clock.now()
    platforms = [*ACCOUNTING, *OTHERS, _EXPENSE]
    statuses = (LINKED, LINKED, LINKED, PENDING, UNLINKED, DEAUTHORIZED)
    rows = []
    for n in range(count):
        connection_id = new_uuid(rng)
        status = statuses[rng.randrange(len(statuses))]
        created = base - timedelta(seconds=count - n)
        rows.append(
            connection_wire(
                connection_id=connection_id,
                platform=platforms[n % len(platforms)],
                source_id=new_uuid(rng),
                link_url=store.link_url(company_id, connection_id),
                status=status,
                created=stamp(created),
                last_sync=None if status == PENDING else stamp(created + timedelta(minutes=5)),
            )
        )
    return rows


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def scale_company(store: Store, connections: int, company_name: str) -> str:
    """One company with ``connections`` rows in a seeded status mix, for paging benchmarks."""
    _check_count("connections", connections)
    company_id: str = store.create_company(company_name)["id"]
    rng = random.Random(f"scale:{company_id}:{connections}")
    store.load_connections(company_id, _scale_rows(store, company_id, connections, rng))
    return company_id


def scale_portfolio(store: Store, companies: int, per_company: int) -> list[str]:
    """``companies`` companies of ``per_company`` connections each (portfolio benchmarks)."""
    _check_count("companies", companies)
    _check_count("connections_per_company", per_company)
    loaded: list[str] = []
    for n in range(companies):
        company_id: str = store.create_company(f"Scale Company {n + 1}")["id"]
        rng = random.Random(f"scale:{company_id}")
        store.load_connections(company_id, _scale_rows(store, company_id, per_company, rng))
        loaded.append(company_id)
    return loaded
