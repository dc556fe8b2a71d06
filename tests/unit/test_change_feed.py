"""The change feed on its own: who hears a change, in which order, and how one stops hearing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from codat_nb.sandbox.changes import Change, ChangeFeed, ChangeKind

AT = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
COMPANY = {"id": "c1", "name": "Acme Ltd"}


def connection_change(before: str | None, after: str) -> Change:
    previous = None if before is None else {"id": "k1", "status": before}
    kind = ChangeKind.CONNECTION_CREATED if before is None else ChangeKind.CONNECTION_CHANGED
    return Change(kind, AT, COMPANY, {"id": "k1", "status": after}, previous)


def test_listeners_hear_in_the_order_they_subscribed_until_they_stop():
    feed, heard = ChangeFeed(), []
    stop_first = feed.subscribe(lambda change: heard.append(("first", change.kind)))
    feed.subscribe(lambda change: heard.append(("second", change.kind)))
    feed.publish(Change(ChangeKind.COMPANY_CREATED, AT, COMPANY))
    stop_first()
    stop_first()  # stopping twice is harmless
    feed.publish(Change(ChangeKind.COMPANY_DELETED, AT, COMPANY))
    assert heard == [
        ("first", ChangeKind.COMPANY_CREATED),
        ("second", ChangeKind.COMPANY_CREATED),
        ("second", ChangeKind.COMPANY_DELETED),
    ]


def test_the_same_function_subscribed_twice_is_two_subscriptions():
    feed, heard = ChangeFeed(), []
    stop = feed.subscribe(heard.append)
    feed.subscribe(heard.append)
    stop()
    change = Change(ChangeKind.COMPANY_CREATED, AT, COMPANY)
    feed.publish(change)
    assert heard == [change]
    assert feed.heard


def test_nobody_listening_is_known_and_a_listener_must_be_callable():
    feed = ChangeFeed()
    assert not feed.heard
    feed.subscribe(lambda change: None)()
    assert not feed.heard
    with pytest.raises(TypeError, match="callable"):
        feed.subscribe("not a function")  # type: ignore[arg-type]


def test_a_change_says_whether_and_how_the_status_moved():
    created, relinked, synced = (
        connection_change(None, "PendingAuth"),
        connection_change("Deauthorized", "Linked"),
        connection_change("Linked", "Linked"),
    )
    assert (created.previous_status, created.status, created.status_changed) == (
        None,
        "PendingAuth",
        False,
    )
    assert (relinked.previous_status, relinked.status, relinked.status_changed) == (
        "Deauthorized",
        "Linked",
        True,
    )
    assert not synced.status_changed
    company = Change(ChangeKind.COMPANY_CREATED, AT, COMPANY)
    assert (company.status, company.previous_status, company.status_changed) == (None, None, False)
    assert str(relinked) == "2026-11-01 09:00:00 connection changed k1 Deauthorized -> Linked"
    assert str(company) == "2026-11-01 09:00:00 company created c1"
