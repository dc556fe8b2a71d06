"""ConnectionManager driven through its public child widgets against a real sandbox over HTTP."""

from __future__ import annotations

import re

import pytest

from codat_nb.exceptions import BadRequestError, NotFoundError, RateLimitError, ServerError
from codat_nb.notebook import widgets as widgets_module
from codat_nb.notebook.widgets import ConnectionManager

CORRELATION_ID = re.compile(r"correlationId: ([0-9a-f]{32})")


def option_values(select) -> list[str]:
    return [value for _, value in select.options]


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
    assert option_values(mgr.connection_select) == wire_ids(p.sb, p.acme)
    for connection_id in wire_ids(p.sb, p.acme):
        assert connection_id in mgr.table.value
    assert p.shopify not in mgr.table.value
    assert "4 of 4 connections" in mgr.table.value
    assert mgr.connection_select.value is None
    assert "Select a connection" in mgr.details.value


def test_company_search_filters_by_name_or_id_without_requests(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client)
    assert mgr.company_id is None and mgr.connection_select.options == ()
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
    assert option_values(mgr.connection_select) == [p.shopify]
    mgr.company_select.value = p.acme
    assert option_values(mgr.connection_select) == wire_ids(p.sb, p.acme)
    assert "4 connections of Acme Trading Ltd" in mgr.status_line.value


def test_search_that_hides_the_chosen_company_keeps_its_table(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.company_search.value = "bakery"
    assert mgr.company_id == p.acme
    assert mgr.company_select.value is None
    assert option_values(mgr.connection_select) == wire_ids(p.sb, p.acme)


def test_status_and_source_type_filters(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.status_filter.value = "Linked"
    assert option_values(mgr.connection_select) == [p.xero, p.partner]
    assert p.plaid not in mgr.table.value
    mgr.source_filter.value = "Expense"
    assert option_values(mgr.connection_select) == [p.partner]
    mgr.status_filter.value = "All"
    mgr.source_filter.value = "Accounting"
    assert option_values(mgr.connection_select) == [p.xero, p.qbo]
    mgr.status_filter.value = "Unlinked"
    assert mgr.connection_select.options == ()
    assert "no connections" in mgr.table.value
    assert "0 of 4 connections" in mgr.table.value


def test_filter_keeps_a_selection_that_stays_visible(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.xero
    before = p.sb.store.request_count
    mgr.status_filter.value = "Linked"
    assert mgr.connection_select.value == p.xero
    assert p.sb.store.request_count == before  # filtering is local
    mgr.status_filter.value = "PendingAuth"
    assert mgr.connection_select.value is None
    assert mgr.unlink_button.disabled and mgr.delete_button.disabled


def test_table_shows_status_age_and_error_count(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    assert "codat-nb-status-Deauthorized" in mgr.table.value
    assert "never" in mgr.table.value  # Plaid is still PendingAuth
    qbo_row = re.search(rf'data-connection-id="{p.qbo}".*?</tr>', mgr.table.value).group(0)
    assert ">1</td>" in qbo_row  # one data connection error


def test_max_rows_caps_the_table_and_says_so(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme, max_rows=2)
    assert option_values(mgr.connection_select) == wire_ids(p.sb, p.acme)[:2]
    assert "showing the first 2 of 4 connections" in mgr.table.value


# ------------------------------------------------------------------------------- details
def test_selecting_a_connection_shows_every_field_and_its_errors(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.qbo
    wire = p.sb.store.get_connection_wire(p.acme, p.qbo)
    html = mgr.details.value
    for key in ("id", "integrationId", "sourceId", "platformName", "sourceType", "status"):
        assert wire[key] in html
    assert f'<a href="{wire["linkUrl"]}" target="_blank"' in html
    assert 'class="codat-nb-connection-errors"' in html
    assert "Token &lt;revoked&gt; by the platform" in html
    assert f'data-connection-id="{p.qbo}" style="background:#e3f2fd"' in mgr.table.value
    assert mgr.unlink_button.disabled  # only Linked connections can be unlinked
    assert not mgr.delete_button.disabled
    mgr.connection_select.value = p.xero
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
    assert option_values(mgr.connection_select) == [p.shopify, created[0]["id"]]
    assert mgr.connection_select.value == created[0]["id"]
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
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.partner_button.click()
    rows = p.sb.store.connections_wire(p.bakery)
    assert len(rows) == 2
    assert (rows[1]["sourceType"], rows[1]["status"]) == ("Expense", "Linked")
    assert mgr.connection_select.value == rows[1]["id"]
    assert "Created Partner Expense connection" in mgr.status_line.value


def test_unlink_asks_first_then_unlinks_and_keeps_the_selection(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.xero
    before = (p.sb.store.snapshot(), p.sb.store.request_count)
    mgr.unlink_button.click()
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before  # only asked
    assert mgr.confirm_box.layout.display == "flex"
    assert p.xero in mgr.confirm_message.value and "re-authorize" in mgr.confirm_message.value
    mgr.confirm_button.click()
    assert p.sb.store.get_connection_wire(p.acme, p.xero)["status"] == "Unlinked"
    assert mgr.confirm_box.layout.display == "none"
    assert mgr.connection_select.value == p.xero
    assert mgr.selected_status() == "Unlinked"
    assert "codat-nb-status-Unlinked" in mgr.details.value
    assert "Unlinked Xero connection" in mgr.status_line.value


def test_delete_says_it_is_irreversible_then_deletes(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.plaid
    mgr.delete_button.click()
    assert "irreversible" in mgr.confirm_message.value
    assert p.plaid in wire_ids(p.sb, p.acme)
    mgr.confirm_button.click()
    assert p.plaid not in wire_ids(p.sb, p.acme)
    assert option_values(mgr.connection_select) == wire_ids(p.sb, p.acme)
    assert mgr.connection_select.value is None
    assert "Deleted connection" in mgr.status_line.value and "irreversible" in mgr.status_line.value


@pytest.mark.parametrize("action", ["unlink", "delete"])
def test_cancelled_confirmation_changes_nothing(portfolio, action):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.xero
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
    mgr.connection_select.value = p.xero
    mgr.delete_button.click()
    mgr.connection_select.value = p.partner
    assert mgr.confirm_box.layout.display == "none"
    mgr.confirm_button.click()
    assert wire_ids(p.sb, p.acme) == [p.xero, p.plaid, p.qbo, p.partner]


def test_a_double_confirm_sends_one_request(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.plaid
    mgr.delete_button.click()
    mgr.confirm_button.click()
    after_first = p.sb.store.request_count
    mgr.confirm_button.click()
    assert p.sb.store.request_count == after_first
    assert "Deleted connection" in mgr.status_line.value


def test_refresh_shows_changes_made_elsewhere_and_keeps_the_selection(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.xero
    new = p.sb.store.create_connection(p.acme, "exgd")["id"]
    p.sb.store.create_company("Zephyr Logistics")
    mgr.refresh_button.click()
    assert option_values(mgr.connection_select)[-1] == new
    assert mgr.connection_select.value == p.xero
    assert len(mgr.company_select.options) == 3
    assert "Refreshed: 5 connections" in mgr.status_line.value


# -------------------------------------------------------------------------------- errors
def test_deleting_a_connection_removed_behind_its_back_shows_404_and_stays_usable(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.plaid
    p.sb.store.delete_connection(p.acme, p.plaid)
    mgr.delete_button.click()
    mgr.confirm_button.click()
    assert_error_shown(mgr, NotFoundError)
    assert f"Data connection {p.plaid} not found" in mgr.status_line.value
    assert_buttons_usable(mgr)
    mgr.partner_button.click()
    assert len(p.sb.store.connections_wire(p.acme)) == 4
    assert "Created Partner Expense connection" in mgr.status_line.value


def test_rate_limited_after_retries_shows_429_changes_nothing_and_recovers(portfolio):
    p = portfolio
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
    assert len(p.sb.store.connections_wire(p.bakery)) == 2


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
    assert option_values(mgr.connection_select) == [p.shopify]


def test_a_company_deleted_elsewhere_shows_404_on_refresh(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    p.sb.store.delete_company(p.bakery)
    mgr.refresh_button.click()
    assert_error_shown(mgr, NotFoundError)
    assert mgr.company_id is None and mgr.connection_select.options == ()
    assert option_values(mgr.company_select) == [p.acme]


def test_a_malformed_preselected_company_id_is_named(portfolio):
    mgr = ConnectionManager(portfolio.client, company_id="acme")
    assert "ValueError: company_id must be a UUID, got 'acme'" in mgr.status_line.value


def test_wrong_argument_types_are_refused_at_construction(portfolio):
    with pytest.raises(TypeError, match="client must be a codat_nb.CodatClient"):
        ConnectionManager("http://127.0.0.1")
    with pytest.raises(TypeError, match="company_id must be a str"):
        ConnectionManager(portfolio.client, company_id=42)
    with pytest.raises(ValueError, match="max_rows"):
        ConnectionManager(portfolio.client, max_rows=0)


# ------------------------------------------------------------------- busy state, reprs
def test_action_buttons_are_disabled_while_a_call_runs(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    mgr.connection_select.value = p.xero
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


def test_every_named_widget_has_its_css_class(portfolio):
    mgr = ConnectionManager(portfolio.client)
    names = {
        "company_search": "company-search",
        "company_select": "company-select",
        "status_filter": "status-filter",
        "source_filter": "source-filter",
        "refresh_button": "refresh",
        "table": "table",
        "connection_select": "connection-select",
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
    mgr.connection_select.value = p.xero
    text = mgr._repr_mimebundle_()["text/plain"]
    assert text == (
        f"ConnectionManager(company_id='{p.acme}', connections=4 shown of 4, selected='{p.xero}')"
    )
    assert "model_id" not in text and p.sb.api_key not in text
    assert p.sb.api_key not in mgr.status_line.value + mgr.details.value + mgr.table.value


def test_same_seed_same_table(demo_sandbox, make_client):
    """Two demo sandboxes give identical tables: ages use the server's clock, not the wall's."""
    from codat_nb.sandbox import Sandbox

    with Sandbox(seed="demo") as twin:
        company = demo_sandbox.store.company_ids()[3]
        a = ConnectionManager(make_client(demo_sandbox), company_id=company)
        b = ConnectionManager(make_client(twin), company_id=company)
        assert a.table.value == b.table.value
        assert repr(a) == repr(b)
        assert option_values(a.connection_select) == wire_ids(demo_sandbox, company)


def test_a_failed_refresh_says_so_and_keeps_the_last_listed_rows(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    p.sb.faults.error_rate = 1.0
    mgr.refresh_button.click()
    assert_error_shown(mgr, ServerError)
    assert option_values(mgr.connection_select) == wire_ids(p.sb, p.acme)
    assert_buttons_usable(mgr)
    p.sb.faults.error_rate = 0.0
    p.sb.store.create_connection(p.acme, "exgd")
    mgr.refresh_button.click()
    assert option_values(mgr.connection_select) == wire_ids(p.sb, p.acme)


def test_a_failed_switch_of_company_shows_no_rows_of_the_previous_one(portfolio):
    p = portfolio
    mgr = ConnectionManager(p.client, company_id=p.acme)
    p.sb.faults.error_rate = 1.0
    mgr.company_select.value = p.bakery
    assert_error_shown(mgr, ServerError)
    assert mgr.connection_select.options == () and "no connections" in mgr.table.value
    p.sb.faults.error_rate = 0.0
    mgr.refresh_button.click()
    assert option_values(mgr.connection_select) == [p.shopify]


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
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_key_text.value = key or ""
    getattr(mgr, button).click()
    status = mgr.status_line.value
    before = (p.sb.store.snapshot(), p.sb.store.request_count)
    getattr(mgr, button).click()
    assert (p.sb.store.snapshot(), p.sb.store.request_count) == before
    assert len(wire_ids(p.sb, p.bakery)) == 2
    assert mgr.status_line.value == status
    assert_buttons_usable(mgr)


def test_the_double_click_guard_is_per_button_and_only_after_a_create(
    portfolio, double_click_window
):
    p = portfolio
    double_click_window(3600)
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.platform_key_text.value = "zzzz"  # Codat refuses it: nothing was created
    mgr.create_button.click()
    assert_error_shown(mgr, BadRequestError)
    mgr.platform_key_text.value = "upvr"
    mgr.create_button.click()
    mgr.partner_button.click()
    keys = [c["integrationKey"] for c in p.sb.store.connections_wire(p.bakery)]
    assert keys == ["fztf", "upvr", "dfxm"]


def test_a_deliberate_second_create_goes_through(portfolio, double_click_window):
    p = portfolio
    double_click_window(0)  # the second click comes later than a double click's would
    mgr = ConnectionManager(p.client, company_id=p.bakery)
    mgr.partner_button.click()
    mgr.partner_button.click()
    rows = p.sb.store.connections_wire(p.bakery)
    assert [c["sourceType"] for c in rows] == ["Commerce", "Expense", "Expense"]
    assert mgr.connection_select.value == rows[-1]["id"]
