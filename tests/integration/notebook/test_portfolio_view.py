"""PortfolioView driven through its child widgets against the demo sandbox over HTTP."""

from __future__ import annotations

import base64

import pandas as pd
import pytest

import codat_nb
from codat_nb.analysis import stale
from codat_nb.exceptions import ServerError
from codat_nb.notebook.portfolio_view import PortfolioView
from tests.hostile import Answer, connection, hostile, page


@pytest.fixture
def view(demo_sandbox, make_client) -> PortfolioView:
    return PortfolioView(make_client(demo_sandbox))


def shown(view: PortfolioView) -> pd.DataFrame:
    return view.portfolio.set_index("id").loc[view.table.ids]


def press(view: PortfolioView, label: str) -> None:
    next(b for b in view.preset_buttons if b.description == label).click()


def test_the_whole_portfolio_in_one_listing(view, demo_sandbox):
    wire = {
        c["id"]
        for cid in demo_sandbox.store.company_ids()
        for c in demo_sandbox.store.connections_wire(cid)
    }
    assert set(view.table.ids) == wire and view.table.total == len(wire)
    assert len(view.table.rows) == 25  # one page reaches the browser
    assert f"{len(wire):,} of {len(wire):,} connections match" in view.summary.value
    assert repr(view).startswith(f"PortfolioView(connections={len(wire)} shown of {len(wire)}")


def test_presets_answer_the_usual_questions(view):
    now = view.server_time
    press(view, "Lost access")
    assert set(shown(view)["status"]) == {"Deauthorized"}
    assert len(view.table.ids) == (view.portfolio["status"] == "Deauthorized").sum()
    press(view, "Pending over 7 days")
    pending = view.portfolio[view.portfolio["status"] == "PendingAuth"]
    assert set(view.table.ids) == set(stale(pending, "7D", now=now)["id"])
    assert (now - shown(view)["created"] > pd.Timedelta("7D")).all()
    press(view, "No sync in 30 days")
    linked = view.portfolio[view.portfolio["status"] == "Linked"]
    assert set(view.table.ids) == set(stale(linked, "30D", now=now)["id"])
    assert view.status_filter.value == "Linked" and view.staleness_filter.value == "30 days"
    view.clear_filters_button.click()
    assert view.table.total == len(view.portfolio)


def test_filters_combine_and_search_finds_companies_by_name_or_id(view, demo_sandbox):
    view.platform_filter.value = "Xero"
    view.source_filter.value = "Accounting"
    assert set(shown(view)["platform_name"]) == {"Xero"}
    view.platform_filter.value = "All"
    view.search.value = "driftwood"
    assert all("driftwood" in n.casefold() for n in shown(view)["company_name"])
    company = demo_sandbox.store.company_ids()[5]
    view.search.value = company[:8].upper()
    assert set(shown(view)["company_id"]) == {company}


def test_the_banner_says_where_the_rows_come_from_when_and_what_they_hold(view, demo_sandbox):
    store = demo_sandbox.store
    companies = store.company_ids()
    connected = [c for c in companies if store.connections_wire(c)]
    without = len(companies) - len(connected)
    assert without > 0
    text = view.banner.value
    assert f"Codat API at {demo_sandbox.url}</div>" in text
    assert (
        f"Portfolio listed at {demo_sandbox.clock.now():%Y-%m-%d %H:%M:%S} UTC (server time): "
        f"{len(view.portfolio):,} connections of {len(connected):,} companies. {without:,} "
        "more companies have no connections, so no row below"
    ) in text
    assert view.server_time == demo_sandbox.clock.now()


def test_the_banner_of_the_embedded_demo_and_of_a_named_source(demo_sandbox, make_client):
    client = make_client(demo_sandbox)
    client.sandbox = demo_sandbox  # what connect() sets when no key is set
    try:
        assert "Demo sandbox (no API key set)</div>" in PortfolioView(client).banner.value
    finally:
        client.sandbox = None  # the fixture's sandbox is not the client's to stop
    named = PortfolioView(make_client(demo_sandbox), source="Production <EU>", load=False)
    assert "Production &lt;EU&gt;</div>" in named.banner.value
    assert "Portfolio listed" not in named.banner.value and named.table.total == 0
    named.reload()
    assert "Portfolio listed" in named.banner.value and named.table.total > 0
    with pytest.raises(TypeError, match="source must be a str or None, not int"):
        PortfolioView(make_client(demo_sandbox), source=1)


def test_the_portfolio_is_one_request_and_no_manager_waits_empty(demo_sandbox, make_client):
    before = demo_sandbox.store.request_count
    view = PortfolioView(make_client(demo_sandbox))
    assert demo_sandbox.store.request_count - before == 1  # companies with their connections
    assert view._manager is None and view.manager_box.layout.display == "none"
    assert view.open_hint.layout.display != "none"
    assert "Click a row to open its company here" in view.open_hint.children[0].value


def test_open_a_company_shows_the_manager_with_every_company_without_listing_again(
    view, demo_sandbox
):
    before = demo_sandbox.store.request_count
    view.open_company_button.click()
    companies = demo_sandbox.store.company_ids()
    assert len(view.manager.company_select.options) == len(companies)
    assert demo_sandbox.store.request_count == before  # the view's listing, handed over
    without = sum(not demo_sandbox.store.connections_wire(c) for c in companies)
    assert f"{len(companies)} companies ({without} with no connections); pick one" in (
        view.manager.status_line.value
    )
    assert view.manager_box.layout.display == "flex" and view.open_hint.layout.display == "none"
    assert view.manager_anchor.reveals == 1


def test_a_row_click_opens_its_company_in_the_manager_with_that_connection(view):
    press(view, "Lost access")
    row = view.table.ids[3]
    company = view.portfolio.set_index("id").loc[row, "company_id"]
    view.table.selected = [row]
    assert view.manager.company_id == company
    assert view.manager.selected == [row] and row in view.manager.details.value
    assert view.manager_anchor.reveals == 1  # the browser scrolls the manager into view
    view.table.selected = [view.table.ids[4]]
    assert view.manager_anchor.reveals == 2


def test_a_reload_hands_the_fresh_companies_to_the_manager(view, demo_sandbox, make_company):
    view.open_company_button.click()
    added = make_company(demo_sandbox, 0)
    view.reload_button.click()
    assert added in {value for _, value in view.manager.company_select.options}
    assert "more companies have no connections" in view.banner.value


def test_a_server_whose_companies_carry_no_connections_is_walked_per_company():
    company = "3f0e6b7e-2c4a-4b8e-9a57-0d8c2b1f4e6a"

    def answer(asked):
        if asked.path == "/companies":  # no dataConnections
            return Answer(body=page([{"id": company, "name": "A Ltd", "redirect": "x"}]))
        return Answer(body=page([connection(1)]))

    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.warns(codat_nb.CodatWarning, match="carry no dataConnections"),
    ):
        view = PortfolioView(client)
    assert list(view.portfolio["company_name"]) == ["A Ltd"] and view.table.total == 1
    assert "1 connection of 1 company." in view.banner.value


def test_clicking_the_same_row_again_opens_it_again(view):
    """After moving on in the manager, a second click on the portfolio row brings it back
    (a click toggles a row's selection in the browser, so a row left selected would not)."""

    def click(row: str) -> None:
        selected = view.table.selected
        view.table.selected = [i for i in selected if i != row] if row in selected else [row]

    press(view, "Lost access")
    row = view.table.ids[0]
    click(row)
    other = next(c for c in view.manager.companies["company_id"] if c != view.manager.company_id)
    view.manager.show_company(other)
    assert view.manager.selected == []

    click(row)

    assert view.manager.selected == [row] and row in view.manager.details.value


def test_what_the_manager_changes_shows_in_the_portfolio(view, demo_sandbox):
    view.status_filter.value = "Linked"
    row = view.table.ids[0]
    view.table.selected = [row]
    view.manager.unlink_button.click()
    view.manager.confirm_button.click()
    company = view.manager.company_id
    assert demo_sandbox.store.get_connection_wire(company, row)["status"] == "Unlinked"
    assert view.portfolio.set_index("id").loc[row, "status"] == "Unlinked"
    assert row not in view.table.ids  # no longer Linked
    assert isinstance(view.portfolio["status"].dtype, pd.CategoricalDtype)


def test_export_the_matching_link_urls_as_csv(view):
    press(view, "Lost access")
    assert view.download.value == ""
    view.export_button.click()
    payload = view.download.value.split("base64,")[1].split('"')[0]
    lines = base64.b64decode(payload).decode().splitlines()
    assert lines[0].startswith("company_id,company_name,connection_id")
    assert len(lines) == 1 + view.table.total
    assert all(",Deauthorized," in line for line in lines[1:])


class FakeHistory:
    """Anything with ``changes(since)`` will do; records what it was asked."""

    def __init__(self, connection_ids: list[str]) -> None:
        self.ids, self.asked = connection_ids, []

    def changes(self, since):
        self.asked.append(pd.Timestamp(since))
        return pd.DataFrame({"connection_id": self.ids, "to_status": "Deauthorized"})


class FakeHistoryWithSnapshots(FakeHistory):
    TAKEN = pd.to_datetime(["2026-10-30T06:00Z", "2026-10-31T06:00Z", "2026-11-01T06:00Z"])

    def snapshots(self):
        return pd.DataFrame({"taken_at": self.TAKEN})


def test_with_a_history_the_changed_filter_keeps_what_changed(demo_sandbox, make_client):
    client = make_client(demo_sandbox)
    plain = PortfolioView(client)
    assert plain.changed_filter.layout.display == "none"
    some = list(plain.portfolio["id"][:3])
    history = FakeHistory(some)
    view = PortfolioView(client, history=history)
    assert view.changed_filter.layout.display == "flex"
    assert "In the latest snapshot" not in view.changed_filter.options  # no snapshots()
    view.changed_filter.value = "Last 7 days"
    assert view.table.ids == some
    assert history.asked == [view.server_time - pd.Timedelta("7D")]
    view.status_filter.value = "Linked"
    view.status_filter.value = "All"
    assert len(history.asked) == 1  # asked once per choice until the portfolio is reloaded
    view.reload_button.click()
    assert len(history.asked) == 2
    with pytest.raises(TypeError, match="changes"):
        PortfolioView(client, history=object())


def test_in_the_latest_snapshot_asks_since_the_snapshot_before_it(demo_sandbox, make_client):
    client = make_client(demo_sandbox)
    history = FakeHistoryWithSnapshots(["no-such-connection"])
    view = PortfolioView(client, history=history)
    view.changed_filter.value = "In the latest snapshot"
    assert history.asked == [FakeHistoryWithSnapshots.TAKEN[1]]
    assert view.table.total == 0 and view.table.empty_text == "no connections match"


def test_a_failed_listing_says_so_and_a_reload_recovers(demo_sandbox, make_client):
    client = make_client(demo_sandbox)
    demo_sandbox.faults.error_rate = 1.0
    view = PortfolioView(client)
    assert "Could not list the portfolio: ServerError" in view.summary.value
    assert view.table.total == 0
    demo_sandbox.faults.error_rate = 0.0
    view.reload_button.click()
    assert view.table.total == len(view.portfolio) > 0
    assert ServerError.__name__ not in view.summary.value


def test_the_changed_filter_with_a_real_history_shows_status_changes_not_stalls(
    demo_sandbox, make_client, tmp_path
):
    from codat_nb.history import History

    client = make_client(demo_sandbox)
    with History(tmp_path / "history.db") as history:
        history.record(client.connections.list_all())
        demo_sandbox.advance(days=7)
        history.record(client.connections.list_all())
        changes = history.changes(since=history.snapshots()["taken_at"].iloc[0])
        moved = set(changes.loc[changes["change"] != "stalled", "connection_id"])
        stalled = set(changes.loc[changes["change"] == "stalled", "connection_id"])
        assert moved and stalled  # a week of time travel gives both kinds
        view = PortfolioView(client, history=history)
        view.changed_filter.value = "In the latest snapshot"
        shown = set(view.portfolio.set_index("id").loc[view.table.ids].index)
        assert shown and shown <= moved and not shown & (stalled - moved)
