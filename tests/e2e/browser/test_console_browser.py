"""``codat-nb console``, the standalone page (Voila), in headless Chromium.

The page must work with no internet: any request that leaves the machine fails the test (Voila's
default page asks a CDN for Font Awesome), as does any console error. The support workflows run
as a user clicks them: a preset, a row that opens its company, two connections unlinked in one
confirmed action, a re-link. (How the page orients a user, and its first screen's time:
test_console_orientation.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from codat_nb.sandbox import Sandbox
from tests.e2e.browser.pages import (
    WAIT_MS,
    ConsoleTab,
    expect,
    open_console,
    relink_and_read_url,
    row,
    unlink_two_and_confirm,
    waiting_for,
)

if TYPE_CHECKING:
    from .conftest import ConsolePage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tab(browser, console_server: ConsolePage, artifacts) -> Iterator[ConsoleTab]:
    context, tab, _ = open_console(browser, console_server.url)
    try:
        yield tab
    finally:
        tab.page.screenshot(path=str(artifacts / "console_last_page.png"), full_page=True)
        context.close()


def _filter_to_company(tab: ConsoleTab, name: str) -> None:
    """Type a company's name in the portfolio's search box; wait for its rows alone."""
    tab.portfolio.locator(".codat-nb-search input").fill(name)
    rows = tab.portfolio.locator(".codat-nb-portfolio-table tr.codat-nb-row")
    with waiting_for(f"the portfolio to show only {name}'s connections"):
        tab.page.wait_for_function(
            """([css, name]) => {
                const rows = [...document.querySelectorAll(css)];
                return rows.length > 0 && rows.every(r => r.cells[0].textContent === name);
            }""",
            arg=[".codat-nb-portfolio-table tr.codat-nb-row", name],
            timeout=WAIT_MS,
        )
    assert rows.count() > 0


def _open_row_in_manager(tab: ConsoleTab, connection_id: str) -> None:
    """Click a portfolio row; wait until the manager shows that connection selected and its
    card. (The portfolio row's own selection lasts only until the kernel has opened it, so
    that clicking it again opens it again: not a state to wait for.)"""
    table = tab.portfolio.locator(".codat-nb-portfolio-table")
    row(table, connection_id).click()
    opened = row(tab.manager.locator(".codat-nb-table"), connection_id)
    expect(opened).to_have_attribute("aria-selected", "true")
    card = tab.manager.locator(
        ".codat-nb-details .codat-nb-connection-card", has_text=connection_id
    )
    with waiting_for(f"the manager to open {connection_id}'s company and card"):
        card.wait_for()


def _connections(sb: Sandbox) -> int:
    """Every connection of the demo portfolio (what the console's portfolio lists)."""
    return sum(len(sb.store.connections_wire(company)) for company in sb.store.company_ids())


def test_the_console_renders_offline_with_no_errors(
    tab: ConsoleTab, demo_sandbox: Sandbox, artifacts
) -> None:
    tab.console.assert_clean(tab.page)
    # Credentials in the environment: the banner names the Codat it talks to.
    expect(tab.portfolio.locator(".codat-nb-banner .codat-nb-source")).to_have_text(
        f"Codat API at {demo_sandbox.url}"
    )
    for label in ("Lost access", "Pending over 7 days", "No sync in 30 days", "Reload portfolio"):
        expect(tab.portfolio.get_by_role("button", name=label)).to_be_visible()
    expect(tab.portfolio.locator(".codat-nb-portfolio-table tr.codat-nb-row")).to_have_count(25)
    expect(tab.portfolio.locator(".codat-nb-portfolio-table .codat-nb-page-info")).to_contain_text(
        f"of {_connections(demo_sandbox):,}"
    )
    # Button icons come from Voila's own Font Awesome, not a CDN: the glyph has a width.
    icon = tab.portfolio.get_by_role("button", name="Reload portfolio").locator("i.fa")
    assert icon.bounding_box()["width"] > 4
    tab.page.screenshot(path=str(artifacts / "console.png"))


def test_a_preset_then_a_row_click_opens_the_company(
    tab: ConsoleTab, demo_sandbox: Sandbox, artifacts
) -> None:
    with waiting_for("the Lost access preset to be clickable"):
        tab.portfolio.get_by_role("button", name="Lost access").click()
    summary = tab.portfolio.locator(".codat-nb-portfolio-summary")
    lost = sum(
        c["status"] == "Deauthorized"
        for company in demo_sandbox.store.company_ids()
        for c in demo_sandbox.store.connections_wire(company)
    )
    expect(summary).to_contain_text(f"{lost:,} of {_connections(demo_sandbox):,} connections match")
    first = tab.portfolio.locator(".codat-nb-portfolio-table tr.codat-nb-row").first
    connection_id = first.get_attribute("data-row-id")
    _open_row_in_manager(tab, connection_id)
    selected = tab.manager.locator(".codat-nb-table tr.codat-nb-row[aria-selected='true']")
    expect(selected).to_have_count(1)
    assert selected.get_attribute("data-row-id") == connection_id
    url = relink_and_read_url(tab.manager, connection_id)
    company = tab.manager.locator(".codat-nb-datatable-caption code").first.inner_text()
    assert url == demo_sandbox.store.get_connection_wire(company, connection_id)["linkUrl"]
    tab.page.screenshot(path=str(artifacts / "console_relink.png"), full_page=True)
    tab.console.assert_clean(tab.page)


def test_two_connections_unlinked_in_one_confirmed_action(
    tab: ConsoleTab, demo_sandbox: Sandbox, artifacts
) -> None:
    store = demo_sandbox.store
    company = next(
        store.get_company_wire(c)
        for c in reversed(store.company_ids())
        if sum(x["status"] == "Linked" for x in store.connections_wire(c)) >= 2
    )
    linked = [c["id"] for c in store.connections_wire(company["id"]) if c["status"] == "Linked"]
    with waiting_for("the All connections button to be clickable"):
        tab.portfolio.get_by_role("button", name="All connections").click()
    _filter_to_company(tab, company["name"])
    _open_row_in_manager(tab, linked[0])
    with waiting_for("Clear selection to be enabled"):  # the bulk action starts afresh
        tab.manager.get_by_role("button", name="Clear selection").click()
    expect(tab.manager.locator(".codat-nb-selection-info")).to_contain_text("0 selected")
    unlink_two_and_confirm(tab.manager, linked[0], linked[1])
    for connection_id in linked[:2]:
        assert store.get_connection_wire(company["id"], connection_id)["status"] == "Unlinked"
    portfolio_rows = tab.portfolio.locator(".codat-nb-portfolio-table")
    with waiting_for("the portfolio table to show the unlink too"):
        row(portfolio_rows, linked[1]).locator(".codat-nb-status-Unlinked").wait_for()
    tab.manager.screenshot(path=str(artifacts / "console_after_bulk_unlink.png"))
    tab.console.assert_clean(tab.page)
