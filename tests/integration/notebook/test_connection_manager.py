"""ConnectionManager driven through its public child widgets against a real sandbox over HTTP."""

from __future__ import annotations

import re

import pytest

from codat_nb.exceptions import BadRequestError, NotFoundError, RateLimitError, ServerError
from codat_nb.notebook import widgets as widgets_module
from codat_nb.notebook.widgets import ConnectionManager
from tests.support import link_accounting

CORRELATION_ID = re.compile(r"correlationId: ([0-9a-f]{32})")


def option_values(select) -> list[str]:
    return [value for _, value in select.options]


def click_row(mgr, connection_id: str) -> None:
    """What a click on a row sends from the browser: the toggled selection and the active row,
    in one message (so observers run once both are set)."""
    table = mgr.table
    chosen = [i for i in table.selected if i != connection_id]
    if connection_id not in table.selected:
        chosen.append(connection_id)
    with table.hold_trait_notifications():
        table.selected = chosen
        table.active = connection_id if connection_id in chosen else (chosen or [None])[-1]


def only(mgr, connection_id: str) -> None:
    """Select just this row (clear, then click it)."""
    mgr.table.selected = []
    click_row(mgr, connection_id)


def cells_of(mgr, connection_id: str) -> list[str]:
    """The rendered cells of a row on the table's current page."""
    return next(row["cells"] for row in mgr.table.rows if row["id"] == connection_id)


def wire_ids(sb, company_id: str) -> list[str]:
    return [c["id"] for c in sb.store.connections_wire(company_id)]


def assert_error_shown(mgr, error_type: type) -> str:
    """The status line names the error and its correlationId; returns the id."""
    text = mgr.status_line.value
    assert "codat-nb-status-error" in text
    assert error_type.__name__ in text
    match = CORRELATION_ID.search(text)
    assert match, text
    assert isinstance(mgr.last_error, error_type)
    assert mgr.last_error.correlation_id == match.group(1)
    return match.group(1)


def assert_buttons_usable(mgr) -> None:
    assert not mgr.refresh_button.disabled
    assert not mgr.create_button.disabled
    assert not mgr.partner_button.disabled


# ------------------------------------------------------------------ companies and the table
def test_lists_companies_and_preselects_one(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    assert option_values(mgr.company_select) == p.sb.store.company_ids()
    assert mgr.company_select.value == p.acme
    assert mgr.table.ids == wire_ids(p.sb, p.acme)
    assert p.shopify not in mgr.table.ids
    assert "4 of 4 connections" in mgr.table.caption
    assert mgr.selected == []
    assert "Click a row" in mgr.details.value


def test_company_search_filters_by_name_or_id_without_requests(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client)
    assert mgr.company_id is None and mgr.table.ids == []
    before = p.sb.store.request_count
    mgr.company_search.value = "bakery"
    assert option_values(mgr.company_select) == [p.bakery]
    mgr.company_search.value = p.acme[:8].upper()
    assert option_values(mgr.company_select) == [p.acme]
    mgr.company_search.value = "no such company"
    assert mgr.company_select.options == ()
    mgr.company_search.value = ""
    assert option_values(mgr.company_select) == [p.acme, p.bakery]
    assert p.sb.store.request_count == before


def test_choosing_a_company_loads_its_connections(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client)
    mgr.company_select.value = p.bakery
    assert mgr.company_id == p.bakery
    assert mgr.table.ids == [p.shopify]
    mgr.company_select.value = p.acme
    assert mgr.table.ids == wire_ids(p.sb, p.acme)
    assert "4 connections of Acme Trading Ltd" in mgr.status_line.value


def test_search_that_hides_the_chosen_company_keeps_its_table(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.company_search.value = "bakery"
    assert mgr.company_id == p.acme
    assert mgr.company_select.value is None
    assert mgr.table.ids == wire_ids(p.sb, p.acme)


def test_status_and_source_type_filters(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.status_filter.value = "Linked"
    assert mgr.table.ids == [p.xero, p.partner]
    assert p.plaid not in mgr.table.ids
    mgr.source_filter.value = "Expense"
    assert mgr.table.ids == [p.partner]
    mgr.status_filter.value = "All"
    mgr.source_filter.value = "Accounting"
    assert mgr.table.ids == [p.xero, p.qbo]
    mgr.status_filter.value = "Unlinked"
    assert mgr.table.ids == []
    assert mgr.table.total == 0 and mgr.table.rows == []
    assert "0 of 4 connections" in mgr.table.caption


def test_filter_keeps_a_selection_that_stays_visible(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.xero)
    before = p.sb.store.request_count
    mgr.status_filter.value = "Linked"
    assert mgr.selected == [p.xero]
    assert p.sb.store.request_count == before  # filtering is local
    mgr.status_filter.value = "PendingAuth"
    assert mgr.selected == []
    assert mgr.unlink_button.disabled and mgr.delete_button.disabled


def test_a_selected_row_the_filters_hide_is_never_acted_on(portfolio):
    """A selection message from the browser that names a row the filters hide (sent before the
    filter's redraw reached it): the buttons act only on the rows the user can see."""
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.status_filter.value = "Linked"
    assert p.plaid not in mgr.table.ids
    with mgr.table.hold_trait_notifications():
        mgr.table.selected = [p.xero, p.plaid]
        mgr.table.active = p.plaid

    mgr.delete_button.click()
    assert "1 connection" in mgr.confirm_message.value and p.plaid not in mgr.confirm_message.value
    mgr.confirm_button.click()

    remaining = wire_ids(p.sb, p.acme)
    assert p.xero not in remaining and p.plaid in remaining


def test_table_shows_status_age_and_error_count(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    assert "codat-nb-status-Deauthorized" in cells_of(mgr, p.qbo)[0]
    assert cells_of(mgr, p.plaid)[5] == "never"  # Plaid is still PendingAuth
    assert cells_of(mgr, p.qbo)[6] == "1"  # one data connection error


def test_the_table_pages_and_a_selection_survives_paging(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme, page_size=3)
    ids = wire_ids(p.sb, p.acme)
    assert mgr.table.ids == ids and mgr.table.total == 4
    assert [row["id"] for row in mgr.table.rows] == ids[:3]
    click_row(mgr, ids[0])
    before = p.sb.store.request_count
    mgr.table.page = 1
    assert [row["id"] for row in mgr.table.rows] == ids[3:]
    click_row(mgr, ids[3])
    assert mgr.selected == [ids[0], ids[3]]
    assert p.sb.store.request_count == before + 1  # paging is local; the click read one card


# ------------------------------------------------------------------------------- details
def test_selecting_a_connection_shows_every_field_and_its_errors(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.qbo)
    wire = p.sb.store.get_connection_wire(p.acme, p.qbo)
    html = mgr.details.value
    for key in ("id", "integrationId", "sourceId", "platformName", "sourceType", "status"):
        assert wire[key] in html
    assert f'<a href="{wire["linkUrl"]}" target="_blank"' in html
    assert 'class="codat-nb-connection-errors"' in html
    assert "Token &lt;revoked&gt; by the platform" in html
    assert mgr.selected == [p.qbo]
    assert mgr.unlink_button.disabled  # only Linked connections can be unlinked
    assert not mgr.delete_button.disabled
    only(mgr, p.xero)
    assert not mgr.unlink_button.disabled


# ------------------------------------------------------------------------------- actions
def test_create_from_the_platform_picker(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_picker.value = "akxx"
    mgr.create_button.click()
    created = [c for c in p.sb.store.connections_wire(p.bakery) if c["id"] != p.shopify]
    assert len(created) == 1
    assert created[0]["integrationKey"] == "akxx" and created[0]["status"] == "PendingAuth"
    assert mgr.table.ids == [p.shopify, created[0]["id"]]
    assert mgr.selected == [created[0]["id"]]
    assert "Created Oracle NetSuite connection" in mgr.status_line.value
    assert f'href="{created[0]["linkUrl"]}" target="_blank"' in mgr.status_line.value
    assert created[0]["linkUrl"] in mgr.details.value


def test_a_typed_platform_key_wins_over_the_picker_and_is_cleared(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_picker.value = "gbol"
    mgr.platform_key_text.value = " upvr "
    mgr.create_button.click()
    keys = [c["integrationKey"] for c in p.sb.store.connections_wire(p.bakery)]
    assert keys == ["fztf", "upvr"]
    assert mgr.platform_key_text.value == ""


def test_create_partner_expense(portfolio):
    p = portfolio
    link_accounting(p.sb, p.bakery)  # Codat: once the accounting software is authorized
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.partner_button.click()
    rows = p.sb.store.connections_wire(p.bakery)
    assert len(rows) == 3
    assert (rows[2]["sourceType"], rows[2]["status"]) == ("Expense", "Linked")
    assert mgr.selected == [rows[2]["id"]]
    assert "Created Partner Expense connection" in mgr.status_line.value


def test_unlink_asks_first_then_unlinks_and_keeps_the_selection(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.xero)
    before = (p.sb.store.snapshot(), p.sb.store.request_count)
    mgr.unlink_button.click()
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before  # only asked
    assert mgr.confirm_box.layout.display == "flex"
    assert p.xero in mgr.confirm_message.value and "re-authorize" in mgr.confirm_message.value
    mgr.confirm_button.click()
    assert p.sb.store.get_connection_wire(p.acme, p.xero)["status"] == "Unlinked"
    assert mgr.confirm_box.layout.display == "none"
    assert mgr.selected == [p.xero]
    assert cells_of(mgr, p.xero)[0].count("Unlinked") == 2  # class and text of the badge
    assert "codat-nb-status-Unlinked" in mgr.details.value
    assert f"Unlinked 1 connection: Xero <code>{p.xero}</code>" in mgr.status_line.value


def test_delete_says_it_is_irreversible_then_deletes(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.plaid)
    mgr.delete_button.click()
    assert "irreversible" in mgr.confirm_message.value
    assert p.plaid in wire_ids(p.sb, p.acme)
    mgr.confirm_button.click()
    assert p.plaid not in wire_ids(p.sb, p.acme)
    assert mgr.table.ids == wire_ids(p.sb, p.acme)
    assert mgr.selected == []
    assert "Deleted 1 connection: " in mgr.status_line.value
    assert "irreversible" in mgr.status_line.value


@pytest.mark.parametrize("action", ["unlink", "delete"])
def test_cancelled_confirmation_changes_nothing(portfolio, action):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.xero)
    before = (p.sb.store.snapshot(), p.sb.store.request_count)
    getattr(mgr, f"{action}_button").click()
    mgr.cancel_button.click()
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before
    assert mgr.confirm_box.layout.display == "none"
    assert mgr.confirm_button.disabled and mgr.cancel_button.disabled
    assert "nothing changed" in mgr.status_line.value
    mgr.confirm_button.click()  # a stray click on the hidden Confirm sends nothing
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before


def test_selecting_another_connection_withdraws_the_question(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.xero)
    mgr.delete_button.click()
    only(mgr, p.partner)
    assert mgr.confirm_box.layout.display == "none"
    mgr.confirm_button.click()
    assert wire_ids(p.sb, p.acme) == [p.xero, p.plaid, p.qbo, p.partner]


def test_a_double_confirm_sends_one_request(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.plaid)
    mgr.delete_button.click()
    mgr.confirm_button.click()
    after_first = p.sb.store.request_count
    mgr.confirm_button.click()
    assert p.sb.store.request_count == after_first
    assert "Deleted 1 connection" in mgr.status_line.value


def test_refresh_shows_changes_made_elsewhere_and_keeps_the_selection(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.xero)
    new = p.sb.store.create_connection(p.acme, "exgd")["id"]
    p.sb.store.create_company("Zephyr Logistics")
    mgr.refresh_button.click()
    assert mgr.table.ids[-1] == new
    assert mgr.selected == [p.xero]
    assert len(mgr.company_select.options) == 3
    assert "Refreshed: 5 connections" in mgr.status_line.value


# -------------------------------------------------------------------------------- errors
def test_deleting_a_connection_removed_behind_its_back_shows_404_and_stays_usable(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.plaid)
    p.sb.store.delete_connection(p.acme, p.plaid)
    mgr.delete_button.click()
    mgr.confirm_button.click()
    assert_error_shown(mgr, NotFoundError)
    assert f"Data connection {p.plaid} not found" in mgr.status_line.value
    assert_buttons_usable(mgr)
    p.sb.store.delete_connection(p.acme, p.partner)  # a company has one partner expense
    mgr.partner_button.click()
    assert len(p.sb.store.connections_wire(p.acme)) == 3
    assert "Created Partner Expense connection" in mgr.status_line.value


def test_rate_limited_after_retries_shows_429_changes_nothing_and_recovers(portfolio):
    p = portfolio
    link_accounting(p.sb, p.bakery)  # a partner expense needs a Linked accounting one
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    p.sb.faults.retry_after = 0
    p.sb.faults.rate_limit_rate = 1.0
    before = p.sb.store.snapshot()
    mgr.partner_button.click()
    assert_error_shown(mgr, RateLimitError)
    assert p.sb.store.snapshot() == before
    assert_buttons_usable(mgr)
    p.sb.faults.rate_limit_rate = 0.0
    mgr.partner_button.click()
    assert len(p.sb.store.connections_wire(p.bakery)) == 3


def test_an_unknown_platform_key_shows_codats_validation_error(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_key_text.value = "zzzz"
    mgr.create_button.click()
    assert_error_shown(mgr, BadRequestError)
    assert "platformKey" in mgr.status_line.value
    assert mgr.platform_key_text.value == "zzzz"  # kept, so the user can fix it
    assert wire_ids(p.sb, p.bakery) == [p.shopify]


def test_a_malformed_platform_key_is_refused_before_any_request(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_key_text.value = "Xero"
    before = p.sb.store.request_count
    mgr.create_button.click()
    assert p.sb.store.request_count == before
    assert "ValueError" in mgr.status_line.value and "platform_key" in mgr.status_line.value
    assert isinstance(mgr.last_error, ValueError)
    assert_buttons_usable(mgr)


def test_an_unknown_preselected_company_shows_codats_404(portfolio):
    p = portfolio
    missing = "00000000-0000-4000-8000-000000000000"
    mgr = ConnectionManager(p.client, company_id=missing)
    assert_error_shown(mgr, NotFoundError)
    assert missing in mgr.status_line.value
    assert mgr.company_id is None
    mgr.company_select.value = p.bakery  # still usable
    assert mgr.table.ids == [p.shopify]


def test_a_company_deleted_elsewhere_shows_404_on_refresh(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    p.sb.store.delete_company(p.bakery)
    mgr.refresh_button.click()
    assert_error_shown(mgr, NotFoundError)
    assert mgr.company_id is None and mgr.table.ids == []
    assert option_values(mgr.company_select) == [p.acme]


def test_a_malformed_preselected_company_id_is_named(portfolio):
    mgr = ConnectionManager(portfolio.client, company_id="acme")
    assert "ValueError: company_id must be a UUID, got 'acme'" in mgr.status_line.value


def test_wrong_argument_types_are_refused_at_construction(portfolio):
    with pytest.raises(TypeError, match="client must be a codat_nb.CodatClient"):
        ConnectionManager("http://127.0.0.1")
    with pytest.raises(TypeError, match="company_id must be a str"):
        ConnectionManager(portfolio.client, company_id=42)
    with pytest.raises(ValueError, match="page_size"):
        ConnectionManager(portfolio.client, page_size=0)


# ------------------------------------------------------------------- busy state, reprs
def test_action_buttons_are_disabled_while_a_call_runs(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.xero)
    seen_during_call = []
    real_create = p.client.connections.create

    def create_and_record(*args):
        seen_during_call.append([b.disabled for b in mgr.action_buttons])
        return real_create(*args)

    p.client.connections.create = create_and_record
    transitions = []
    mgr.create_button.observe(lambda change: transitions.append(change["new"]), "disabled")
    mgr.create_button.click()
    assert seen_during_call == [[True] * len(mgr.action_buttons)]
    assert transitions[:2] == [True, False] and not mgr.create_button.disabled
    assert len(p.sb.store.connections_wire(p.acme)) == 5  # the real call still went through


def test_buttons_without_a_target_are_disabled(portfolio):
    mgr = ConnectionManager(portfolio.client)
    assert mgr.create_button.disabled and mgr.partner_button.disabled
    assert mgr.unlink_button.disabled and mgr.delete_button.disabled
    assert mgr.confirm_button.disabled and mgr.cancel_button.disabled
    assert not mgr.refresh_button.disabled


@pytest.mark.parametrize("button", ["create_button", "partner_button", "relink_button"])
def test_a_click_that_needs_a_company_before_one_is_picked_says_so_and_sends_nothing(
    portfolio, button
):
    """The buttons are disabled then, but ``click()`` from code still runs the handler."""
    p = portfolio
    mgr = ConnectionManager(p.client)
    before = (p.sb.store.snapshot(), p.sb.store.request_count)
    getattr(mgr, button).click()
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before
    assert "codat-nb-status-error" in mgr.status_line.value
    assert "Pick a company first." in mgr.status_line.value
    assert mgr.links.value == "" and mgr.company_id is None


def test_every_named_widget_has_its_css_class(portfolio):
    mgr = ConnectionManager(portfolio.client)
    names = {
        "company_search": "company-search",
        "company_select": "company-select",
        "status_filter": "status-filter",
        "source_filter": "source-filter",
        "refresh_button": "refresh",
        "table": "table",
        "relink_button": "relink",
        "export_csv_button": "export-csv",
        "export_text_button": "export-text",
        "clear_button": "clear-selection",
        "links": "links",
        "selection_info": "selection-info",
        "details": "details",
        "platform_picker": "platform-picker",
        "platform_key_text": "platform-key",
        "create_button": "create",
        "partner_button": "partner",
        "unlink_button": "unlink",
        "delete_button": "delete",
        "confirm_box": "confirm-box",
        "confirm_button": "confirm",
        "cancel_button": "cancel",
        "status_line": "status-line",
    }
    for attribute, css in names.items():
        assert f"codat-nb-{css}" in getattr(mgr, attribute)._dom_classes, attribute
    assert "codat-nb-connection-manager" in mgr._dom_classes
    labels = [b.description for b in mgr.action_buttons]
    for label in ("Refresh", "Unlink", "Delete", "Confirm", "Cancel"):
        assert label in labels


def test_text_repr_is_deterministic_and_hides_the_key(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    only(mgr, p.xero)
    text = mgr._repr_mimebundle_()["text/plain"]
    assert text == (
        f"ConnectionManager(company_id='{p.acme}', connections=4 shown of 4, selected=['{p.xero}'])"
    )
    assert "model_id" not in text and p.sb.api_key not in text
    shown = mgr.status_line.value + mgr.details.value + mgr.table.caption + str(mgr.table.rows)
    assert p.sb.api_key not in shown


def test_same_seed_same_table(demo_sandbox, make_client):
    """Two demo sandboxes give identical tables: ages use the server's clock, not the wall's."""
    from codat_nb.sandbox import Sandbox

    with Sandbox(seed="demo") as twin:
        company = demo_sandbox.store.company_ids()[3]
        a = ConnectionManager(make_client(demo_sandbox), company_id=company)
        b = ConnectionManager(make_client(twin), company_id=company)
        assert a.table.rows == b.table.rows and a.table.caption == b.table.caption
        assert repr(a) == repr(b)
        assert a.table.ids == wire_ids(demo_sandbox, company)


def test_a_failed_refresh_says_so_and_keeps_the_last_listed_rows(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    p.sb.faults.error_rate = 1.0
    mgr.refresh_button.click()
    assert_error_shown(mgr, ServerError)
    assert mgr.table.ids == wire_ids(p.sb, p.acme)
    assert_buttons_usable(mgr)
    p.sb.faults.error_rate = 0.0
    p.sb.store.create_connection(p.acme, "exgd")
    mgr.refresh_button.click()
    assert mgr.table.ids == wire_ids(p.sb, p.acme)


def test_a_failed_switch_of_company_shows_no_rows_of_the_previous_one(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    p.sb.faults.error_rate = 1.0
    mgr.company_select.value = p.bakery
    assert_error_shown(mgr, ServerError)
    assert mgr.table.ids == [] and mgr.table.rows == []
    p.sb.faults.error_rate = 0.0
    mgr.refresh_button.click()
    assert mgr.table.ids == [p.shopify]


# ------------------------------------------------------------------------- double clicks
@pytest.fixture
def double_click_window(monkeypatch):
    """Set DOUBLE_CLICK_S: a huge window makes "right after" independent of the machine's speed."""
    return lambda seconds: monkeypatch.setattr(widgets_module, "DOUBLE_CLICK_S", seconds)


@pytest.mark.parametrize(("button", "key"), [("create_button", "fztf"), ("partner_button", None)])
def test_a_double_click_on_a_create_button_creates_one_connection(
    portfolio, double_click_window, button, key
):
    """In a browser both clicks of a double click reach the kernel, the second after the first
    has finished and enabled the buttons again (tests/browser proves it); it must be ignored."""
    p = portfolio
    double_click_window(3600)
    link_accounting(p.sb, p.bakery)  # a partner expense needs a Linked accounting one
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_key_text.value = key or ""
    getattr(mgr, button).click()
    status = mgr.status_line.value
    before = (p.sb.store.snapshot(), p.sb.store.request_count)
    getattr(mgr, button).click()
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before
    assert len(wire_ids(p.sb, p.bakery)) == 3
    assert mgr.status_line.value == status
    assert_buttons_usable(mgr)


def test_the_double_click_guard_is_per_button_and_only_after_a_create(
    portfolio, double_click_window
):
    p = portfolio
    double_click_window(3600)
    link_accounting(p.sb, p.bakery)  # a partner expense needs a Linked accounting one
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_key_text.value = "zzzz"  # Codat refuses it: nothing was created
    mgr.create_button.click()
    assert_error_shown(mgr, BadRequestError)
    mgr.platform_key_text.value = "upvr"
    mgr.create_button.click()
    mgr.partner_button.click()
    keys = [c["integrationKey"] for c in p.sb.store.connections_wire(p.bakery)]
    assert keys == ["fztf", "gbol", "upvr", "dfxm"]


def test_a_deliberate_second_create_goes_through(portfolio, double_click_window):
    p = portfolio
    double_click_window(0)  # the second click comes later than a double click's would
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_key_text.value = "upvr"
    mgr.create_button.click()
    mgr.platform_key_text.value = "upvr"
    mgr.create_button.click()
    rows = p.sb.store.connections_wire(p.bakery)
    assert [c["sourceType"] for c in rows] == ["Commerce", "Banking", "Banking"]
    assert mgr.selected == [rows[-1]["id"]]


# --------------------------------------------------------------------- the selection
def test_clicking_rows_selects_several_and_clicking_again_deselects(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    click_row(mgr, p.xero)
    click_row(mgr, p.qbo)
    assert mgr.selected == [p.xero, p.qbo]
    assert p.qbo in mgr.details.value  # the card of the row clicked last
    assert "2 selected" in mgr.selection_info.value
    click_row(mgr, p.qbo)
    assert mgr.selected == [p.xero] and p.xero in mgr.details.value
    mgr.clear_button.click()
    assert mgr.selected == [] and "Click a row" in mgr.details.value


def test_buttons_follow_what_the_selection_holds(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    click_row(mgr, p.plaid)  # PendingAuth: nothing to unlink or re-link
    assert mgr.unlink_button.disabled and mgr.relink_button.disabled
    assert not mgr.delete_button.disabled and not mgr.export_csv_button.disabled
    click_row(mgr, p.qbo)  # Deauthorized: re-link
    assert not mgr.relink_button.disabled and mgr.unlink_button.disabled
    click_row(mgr, p.xero)  # Linked: unlink
    assert not mgr.unlink_button.disabled


def test_unlink_is_offered_only_for_a_selection_with_linked_connections(portfolio):
    """Codat unlinks only Linked connections: an Unlinked one, like a PendingAuth or a
    Deauthorized one, is not offered, and a click that gets through anyway sends nothing."""
    p = portfolio
    p.sb.store.unlink(p.acme, p.partner)
    mgr = ConnectionManager(p.client, company_id=p.acme)
    click_row(mgr, p.partner)  # Unlinked
    click_row(mgr, p.plaid)  # PendingAuth
    assert mgr.unlink_button.disabled and not mgr.relink_button.disabled
    before = (p.sb.store.snapshot(), p.sb.store.request_count)
    mgr.unlink_button.click()  # Python reaches a disabled button's handler; a browser does not
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before
    assert mgr.confirm_box.pending is None
    text = mgr.status_line.value
    assert "codat-nb-status-error" in text and "Nothing to unlink." in text
    assert f"Partner Expense <code>{p.partner}</code> (Unlinked)" in text
    assert "only Linked connections can be unlinked" in text
    click_row(mgr, p.xero)  # Linked
    assert not mgr.unlink_button.disabled


def test_a_button_disables_the_buttons_once_and_a_row_click_not_at_all(portfolio):
    """The buttons go disabled once and come back once per button click, however many calls
    the handler makes (a browser click between two calls would land on a disabled button);
    a click on a row only reads a card and leaves them enabled."""
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    click_row(mgr, p.xero)
    transitions = []
    mgr.refresh_button.observe(lambda change: transitions.append(change["new"]), "disabled")
    mgr.refresh_button.click()  # companies, connections, the card: three requests
    assert transitions == [True, False]
    transitions.clear()
    click_row(mgr, p.qbo)
    assert transitions == [] and p.qbo in mgr.details.value


def test_one_confirmation_unlinks_every_selected_linked_connection(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    for connection_id in (p.xero, p.partner, p.plaid, p.qbo):
        click_row(mgr, connection_id)
    before = (p.sb.store.snapshot(), p.sb.store.request_count)
    mgr.unlink_button.click()
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before  # only asked
    question = mgr.confirm_message.value
    assert "Unlink 2 connections?" in question
    listed = question.split('class="codat-nb-confirm-list"')[1].split("</ul>")[0]
    assert p.xero in listed and p.partner in listed
    assert p.plaid not in listed and p.qbo not in listed
    left_alone = (
        f"Left alone: Plaid <code>{p.plaid}</code> (PendingAuth), QuickBooks Online "
        f"<code>{p.qbo}</code> (Deauthorized): only Linked connections can be unlinked"
    )
    assert left_alone in question
    mgr.confirm_button.click()
    statuses = {c["id"]: c["status"] for c in p.sb.store.connections_wire(p.acme)}
    assert (statuses[p.xero], statuses[p.partner], statuses[p.plaid]) == (
        "Unlinked",
        "Unlinked",
        "PendingAuth",
    )
    assert "Unlinked 2 connections: Xero" in mgr.status_line.value
    assert left_alone in mgr.status_line.value  # the outcome says which were left, and why
    assert statuses[p.qbo] == "Deauthorized"
    assert mgr.selected == [p.xero, p.partner, p.plaid, p.qbo]
    for connection_id in (p.xero, p.partner):
        assert "codat-nb-status-Unlinked" in cells_of(mgr, connection_id)[0]


def test_a_bulk_delete_that_partly_fails_says_which_and_why(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    click_row(mgr, p.plaid)
    click_row(mgr, p.qbo)
    p.sb.store.delete_connection(p.acme, p.plaid)  # gone behind the widget's back
    mgr.delete_button.click()
    assert "irreversible" in mgr.confirm_message.value
    mgr.confirm_button.click()
    assert p.qbo not in wire_ids(p.sb, p.acme)
    text = mgr.status_line.value
    assert "codat-nb-status-error" in text and "Deleted 1 of 2 connections" in text
    assert p.plaid in text and "NotFoundError" in text and CORRELATION_ID.search(text)
    assert mgr.table.ids == wire_ids(p.sb, p.acme)
    assert_buttons_usable(mgr)


def test_relink_shows_the_link_urls_read_afresh(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    click_row(mgr, p.xero)
    mgr.unlink_button.click()
    mgr.confirm_button.click()
    click_row(mgr, p.qbo)  # Deauthorized; Xero is Unlinked now
    mgr.relink_button.click()
    for connection_id in (p.xero, p.qbo):
        url = p.sb.store.get_connection_wire(p.acme, connection_id)["linkUrl"]
        assert f'href="{url}" target="_blank"' in mgr.links.value
    assert "Re-link: 2 connections" in mgr.status_line.value


def test_export_the_selection_as_csv_and_as_text(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    click_row(mgr, p.qbo)
    click_row(mgr, p.plaid)
    mgr.export_csv_button.click()
    lines = mgr.export_text.value.splitlines()
    assert lines[0] == "company_id,company_name,connection_id,platform_name,status,link_url"
    url = p.sb.store.get_connection_wire(p.acme, p.qbo)["linkUrl"]
    assert lines[1] == f"{p.acme},Acme Trading Ltd,{p.qbo},QuickBooks Online,Deauthorized,{url}"
    assert len(lines) == 3 and mgr.export_text.layout.display == "flex"
    assert 'download="link_urls.csv"' in mgr.links.value and "data:text/csv" in mgr.links.value
    mgr.export_text_button.click()
    assert mgr.export_text.value.splitlines()[0] == (
        f"Acme Trading Ltd (QuickBooks Online, Deauthorized): {url}"
    )
