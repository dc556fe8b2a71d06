"""Webhook events in the history, on both backends: stored once whatever arrives, read back as
a DataFrame, merged into changes() (a change carries when it happened; snapshots win), and
the disagreements between snapshots and events reported."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from codat_nb.history import History
from codat_nb.history.event_log import EVENT_COLUMNS, from_webhook
from tests.integration.history.made_events import RECEIVED, connection_event, wire

HOUR = pd.Timedelta(hours=1)


def _company(row) -> tuple[str, str]:
    return row["company_id"], row["company_name"]


def test_an_event_is_stored_once_whatever_arrives(history):
    row = {"id": "k1", "status": "Deauthorized", "linkUrl": "https://link.example/x?otp=123456&a=1"}
    event = connection_event("connection.disconnected", ("c1", "Acme"), row, "2026-11-02T10:00:00Z")
    again = from_webhook("msg_other", event.body, RECEIVED)  # same event id, another message

    assert history.record_events([event, event]) == [True, False]
    assert history.record_events([event, again]) == [False, False]

    events = history.events()
    assert list(events.columns) == list(EVENT_COLUMNS) and len(events) == 1
    stored = events.iloc[0]
    assert (stored["event_id"], stored["message_id"]) == (event.event_id, event.message_id)
    assert stored["generated_at"] == pd.Timestamp("2026-11-02T10:00:00Z")
    assert stored["received_at"] == RECEIVED
    assert (stored["company_id"], stored["company_name"], stored["status"]) == (
        "c1", "Acme", "Deauthorized")  # fmt: skip
    assert stored["payload"]["connection"]["linkUrl"] == "https://link.example/x?a=1"
    assert history.last_event_at() == RECEIVED


def test_events_filter_by_time_company_and_type(history):
    acme, beta = ("c1", "Acme"), ("c2", "Beta")
    made = [
        connection_event("connection.created", acme, {"id": "k1", "status": "PendingAuth"},
                         "2026-11-01T00:00:00Z"),
        connection_event("connection.connected", acme, {"id": "k1", "status": "Linked"},
                         "2026-11-02T00:00:00Z"),
        connection_event("connection.created", beta, {"id": "k2", "status": "PendingAuth"},
                         "2026-11-03T00:00:00Z"),
    ]  # fmt: skip
    history.record_events(made[::-1])

    assert history.events()["event_id"].tolist() == [e.event_id for e in made]  # oldest first
    assert len(history.events(since="2026-11-02T00:00:00Z")) == 2
    assert len(history.events(until="2026-11-02T00:00:00Z")) == 2
    assert history.events(company_id="c2")["connection_id"].tolist() == ["k2"]
    assert len(history.events(event_type="connection.created")) == 2
    assert len(history.events(event_type=["connection.connected", "company.created"])) == 1


def test_no_events_keep_the_columns_and_dtypes(history):
    events = history.events()
    assert events.empty and list(events.columns) == list(EVENT_COLUMNS)
    assert str(events["generated_at"].dtype) == "datetime64[us, UTC]"
    assert history.last_event_at() is None


def test_no_event_type_asked_for_is_no_events_on_both_backends(history):
    linked = {"id": "k1", "status": "Linked"}
    history.record_events([connection_event("connection.connected", ("c1", "Acme"), linked, 0)])

    assert history.events(event_type=[]).empty
    assert len(history.events(event_type=set())) == 0 and len(history.events()) == 1


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda h: h.events(since="yesterday"), ValueError, "since"),
        (lambda h: h.events(event_type=5), TypeError, "event_type"),
        (lambda h: h.events(company_id=5), TypeError, "company_id"),
        (lambda h: h.record_events([object()]), TypeError, "Event"),
    ],
)
def test_bad_arguments_are_refused(history, call, error, message):
    with pytest.raises(error, match=message):
        call(history)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"eventType": "x", "generatedDate": "2026-11-01T00:00:00Z"}', "id"),
        (b'{"id": "e", "eventType": "x", "generatedDate": "soon"}', "generatedDate"),
        (b'{"id": "e", "eventType": "x", "generatedDate": "2026-11-01T00:00:00Z", '
         b'"payload": 3}', "payload"),
    ],
)  # fmt: skip
def test_a_body_that_is_not_an_event_is_refused_with_the_reason(body, message):
    with pytest.raises(ValueError, match=message):
        from_webhook("msg_1", body, RECEIVED)


@pytest.fixture
def two_snapshots(history, listing, demo_sandbox, next_day):
    """A snapshot, then two Linked connections deauthorized an hour later, then a snapshot a
    day later; the first frame and the two connections."""
    first = listing()
    history.record(first)
    lost = first[first["status"] == "Linked"].head(2)
    for _, row in lost.iterrows():
        demo_sandbox.store.deauthorize(row["company_id"], row["id"])
    next_day()
    history.record(listing())
    return first, lost


def test_a_change_seen_by_an_event_and_a_snapshot_is_one_change_with_its_time(
    history, two_snapshots
):
    first, lost = two_snapshots
    when = first.attrs["server_time"] + HOUR
    row = lost.iloc[0]
    event = connection_event("connection.disconnected", _company(row),
                             wire(row, "Deauthorized"), when)  # fmt: skip
    history.record_events([event])

    changes = history.changes(since=first.attrs["server_time"])

    changed = changes[changes["change"] == "status_changed"]
    assert len(changed) == 2  # one per connection, the event adding no row
    mine = changed[changed["connection_id"] == row["id"]].iloc[0]
    assert (mine["seen_by"], mine["event_id"], mine["at"]) == ("both", event.event_id, when)
    assert (mine["from_status"], mine["to_status"]) == ("Linked", "Deauthorized")
    other = changed[changed["connection_id"] != row["id"]].iloc[0]
    assert other["seen_by"] == "snapshot" and pd.isna(other["at"])
    assert changes.iloc[0]["connection_id"] == row["id"]  # sorted by when it happened
    assert history.disagreements(since=first.attrs["server_time"]).empty


def test_events_after_the_latest_snapshot_are_changes_too(history, two_snapshots, listing):
    first, lost = two_snapshots
    latest = history.snapshots()["taken_at"].iloc[-1]
    row = lost.iloc[0]
    event = connection_event("connection.reconnected", _company(row), wire(row, "Linked"),
                             latest + HOUR)  # fmt: skip
    history.record_events([event])

    changes = history.changes(since=latest)

    assert len(changes) == 1
    found = changes.iloc[0]
    assert (found["change"], found["seen_by"], found["at"]) == ("status_changed", "event",
                                                                latest + HOUR)  # fmt: skip
    assert (found["from_status"], found["to_status"]) == ("Deauthorized", "Linked")  # the snapshot
    assert found["from_at"] == latest and pd.isna(found["to_at"])
    assert history.changes(since=latest, until=latest + HOUR / 2).empty


def test_steps_between_two_snapshots_are_each_a_change(history, two_snapshots):
    """Linked -> Deauthorized -> Linked -> Deauthorized between the snapshots: the snapshot
    sees one change (the last event's), the events the two steps before it."""
    first, lost = two_snapshots
    start, row = first.attrs["server_time"], lost.iloc[0]
    steps = [("connection.disconnected", "Deauthorized"), ("connection.reconnected", "Linked"),
             ("connection.disconnected", "Deauthorized")]  # fmt: skip
    made = [connection_event(kind, _company(row), wire(row, status), start + (n + 1) * HOUR)
            for n, (kind, status) in enumerate(steps)]  # fmt: skip
    history.record_events(made)

    mine = history.changes(since=start).query(f"connection_id == '{row['id']}'")

    assert mine["seen_by"].tolist() == ["event", "event", "both"]
    assert mine["event_id"].tolist() == [e.event_id for e in made]
    assert list(zip(mine["from_status"], mine["to_status"], strict=True)) == [
        ("Linked", "Deauthorized"),
        ("Deauthorized", "Linked"),
        ("Linked", "Deauthorized"),
    ]


def test_a_snapshot_that_contradicts_the_events_wins_and_is_reported(
    history, two_snapshots, demo_sandbox, listing, next_day
):
    """An event said Deauthorized; the next snapshot lists the connection Linked (the
    reconnection's event was missed)."""
    first, lost = two_snapshots
    latest = history.snapshots()["taken_at"].iloc[-1]
    keeps = first[(first["status"] == "Linked") & ~first["id"].isin(lost["id"])].iloc[0]
    event = connection_event("connection.disconnected", _company(keeps),
                             wire(keeps, "Deauthorized"), latest + HOUR)  # fmt: skip
    history.record_events([event])
    next_day()
    history.record(listing())

    found = history.disagreements(since=latest)
    changes = history.changes(since=latest)

    assert len(found) == 1
    row = found.iloc[0]
    assert (row["connection_id"], row["snapshot_status"], row["event_status"]) == (
        keeps["id"], "Linked", "Deauthorized")  # fmt: skip
    assert (row["event_id"], row["event_at"]) == (event.event_id, latest + HOUR)
    assert row["taken_at"] == history.snapshots()["taken_at"].iloc[-1]
    assert history.at(row["taken_at"]).set_index("id").loc[keeps["id"], "status"] == "Linked"
    assert changes[changes["seen_by"] == "event"]["connection_id"].tolist() == [keeps["id"]]


def test_duplicates_and_out_of_order_arrival_give_the_same_history(store, two_snapshots):
    first, lost = two_snapshots
    start = first.attrs["server_time"]
    made = []
    for n, (_, row) in enumerate(lost.iterrows()):
        made.append(
            connection_event(
                "connection.disconnected",
                _company(row),
                wire(row, "Deauthorized"),
                start + (n + 1) * HOUR,
            )
        )
        made.append(connection_event("connection.reconnected", _company(row),
                                     wire(row, "Linked"), start + (n + 2) * HOUR))  # fmt: skip
    with store.open() as history:
        clean = _as_recorded(history, made, [made])
    arrivals = [made, made[:2], list(reversed(made))]
    random.Random(20).shuffle(arrivals)
    with store.open() as history:
        messy = _as_recorded(history, made, arrivals)

    for name in ("events", "changes", "disagreements"):
        pd.testing.assert_frame_equal(clean[name], messy[name])


def _as_recorded(history: History, made, arrivals) -> dict[str, pd.DataFrame]:
    """The history's view after ``arrivals`` (lists of events) were recorded, then forgotten
    again (so the same history serves the next arrival order)."""
    for batch in arrivals:
        history.record_events(batch)
    since = history.snapshots()["taken_at"].iloc[0]
    seen = {
        "events": history.events().drop(columns=["received_at"]),
        "changes": history.changes(since=since),
        "disagreements": history.disagreements(since=since),
    }
    history._db.write("forget", lambda: history._db.execute("DELETE FROM event"))
    assert len(seen["events"]) == len(made)
    return seen


def test_a_version_3_history_is_upgraded_to_hold_events(store, listing):
    """A history written before events existed (version 3) gains the table, keeps the rest."""
    with store.open() as history:
        history.record(listing())
        snapshots = history.snapshots()
    version = "PRAGMA user_version = 3" if store.name == "sqlite" else (
        "UPDATE codat_nb_history SET version = 3")  # fmt: skip
    store.sql("DROP TABLE event", version)

    with store.open() as history:
        assert history.events().empty
        pd.testing.assert_frame_equal(history.snapshots(), snapshots)
        made = connection_event("connection.created", ("c1", "Acme"), {"id": "k1"}, "2027-01-01")
        assert history.record_events([made]) == [True]
    found = store.rows("SELECT count(*) FROM event")
    assert found == [(1,)]


def test_a_change_no_event_reported_is_a_disagreement_once(
    history, two_snapshots, demo_sandbox, listing, next_day
):
    """The event said Deauthorized and the next snapshot agreed; the re-link's event was missed:
    the snapshot after it disagrees (reported), and the one after that is not reported again."""
    first, lost = two_snapshots
    row = lost.iloc[0]
    event = connection_event("connection.disconnected", _company(row), wire(row, "Deauthorized"),
                             first.attrs["server_time"] + HOUR)  # fmt: skip
    history.record_events([event])
    demo_sandbox.store.link(row["company_id"], row["id"])  # no event for it
    for _ in range(2):
        next_day()
        history.record(listing())
    times = history.snapshots()["taken_at"]

    found = history.disagreements(since=times.iloc[0])

    assert found["connection_id"].tolist() == [row["id"]]
    assert found.iloc[0]["taken_at"] == times.iloc[2]
    assert (found.iloc[0]["snapshot_status"], found.iloc[0]["event_status"]) == (
        "Linked", "Deauthorized")  # fmt: skip
    changed = history.changes(since=times.iloc[1]).query(
        f"connection_id == '{row['id']}' and change == 'status_changed'"
    )
    assert changed["seen_by"].tolist() == ["snapshot"]  # the re-link, seen by the snapshot alone
