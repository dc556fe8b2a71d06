"""``codat-nb console`` orients its user, in headless Chromium at a laptop's 1366x900.

The page says what it is (its title), where its rows come from and when (the banner: the demo
sandbox when no key is set, with the server time of the listing), why the portfolio counts
fewer companies than the company picker (companies with no connections), shows no empty
company panel before a choice, and brings the company a row click opens into view. (The
first screen's time: test_console_first_screen.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from codat_nb.sandbox import Sandbox
from tests.e2e.browser.pages import ConsoleTab, expect, open_console, row, waiting_for

if TYPE_CHECKING:
    from .conftest import ConsolePage

pytestmark = pytest.mark.browser

LAPTOP = (1366, 900)


@pytest.fixture(scope="module")
def demo() -> Iterator[Sandbox]:
    """What the console's own sandbox holds: the same seed gives the same portfolio."""
    with Sandbox(seed="demo") as sb:
        yield sb


@pytest.fixture(scope="module")
def laptop_tab(browser, demo_console_server: ConsolePage, artifacts) -> Iterator[ConsoleTab]:
    context, tab, _ = open_console(browser, demo_console_server.url, LAPTOP)
    try:
        yield tab
    finally:
        tab.page.screenshot(path=str(artifacts / "console_orientation.png"), full_page=True)
        context.close()


def in_viewport(tab: ConsoleTab, selector: str) -> dict:
    """Where the element is against the window: its top and bottom, the window's height,
    and how far the page is scrolled (the window or any box around the element)."""
    return tab.page.evaluate(
        """(selector) => {
            const element = document.querySelector(selector);
            const box = element.getBoundingClientRect();
            let scrolled = window.scrollY;
            for (let up = element.parentElement; up; up = up.parentElement) {
                scrolled += up.scrollTop;
            }
            return {top: box.top, bottom: box.bottom, height: window.innerHeight, scrolled};
        }""",
        selector,
    )


def test_the_page_says_what_it_is_where_its_rows_come_from_and_when(
    laptop_tab: ConsoleTab, demo: Sandbox
) -> None:
    tab = laptop_tab
    assert tab.page.title() == "Codat support console"
    banner = tab.portfolio.locator(".codat-nb-banner")
    expect(banner.locator(".codat-nb-source")).to_have_text("Demo sandbox (no API key set)")
    store = demo.store
    companies = store.company_ids()
    connected = [c for c in companies if store.connections_wire(c)]
    connections = sum(len(store.connections_wire(c)) for c in companies)
    without = len(companies) - len(connected)
    assert without > 0  # the demo has companies with no connections
    expect(banner.locator(".codat-nb-listed")).to_have_text(
        f"Portfolio listed at {demo.clock.now():%Y-%m-%d %H:%M:%S} UTC (server time): "
        f"{connections:,} connections of {len(connected):,} companies. {without:,} more "
        "companies have no connections, so no row below: Open a company reaches them."
    )
    tab.console.assert_clean(tab.page)


def test_a_visit_leaves_only_the_console_own_lines_in_the_terminal(
    laptop_tab: ConsoleTab, demo_console_server: ConsolePage
) -> None:
    """A newcomer's terminal after the first visit: the demo notice, the URL and how to stop;
    no warnings from Voila, jupyter_server or the page's kernel (a notebook "not trusted", a
    kernel on TCP "without encryption", a websocket ping timeout), which read as trouble."""
    rows = laptop_tab.portfolio.locator(".codat-nb-portfolio-table tr.codat-nb-row")
    expect(rows).to_have_count(25)  # the visit's kernel ran and its widgets are up
    lines = demo_console_server.log.read_text(errors="replace").splitlines()
    assert lines[0].startswith("codat_nb: no Codat API key found")
    assert lines[1] == f"Support console at {demo_console_server.url}"
    assert lines[2:] == ["Press Ctrl-C to stop."]


def test_no_empty_company_panel_waits_before_a_choice(laptop_tab: ConsoleTab) -> None:
    tab = laptop_tab
    assert tab.manager.count() == 0
    expect(tab.portfolio.get_by_role("button", name="Open a company")).to_be_attached()
    assert in_viewport(tab, ".codat-nb-portfolio-table")["scrolled"] == 0


def test_a_row_click_brings_its_company_into_view(laptop_tab: ConsoleTab, artifacts) -> None:
    tab = laptop_tab
    where_it_opens = in_viewport(tab, ".codat-nb-open-company")  # the manager opens here
    assert where_it_opens["scrolled"] == 0
    assert where_it_opens["top"] > where_it_opens["height"] * 0.9, where_it_opens  # the fold
    portfolio_rows = tab.portfolio.locator(".codat-nb-portfolio-table tr.codat-nb-row")
    connection_id = portfolio_rows.nth(20).get_attribute("data-row-id")  # low on the screen
    row(tab.portfolio.locator(".codat-nb-portfolio-table"), connection_id).click()
    card = tab.manager.locator(
        ".codat-nb-details .codat-nb-connection-card", has_text=connection_id
    )
    with waiting_for("the manager to open the company and its card"):
        card.wait_for()
    with waiting_for("the manager to be scrolled into view"):
        tab.portfolio.locator(".codat-nb-scroll-anchor[data-revealed='1']").wait_for(
            state="attached"
        )
    where = in_viewport(tab, ".codat-nb-connection-manager .codat-nb-table")
    assert where["scrolled"] > 0, where
    assert 0 <= where["top"] < where["height"] / 2, where  # the company's table, high up
    selected = in_viewport(
        tab, f".codat-nb-connection-manager tr.codat-nb-row[data-row-id='{connection_id}']"
    )
    assert selected["top"] >= 0 and selected["bottom"] <= selected["height"], selected
    caption = tab.manager.locator(".codat-nb-datatable-caption")
    expect(caption).to_contain_text("connections match the filters")
    tab.page.screenshot(path=str(artifacts / "console_row_opened.png"))
    tab.console.assert_clean(tab.page)


def test_open_a_company_offers_every_company_and_says_how_many_have_none(
    browser, demo_console_server: ConsolePage, demo: Sandbox, artifacts
) -> None:
    context, tab, _ = open_console(browser, demo_console_server.url, LAPTOP)
    try:
        with waiting_for("Open a company to be clickable"):
            tab.portfolio.get_by_role("button", name="Open a company").click()
        picker = tab.manager.locator(".codat-nb-company-select select option")
        store = demo.store
        companies = store.company_ids()
        expect(picker).to_have_count(len(companies))
        without = sum(not store.connections_wire(c) for c in companies)
        expect(tab.manager.locator(".codat-nb-status-line")).to_have_text(
            f"{len(companies):,} companies ({without:,} with no connections); pick one to see "
            "its connections."
        )
        search = tab.manager.locator(".codat-nb-company-search input")
        assert search.evaluate("input => input === document.activeElement")
        with waiting_for("the manager to be scrolled into view"):
            tab.portfolio.locator(".codat-nb-scroll-anchor[data-revealed]").wait_for(
                state="attached"
            )
        where = in_viewport(tab, ".codat-nb-connection-manager .codat-nb-company-search")
        assert where["scrolled"] > 0 and where["top"] >= 0, where
        assert where["bottom"] <= where["height"], where
        tab.page.screenshot(path=str(artifacts / "console_open_a_company.png"))
        tab.console.assert_clean(tab.page)
    finally:
        context.close()
