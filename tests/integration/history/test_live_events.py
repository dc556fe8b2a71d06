"""Sandbox to receiver to history over real HTTP, on both backends: the sandbox's webhooks
(signed, retried on its clock, duplicated and reordered by its knobs) stored by the receiver,
each event exactly once, even when the receiver is killed in the middle of a burst."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from codat_nb.events import Receiver
from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.webhooks.events import SENT
from tests.integration.history.test_listen_command import Listening
from tests.support import ROOT

CONNECTION_EVENTS = [t for t in SENT if t.startswith("connection.")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_status_change_arrives_in_the_history_with_its_time(
    store, demo_sandbox, listing, next_day
):
    sb = demo_sandbox
    port = free_port()  # the URL is registered first: the secret comes with the consumer
    consumer = sb.webhooks.create(f"http://127.0.0.1:{port}/", CONNECTION_EVENTS)
    secret = sb.webhook_secret(consumer["id"])
    with store.open() as history, Receiver(history, secret=secret, port=port, clock=sb.clock.now):
        first = listing()
        history.record(first)
        linked = first[first["status"] == "Linked"]
        lost, back = linked.iloc[0], linked.iloc[1]
        sb.store.deauthorize(lost["company_id"], lost["id"])
        sb.store.deauthorize(back["company_id"], back["id"])
        sb.store.link(back["company_id"], back["id"])
        sb.webhooks.flush()
        events = history.events()
        next_day()
        history.record(listing())
        changes = history.changes(since=first.attrs["server_time"])

    sent = [a for a in sb.webhooks.attempts() if a.succeeded]
    assert events["event_id"].tolist() == [a.event_id for a in sent]
    assert events["event_type"].tolist() == ["connection.disconnected"] * 2 + [
        "connection.reconnected"]  # fmt: skip
    assert events["received_at"].is_monotonic_increasing
    mine = changes[changes["connection_id"] == lost["id"]].iloc[0]
    assert (mine["seen_by"], mine["to_status"]) == ("both", "Deauthorized")
    assert mine["at"] == events["generated_at"].iloc[0]
    steps = changes[changes["connection_id"] == back["id"]]
    assert steps["seen_by"].tolist() == ["event", "event"]  # the snapshots saw Linked, Linked
    assert steps["to_status"].tolist() == ["Deauthorized", "Linked"]


def _burst_script(sb: Sandbox, receiver_url: str) -> tuple[str, str]:
    """A consumer of connection events at ``receiver_url``; (its secret, a company id)."""
    consumer = sb.webhooks.create(receiver_url, CONNECTION_EVENTS)
    company = sb.store.create_company("Burst Ltd")["id"]
    return sb.webhook_secret(consumer["id"]), company


def test_a_receiver_killed_mid_burst_ends_with_every_event_exactly_once(store):
    """kill -9 while the sandbox delivers a burst; the sandbox's retries (driven by
    sb.advance) bring every event once the receiver is back."""
    count = 150
    db, db_env = store.cli()
    with Sandbox(seed="burst", rate_limits=False) as sb:
        port = free_port()
        secret, company = _burst_script(sb, f"http://127.0.0.1:{port}/")
        env = {**db_env, "CODAT_WEBHOOK_SECRET": secret}
        first = Listening("--db", db, "--port", str(port), env=env, port_given=True)
        burst = threading.Thread(target=lambda: [
            sb.store.create_connection(company, "gbol") for _ in range(count)])  # fmt: skip
        burst.start()
        while len(sb.webhooks.attempts()) < count // 3:
            time.sleep(0.005)
        first.process.send_signal(signal.SIGKILL)
        first.process.communicate(timeout=30)
        burst.join()
        sb.webhooks.flush()
        failed = sum(not a.succeeded for a in sb.webhooks.attempts())
        again = Listening("--db", db, "--port", str(port), env=env, port_given=True)
        sb.advance(hours=1)
        sb.webhooks.flush(timeout=120)
        code, err = again.stop()
        delivered = {a.event_id for a in sb.webhooks.attempts() if a.succeeded}

    assert failed > 0 and code == 0, err
    with store.open() as history:
        events = history.events(event_type="connection.created")
    assert len(events) == count and events["event_id"].is_unique
    assert set(events["event_id"]) == delivered
    assert sb.webhooks.pending() == []


def _trouble_script(sb: Sandbox, history) -> dict[str, pd.DataFrame]:
    """The same calls; what the history holds after them."""
    port = free_port()
    secret, company = _burst_script(sb, f"http://127.0.0.1:{port}/")
    with Receiver(history, secret=secret, port=port):
        ids = [sb.store.create_connection(company, "gbol")["id"] for _ in range(12)]
        for connection_id in ids[:8]:
            sb.store.link(company, connection_id)
        for connection_id in ids[:4]:
            sb.store.deauthorize(company, connection_id)
        for connection_id in ids[:2]:
            sb.store.link(company, connection_id)
        sb.store.delete_connection(company, ids[-1])
        sb.webhooks.flush()
        sb.advance(hours=1)
        sb.webhooks.flush()
    return {
        "events": history.events().drop(columns=["received_at", "payload"]),
        "changes": history.changes(since="2000-01-01T00:00:00Z"),
    }


@pytest.mark.parametrize("knob", ["webhook_duplicate_rate", "webhook_reorder_rate"])
def test_duplicates_and_out_of_order_give_the_same_history_as_clean_delivery(store, knob):
    with Sandbox(seed="trouble") as clean_sb, store.open() as history:
        clean = _trouble_script(clean_sb, history)
        history._db.write("forget", lambda: history._db.execute("DELETE FROM event"))
        with Sandbox(seed="trouble", **{knob: 0.5}) as messy_sb:
            messy = _trouble_script(messy_sb, history)
            attempts = messy_sb.webhooks.attempts()

    assert len(clean["events"]) == 12 + 8 + 4 + 2 + 1
    if knob == "webhook_duplicate_rate":
        assert any(a.duplicate for a in attempts)
    else:
        arrived = [a.event_id for a in attempts]
        assert arrived != clean["events"]["event_id"].tolist()
    for name in ("events", "changes"):
        pd.testing.assert_frame_equal(clean[name], messy[name])


def test_messages_signed_for_another_endpoint_are_refused_and_retried(store, sandbox):
    port = free_port()
    mine = sandbox.webhooks.create(f"http://127.0.0.1:{port}/", CONNECTION_EVENTS)
    sandbox.webhooks.create(f"http://127.0.0.1:{port}/other", CONNECTION_EVENTS)
    company = sandbox.store.create_company("Two Endpoints Ltd")["id"]
    with (
        store.open() as history,
        Receiver(history, secret=sandbox.webhook_secret(mine["id"]), port=port) as receiver,
    ):
        sandbox.store.create_connection(company, "gbol")
        sandbox.webhooks.flush()
        statuses = sorted(a.status for a in sandbox.webhooks.attempts())
        assert statuses == [200, 401]  # the other consumer's message: not ours, retried later
        assert len(history.events()) == 1 and receiver.counts.rejected == 1


def test_the_listen_command_is_in_the_cli_help():
    ran = subprocess.run([sys.executable, "-m", "codat_nb", "--help"], capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})  # fmt: skip
    assert "listen" in ran.stdout and "webhook-secret" in ran.stdout


def test_the_portfolio_view_filters_by_recent_events_and_says_when_the_last_arrived(
    store, demo_sandbox, client
):
    from codat_nb.notebook.portfolio_view import PortfolioView

    sb = demo_sandbox
    port = free_port()
    consumer = sb.webhooks.create(f"http://127.0.0.1:{port}/", CONNECTION_EVENTS)
    linked = client.connections.list_all(progress=False).query("status == 'Linked'")
    with store.open() as history, Receiver(history, secret=sb.webhook_secret(consumer["id"]),
                                           port=port, clock=sb.clock.now):  # fmt: skip
        empty = PortfolioView(client, history=history)
        earlier, recent = linked.iloc[0], linked.iloc[1]
        sb.store.deauthorize(earlier["company_id"], earlier["id"])
        sb.clock.set(sb.clock.now() + pd.Timedelta(hours=3))
        sb.store.deauthorize(recent["company_id"], recent["id"])
        sb.webhooks.flush()
        last = history.last_event_at()
        view = PortfolioView(client, history=history)
        view.events_filter.dropdown.value = "Last hour"
        in_the_hour = set(view.visible_connections()["id"])
        view.events_filter.dropdown.value = "Last day"
        in_the_day = set(view.visible_connections()["id"])

    assert "No webhook event received yet" in empty.events_filter.line.value
    assert empty.events_filter.dropdown.layout.display == "flex"
    assert (in_the_hour, in_the_day) == ({recent["id"]}, {recent["id"], earlier["id"]})
    assert last == sb.clock.now()
    assert (
        f"Last webhook event received {last:%Y-%m-%d %H:%M:%S} UTC" in view.events_filter.line.value
    )
    view._apply("Deauthorized", "Any")  # a preset clears the events filter
    assert view.events_filter.dropdown.value == "Any time"


def test_without_events_the_events_filter_stays_hidden(demo_sandbox, client):
    from codat_nb.notebook.portfolio_view import PortfolioView

    class SnapshotsOnly:
        def changes(self, since):
            return pd.DataFrame({"connection_id": []})

    for history in (None, SnapshotsOnly()):
        view = PortfolioView(client, history=history)
        assert view.events_filter.dropdown.layout.display == "none"
        assert view.events_filter.line.value == ""
        assert len(view.visible_connections()) == len(view.portfolio)


def test_a_history_that_cannot_be_read_is_said_and_the_listing_still_shows(
    store, demo_sandbox, client
):
    """The history down (closed here; a database restarting, a file locked) must not break
    Reload portfolio halfway or the "Event in" filter: the view says why, shows no row it
    cannot vouch for, and lists the portfolio as usual."""
    from codat_nb.notebook.portfolio_view import PortfolioView

    history = store.open()
    view = PortfolioView(client, history=history)
    history.close()
    first = demo_sandbox.store.company_ids()[0]
    demo_sandbox.store.delete_company(first)

    view.reload()
    summary, line_after_reload = view.summary.value, view.events_filter.line.value
    view.events_filter.dropdown.value = "Last hour"

    assert first not in set(view.portfolio["company_id"])
    assert f"{len(view.portfolio):,} of {len(view.portfolio):,} connections match" in summary
    assert "Cannot read the webhook events" in line_after_reload
    assert "this History was closed" in view.events_filter.line.value
    assert view.visible_connections().empty
    view.events_filter.dropdown.value = "Any time"
    assert len(view.visible_connections()) == len(view.portfolio)


def test_the_changed_filter_of_a_history_that_cannot_be_read_says_so(
    store, client, listing, demo_sandbox, next_day
):
    """The "Changed" filter as the "Event in" one: the history down shows no row it cannot
    vouch for, the summary says why, and the view keeps working once it can be read."""
    from codat_nb.notebook.portfolio_view import PortfolioView

    with store.open() as recorder:
        first = recorder.record(listing())
        lost = listing().query("status == 'Linked'").iloc[0]
        demo_sandbox.store.deauthorize(lost["company_id"], lost["id"])
        next_day()
        assert recorder.record(listing()).previous == first.taken_at
    history = store.open()
    view = PortfolioView(client, history=history)
    history.close()

    view.changed_filter.value = "Last 7 days"

    assert view.visible_connections().empty
    assert "Cannot read the history" in view.summary.value
    assert "this History was closed" in view.summary.value
    assert "<script" not in view.summary.value
    view.history = store.open()  # back: asked again at the next redraw
    view.changed_filter.value = "Last 24 hours"
    view.changed_filter.value = "Last 7 days"
    assert "Cannot read the history" not in view.summary.value
    assert view.visible_connections()["id"].tolist() == [lost["id"]]
    view.history.close()
