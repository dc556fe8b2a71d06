"""Same seed, same request sequence: byte-identical responses (modulo the base URL's port)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from codat_nb.sandbox import Sandbox


def script(sb: Sandbox) -> list[bytes]:
    """A fixed request sequence touching reads, writes, errors and links."""
    s = requests.Session()
    s.headers["Authorization"] = sb.auth_header
    out = []
    cid = sb.store.company_ids()[3]
    base = f"{sb.url}/companies/{cid}/connections"
    out.append(
        s.get(f"{sb.url}/companies", params={"pageSize": 20, "orderBy": "-lastSync"}).content
    )
    out.append(s.get(base).content)
    made = s.post(base, json={"platformKey": "gbol"})
    out.append(made.content)
    requests.get(made.json()["linkUrl"])
    out.append(s.patch(f"{base}/{made.json()['id']}", json={"status": "Unlinked"}).content)
    out.append(s.post(f"{sb.url}/companies", json={"name": "New Co"}).content)
    out.append(s.get(f"{base}/{made.json()['id']}x").content)  # error: correlationId too
    out.append(s.get(base, params={"query": "status="}).content)
    s.close()
    return [body.replace(sb.url.encode(), b"http://sandbox") for body in out]


def test_same_seed_gives_byte_identical_responses():
    with Sandbox("demo") as one, Sandbox("demo") as two:
        assert one.url != two.url
        assert script(one) == script(two)


def test_other_seed_gives_another_portfolio_of_the_same_shape():
    with Sandbox("demo") as one, Sandbox("another") as two:
        first, second = one.store.list_companies_wire(), two.store.list_companies_wire()
        assert {c["id"] for c in first}.isdisjoint({c["id"] for c in second})
        assert len(second) >= 200
        assert sum(len(c["dataConnections"]) for c in second) >= 1_000


def test_empty_seed_starts_empty():
    with Sandbox(seed=None) as sb:
        assert sb.store.company_ids() == []


def test_clock_is_settable_and_steps_per_write():
    start = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with Sandbox(seed=None, start=start) as sb:
        assert sb.clock.now() == start
        first = sb.store.create_company("A")
        second = sb.store.create_company("B")
        assert (first["created"], second["created"]) == (
            "2030-01-02T03:04:05Z",
            "2030-01-02T03:04:06Z",
        )
        later = start + timedelta(days=40)
        sb.clock.set(later)
        assert sb.store.create_company("C")["created"] == "2030-02-11T03:04:05Z"
        with pytest.raises(ValueError, match="timezone-aware"):
            sb.clock.set(datetime(2030, 1, 1))


def test_demo_portfolio_is_realistic(demo_sandbox):
    companies = demo_sandbox.store.list_companies_wire()
    rows = [c for company in companies for c in company["dataConnections"]]
    assert len(companies) >= 200 and len(rows) >= 1_000
    assert {c["status"] for c in rows} == {"PendingAuth", "Linked", "Unlinked", "Deauthorized"}
    assert {"Accounting", "Banking", "Commerce", "Expense"} <= {c["sourceType"] for c in rows}
    shapes = [sorted(c["sourceType"] for c in company["dataConnections"]) for company in companies]
    typical = sum(shape == ["Accounting", "Expense"] for shape in shapes)
    assert typical > len(companies) / 4
    assert any(shape == [] for shape in shapes) and any(len(shape) > 4 for shape in shapes)
    assert any(
        len({c["platformName"] for c in company["dataConnections"]})
        < len(company["dataConnections"])
        for company in companies
    )  # duplicates of one platform
    deauth = [c for c in rows if c["status"] == "Deauthorized"]
    assert any(c.get("dataConnectionErrors") for c in deauth)
    assert any(c.get("lastSync") is None for c in rows)  # never synced: missing or null
    assert all(c.get("lastSync") is None for c in rows if c["status"] == "PendingAuth")
    assert len({c["name"] for c in companies}) == len(companies)


def test_readme_counts_the_demo_as_it_is(demo_sandbox):
    """README's numbers for the demo (its sandbox example, the whole-portfolio cost) are the
    demo's: a newcomer checks them against what connect() lists."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    companies = demo_sandbox.store.list_companies_wire()
    connections = sum(len(company["dataConnections"]) for company in companies)
    said = re.search(r'Sandbox\(seed="demo".*# ([\d,]+) companies, ([\d,]+) connections', readme)
    assert said is not None
    assert (said.group(1), said.group(2)) == (f"{len(companies):,}", f"{connections:,}")
    walk = f"demo's {len(companies):,} companies: 1 request, where walking each company costs"
    assert f"{walk} {len(companies) + 1:,})" in readme.replace("\n", " ")
    assert f"The whole demo portfolio ({len(companies):,} companies)" in readme
