"""Time travel: ``sb.advance(days=..., hours=...)`` moves the clock and changes the portfolio as
a real one changes, the same way for the same seed and the same calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.evolution import HEALTHY_WITHIN
from codat_nb.wire.dates import as_instant


def by_id(sb: Sandbox) -> dict[str, tuple[str, dict]]:
    return {
        row["id"]: (company["id"], row)
        for company in sb.store.list_companies_wire()
        for row in company["dataConnections"]
    }


def test_a_week_changes_the_portfolio_as_a_real_one_changes(demo_sandbox):
    start = demo_sandbox.clock.now()
    before = by_id(demo_sandbox)
    companies_before = set(demo_sandbox.store.company_ids())
    changes = demo_sandbox.advance(days=7)
    end = start + timedelta(days=7)
    assert demo_sandbox.clock.now() == end == changes.end and changes.start == start
    after = by_id(demo_sandbox)

    def synced_within_window(row: dict) -> bool:
        return bool(row.get("lastSync")) and start <= as_instant(row["lastSync"]) <= end

    healthy = {
        cid for cid, (_, row) in before.items()
        if row["status"] == "Linked" and row.get("lastSync")
        and start - as_instant(row["lastSync"]) <= HEALTHY_WITHIN
        and not any(e.get("status") == "Active" for e in row.get("dataConnectionErrors") or [])
    }  # fmt: skip
    kept = healthy & set(after)
    synced = {c for c in kept if after[c][1]["status"] == "Linked"}
    lost = {c for c in kept if after[c][1]["status"] == "Deauthorized"}
    assert synced and all(synced_within_window(after[c][1]) for c in synced)
    assert lost and synced | lost == kept
    for c in lost:
        error = after[c][1]["dataConnectionErrors"][-1]
        assert error["status"] == "Active" and start <= as_instant(error["erroredOnUtc"]) <= end
        assert after[c][1]["sourceType"] != "Expense"
    stale = [c for c, (_, row) in before.items() if row["status"] == "Linked" and c not in healthy]
    unchanged = [c for c in stale if c in after]

    def same(one: dict, other: dict) -> bool:  # a one-time link is issued afresh: not a change
        return {**one, "linkUrl": ""} == {**other, "linkUrl": ""}

    assert unchanged and all(same(after[c][1], before[c][1]) for c in unchanged)
    linked = [c for c, (_, r) in before.items() if r["status"] == "PendingAuth" and c in after
              and after[c][1]["status"] == "Linked"]  # fmt: skip
    assert linked and all(synced_within_window(after[c][1]) for c in linked)
    created = set(after) - set(before)
    assert all(after[c][1]["status"] == "PendingAuth" for c in created)
    assert all(start <= as_instant(after[c][1]["created"]) <= end for c in created)
    companies_after = set(demo_sandbox.store.company_ids())
    gone = healthy - set(after)  # deleted with their company within the window
    assert len(lost) <= changes.counts["lost access"] <= len(lost) + len(gone)
    assert changes.counts["linked"] == len(linked)
    assert changes.counts["companies created"] == len(companies_after - companies_before)
    assert changes.counts["companies deleted"] == len(companies_before - companies_after)
    assert changes.counts["synced"] >= len(synced)  # a connection may sync, then lose access
    assert str(changes).startswith("2026-11-01 09:00 -> 2026-11-08 09:00 UTC: ")


def script(sb: Sandbox) -> list[bytes]:
    """Advance, then read: companies, one company's connections, after another advance."""
    with requests.Session() as s:
        s.headers["Authorization"] = sb.auth_header
        sb.advance(days=7)
        out = [s.get(f"{sb.url}/companies", params={"pageSize": 500}).content]
        cid = sb.store.company_ids()[5]
        s.post(f"{sb.url}/companies/{cid}/connections", json={"platformKey": "gbol"})
        sb.advance(hours=30)
        out.append(s.get(f"{sb.url}/companies/{cid}/connections").content)
        out.append(s.get(f"{sb.url}/companies", params={"pageSize": 500}).content)
    return [body.replace(sb.url.encode(), b"http://sandbox") for body in out]


def test_the_same_seed_and_calls_give_the_same_bytes():
    with Sandbox("demo") as one, Sandbox("demo") as two, Sandbox("other") as three:
        first = script(one)
        assert first == script(two)
        assert first != script(three)


def test_hours_move_the_clock_and_a_stopped_clock_changes_nothing(demo_sandbox):
    start = demo_sandbox.clock.now()
    before = demo_sandbox.store.snapshot()
    assert sum(demo_sandbox.advance().counts.values()) == 0
    assert demo_sandbox.store.snapshot() == before
    changes = demo_sandbox.advance(hours=6)
    assert demo_sandbox.clock.now() == start + timedelta(hours=6)
    assert changes.counts["synced"] > 0


def test_an_empty_sandbox_stays_empty_as_time_passes(sandbox):
    assert sum(sandbox.advance(days=365).counts.values()) == 0
    assert sandbox.store.company_ids() == []


@pytest.mark.parametrize(
    ("options", "error"),
    [({"days": -1}, ValueError), ({"hours": float("inf")}, ValueError),
     ({"days": "7"}, TypeError), ({"hours": True}, TypeError)],
)  # fmt: skip
def test_bad_windows_are_refused(sandbox, options, error):
    with pytest.raises(error, match=next(iter(options))):
        sandbox.advance(**options)


def test_a_day_resets_the_quota_and_expires_one_time_links(demo_sandbox, demo_session):
    demo_sandbox.faults.daily_quota = 1
    url = f"{demo_sandbox.url}/companies"
    first = demo_session.get(url)
    link = first.json()["results"][0]["redirect"]
    assert demo_session.get(url).status_code == 429
    demo_sandbox.advance(days=1)
    assert demo_session.get(url).status_code == 200
    assert requests.get(link, timeout=30).status_code == 410  # issued a day ago
