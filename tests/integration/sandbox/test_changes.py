"""The store's change feed: every record created, changed or deleted reaches the listeners,
whatever causes it (the API, the link page, ``sb.store`` helpers, ``sb.advance``, bulk loads),
in order, once, and nothing else does (a refused request or link publishes nothing).

The proof is a mirror: a listener that starts from the store's records and applies only the
changes it hears of. After each step its copy must equal the store's own records, so a write
that bypassed the feed would show as a difference.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest
import requests

from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.changes import Change, ChangeKind
from codat_nb.sandbox.shapes import stamp

CREATED, DELETED = ChangeKind.CONNECTION_CREATED, ChangeKind.CONNECTION_DELETED
CHANGED = ChangeKind.CONNECTION_CHANGED


class Mirror:
    """The store's records rebuilt from its changes alone."""

    def __init__(self, sb: Sandbox):
        self.sb = sb
        with sb.store.locked():
            state = json.loads(sb.store.snapshot()[2])
            self.companies: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
                details["id"]: (details, {row["id"]: row for row in rows})
                for details, rows in state
            }
            self.changes: list[Change] = []
            self.unsubscribe = sb.store.subscribe(self.hear)

    def hear(self, change: Change) -> None:
        self.changes.append(change)
        company_id = change.company["id"]
        if change.kind is ChangeKind.COMPANY_CREATED:
            self.companies[company_id] = (dict(change.company), {})
        elif change.kind is ChangeKind.COMPANY_DELETED:
            assert self.companies.pop(company_id)[1] == {}, "its connections are deleted first"
        else:
            assert change.connection is not None
            rows = self.companies[company_id][1]
            connection_id = change.connection["id"]
            if change.kind is DELETED:
                assert rows.pop(connection_id) == change.connection
            else:
                assert (connection_id in rows) == (change.kind is CHANGED)
                assert rows.get(connection_id) == change.previous
                rows[connection_id] = dict(change.connection)

    def matches_the_store(self) -> bool:
        state = [[details, list(rows.values())] for details, rows in self.companies.values()]
        return json.dumps(state, sort_keys=True) == self.sb.store.snapshot()[2]

    def take(self) -> list[Change]:
        """The changes heard since the last ``take``, after checking the copy."""
        assert self.matches_the_store()
        taken, self.changes = self.changes, []
        return taken


def transitions(changes: list[Change]) -> list[tuple[str, str | None, str | None]]:
    return [(c.kind.name, c.previous_status, c.status) for c in changes]


@pytest.fixture
def otp_demo():
    """The demo portfolio with one-time links (the realistic account)."""
    with Sandbox(seed="demo") as sb:
        yield sb


def link(url: str) -> requests.Response:
    """The customer opening a link URL in a browser."""
    return requests.get(url, headers={"User-Agent": "Mozilla/5.0"}, timeout=30)


def test_every_kind_of_change_reaches_the_listener_whatever_causes_it(otp_demo, auth_session):
    sb, session = otp_demo, auth_session(otp_demo)
    mirror = Mirror(sb)
    api = sb.url

    company = session.post(f"{api}/companies", json={"name": "Seam Ltd"}).json()
    (created,) = mirror.take()
    assert (created.kind, created.company["id"], created.connection) == (
        ChangeKind.COMPANY_CREATED,
        company["id"],
        None,
    )
    assert stamp(created.at) == company["created"]

    made = session.post(
        f"{api}/companies/{company['id']}/connections", json={"platformKey": "gbol"}
    )
    connection = made.json()
    assert transitions(mirror.take()) == [("CONNECTION_CREATED", None, "PendingAuth")]

    assert link(connection["linkUrl"]).status_code == 200  # the customer finishes the flow
    (linked,) = mirror.take()
    assert (linked.previous_status, linked.status, linked.status_changed) == (
        "PendingAuth",
        "Linked",
        True,
    )
    assert linked.connection is not None and linked.connection["lastSync"] == stamp(linked.at)

    assert link(connection["linkUrl"]).status_code == 410  # a used link: refused, no change
    assert mirror.take() == []

    path = f"{api}/companies/{company['id']}/connections/{connection['id']}"
    assert session.patch(path, json={"status": "Unlinked"}).status_code == 200
    shown = session.get(path).json()
    assert link(shown["linkUrl"]).status_code == 200  # re-linked through a fresh link
    partner = sb.store.create_partner_expense_connection(company["id"])["id"]
    sb.store.deauthorize(company["id"], connection["id"])
    sb.store.sync(company["id"], partner)
    assert transitions(mirror.take()) == [
        ("CONNECTION_CHANGED", "Linked", "Unlinked"),
        ("CONNECTION_CHANGED", "Unlinked", "Linked"),
        ("CONNECTION_CREATED", None, "Linked"),
        ("CONNECTION_CHANGED", "Linked", "Deauthorized"),
        ("CONNECTION_CHANGED", "Linked", "Linked"),  # a sync: lastSync moves, status stays
    ]

    assert session.patch(path, json={"status": "Unlinked"}).status_code == 400  # Deauthorized
    assert session.delete(path).status_code == 200
    assert session.delete(path).status_code == 404
    assert transitions(mirror.take()) == [("CONNECTION_DELETED", None, "Deauthorized")]

    assert session.delete(f"{api}/companies/{company['id']}").status_code == 204
    assert transitions(mirror.take()) == [
        ("CONNECTION_DELETED", None, "Linked"),  # the partner expense connection first
        ("COMPANY_DELETED", None, None),
    ]


def test_time_travel_publishes_each_of_its_events(otp_demo):
    mirror = Mirror(otp_demo)
    happened = otp_demo.advance(days=30)
    changes = mirror.take()
    kinds = Counter(c.kind for c in changes)
    moves = Counter((c.previous_status, c.status) for c in changes if c.status_changed)
    counts = happened.counts
    assert counts["lost access"] > 0 and counts["linked"] > 0 and counts["synced"] > 0
    assert moves[("Linked", "Deauthorized")] == counts["lost access"]
    assert moves[("PendingAuth", "Linked")] == counts["linked"]
    synced = [c for c in changes if c.kind is CHANGED and not c.status_changed]
    assert len(synced) == counts["synced"]
    assert kinds[ChangeKind.COMPANY_CREATED] == counts["companies created"]
    assert kinds[ChangeKind.COMPANY_DELETED] == counts["companies deleted"]
    assert kinds[CREATED] >= counts["connections created"]  # sign-ups bring one too
    assert kinds[DELETED] >= counts["connections deleted"]  # a deleted company takes its own
    assert [c.at for c in changes] == sorted(c.at for c in changes)  # in the order they happen
    assert happened.start <= changes[0].at and changes[-1].at <= happened.end


def test_bulk_loads_publish_every_record(sandbox):
    mirror = Mirror(sandbox)
    company_id = sandbox.load_scale(40)
    portfolio = sandbox.load_portfolio(companies=3, connections_per_company=2)
    changes = mirror.take()
    assert Counter(c.kind for c in changes) == {ChangeKind.COMPANY_CREATED: 4, CREATED: 46}
    assert [c.company["id"] for c in changes if c.kind is not CREATED] == [company_id, *portfolio]


def test_a_replayed_request_or_a_refused_one_publishes_nothing(sandbox, session):
    mirror = Mirror(sandbox)
    key = {"Idempotency-Key": str(uuid.UUID(int=7))}
    first = session.post(f"{sandbox.url}/companies", json={"name": "Once Ltd"}, headers=key)
    again = session.post(f"{sandbox.url}/companies", json={"name": "Once Ltd"}, headers=key)
    assert first.content == again.content
    assert [c.kind for c in mirror.take()] == [ChangeKind.COMPANY_CREATED]
    company = first.json()["id"]
    refused = [
        session.post(f"{sandbox.url}/companies", json={"name": "((("}),
        session.post(f"{sandbox.url}/companies/{company}/connections", json={"platformKey": "x"}),
        session.post(
            f"{sandbox.url}/companies/{uuid.UUID(int=1)}/connections", json={"platformKey": "gbol"}
        ),
    ]
    assert [r.status_code for r in refused] == [400, 400, 404]
    assert mirror.take() == []


def test_a_listener_sees_the_store_as_the_change_left_it_and_can_stop(sandbox):
    seen: list[str] = []

    def read_back(change: Change) -> None:
        if change.connection is not None:
            row = sandbox.store.get_connection_wire(change.company["id"], change.connection["id"])
            seen.append(row["status"])

    stop = sandbox.store.subscribe(read_back)
    company = sandbox.store.create_company("Reader Ltd")["id"]
    connection = sandbox.store.create_connection(company, "gbol")["id"]
    sandbox.store.link(company, connection)
    stop()
    sandbox.store.unlink(company, connection)
    assert seen == ["PendingAuth", "Linked"]


def test_a_failing_listener_fails_the_writer_after_the_change(sandbox):
    def broken(change: Change) -> None:
        raise RuntimeError("listener bug")

    sandbox.store.subscribe(broken)
    with pytest.raises(RuntimeError, match="listener bug"):
        sandbox.store.create_company("Loud Ltd")
    assert len(sandbox.store.company_ids()) == 1  # applied, then the listener failed
