"""Notebook 03 in JupyterLab in headless Chromium: the ConnectionManager and the PortfolioView
render and work.

Python tests drive the widgets through their traits; only a browser shows whether the front
ends render at all (a widget-manager version mismatch, or an anywidget module that fails to
load, shows "Error displaying widget" instead) and whether a user's clicks reach the kernel and
come back as a redrawn table. A click is made only once the kernel has finished the previous
action, shown by what that action draws last (see ``pages.py``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from codat_nb.sandbox import Sandbox
from tests.e2e.browser.pages import (
    BROKEN_WIDGET_TEXTS,
    WAIT_MS,
    Console,
    click_row_and_wait,
    expect,
    relink_and_read_url,
    row,
    unlink_two_and_confirm,
    waiting_for,
)

if TYPE_CHECKING:  # playwright is imported only by the ``browser`` fixture, which can skip
    from playwright.sync_api import Locator, Page

    from .conftest import Lab

pytestmark = pytest.mark.browser

KERNEL_START_S = 180  # JupyterLab's page loaded, a session created, the kernel started
RUN_ALL_TIMEOUT_MS = 300_000  # every cell of the notebook


@dataclass
class NotebookPage:
    """The JupyterLab page with notebook 03 run, and what its console said so far."""

    page: Page
    console: Console
    lab: Lab
    artifacts: Path

    @property
    def manager(self) -> Locator:
        """The notebook's own manager (the portfolio view below opens another on a row click)."""
        return self.page.locator(".codat-nb-connection-manager").first

    @property
    def portfolio(self) -> Locator:
        return self.page.locator(".codat-nb-portfolio")

    def evidence(self, name: str) -> str:
        """A screenshot, the kernel's state and JupyterLab's log, for a failure's report."""
        from playwright.sync_api import Error as PlaywrightError

        shot = self.artifacts / f"failed_{name}.png"
        try:
            self.page.screenshot(path=str(shot), timeout=30_000)
        except PlaywrightError as err:  # the report matters more than the picture
            shot = f"none ({err.message})"
        try:
            kernels = [(s["path"], s["kernel"]["execution_state"]) for s in self.lab.sessions()]
        except requests.RequestException as err:
            kernels = f"unknown ({err})"
        return (
            f"screenshot: {shot}\nkernels (path, state): {kernels}\n"
            f"JupyterLab log:\n{self.lab.log_tail()}"
        )


def _wait_for_kernel_idle(page: Page, lab: Lab) -> None:
    """Until the server says the notebook's kernel is idle, then until the status bar says
    "<kernel> | Idle": the page is connected to it.

    The toolbar's execution indicator already says idle while there is no kernel yet, and Run
    All pressed then runs nothing.
    """
    deadline, states = time.monotonic() + KERNEL_START_S, []
    while time.monotonic() < deadline:
        states = [
            s["kernel"]["execution_state"] for s in lab.sessions() if s["path"] == lab.notebook
        ]
        if states == ["idle"]:
            break
        page.wait_for_timeout(250)  # lets Playwright deliver the page's events meanwhile
    else:
        pytest.fail(f"the kernel of {lab.notebook} not idle within {KERNEL_START_S} s: {states}")
    with waiting_for("the status bar to show the kernel idle"):
        page.wait_for_function(
            """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(
                item => /^(?!No Kernel).+ \\| Idle$/.test(item.textContent.trim()))""",
            timeout=WAIT_MS,
        )


def _menu(page: Page, menu: str, item: str) -> None:
    """Click ``menu`` in JupyterLab's menu bar, then ``item`` in the menu that opens."""
    with waiting_for(f"menu {menu} > {item} to be clickable (a dialog in the way?)"):
        page.locator(".lm-MenuBar-itemLabel").get_by_text(menu, exact=True).click()
        page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()


def _code_prompts_match(page: Page, pattern: str, timeout_ms: int) -> None:
    """Until every code cell's prompt (``[ ]:``, ``[*]:``, ``[3]:``) matches ``pattern``."""
    page.wait_for_function(
        """pattern => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            const re = new RegExp(pattern);
            return prompts.length > 0 && prompts.every(p => re.test(p.textContent));
        }""",
        arg=pattern,
        timeout=timeout_ms,
    )


def _run_all_cells(page: Page) -> None:
    """Clear the saved outputs, run all cells from the menu bar, wait until every cell has run.

    Clearing first makes "every prompt has a number" mean "this run finished", not "was saved".
    """
    _menu(page, "Edit", "Clear Outputs of All Cells")
    with waiting_for("every code cell's prompt to be cleared to [ ]"):
        _code_prompts_match(page, r"^\[ \]:$", WAIT_MS)
    _menu(page, "Run", "Run All Cells")
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        _code_prompts_match(page, r"^\[\d+\]:$", RUN_ALL_TIMEOUT_MS)
    except PlaywrightTimeoutError as err:
        errors = page.locator("[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
        pytest.fail(f"timed out waiting for every code cell to have run: {err}\nerrors: {errors}")


def _wait_for_widget(page: Page) -> None:
    """Until the widgets' views have rendered, down to the portfolio's rows (the last widget
    of the notebook), or a widget error shows.

    A timeout here is left to the assertions, which say more (console errors first).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    rendered = page.locator(".codat-nb-portfolio .codat-nb-portfolio-table tr.codat-nb-row")
    outcome = rendered.or_(page.get_by_text(re.compile("|".join(BROKEN_WIDGET_TEXTS))))
    with suppress(PlaywrightTimeoutError):
        outcome.first.wait_for(state="visible")


def _assert_widget_healthy(notebook: NotebookPage) -> None:
    """No console error, no request off the machine, no widget error text, and both widgets
    on screen: the manager, and the portfolio view with its banner and no manager of its own
    until a row is clicked."""
    notebook.console.assert_clean(notebook.page)
    expect(notebook.page.locator(".codat-nb-connection-manager")).to_have_count(1)
    expect(notebook.portfolio).to_have_count(1)
    expect(notebook.manager).to_be_visible()
    expect(notebook.portfolio.locator(".codat-nb-banner .codat-nb-source")).to_contain_text(
        "Codat API at http://127.0.0.1:"
    )
    expect(notebook.portfolio.get_by_role("button", name="Open a company")).to_be_visible()


@pytest.fixture(scope="module")
def notebook(browser, lab, artifacts) -> Iterator[NotebookPage]:
    """Notebook 03 opened in JupyterLab with all cells run; its page's console is recorded."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    console = Console()
    console.attach(page)
    notebook = NotebookPage(page, console, lab, artifacts)
    try:
        page.goto(lab.notebook_url(), wait_until="domcontentloaded")
        _wait_for_kernel_idle(page, lab)
        _run_all_cells(page)
        _wait_for_widget(page)
        yield notebook
    except (Exception, pytest.fail.Exception):  # setup failed (tests' failures are not seen here)
        print(notebook.evidence("setup"))
        raise
    finally:  # the page as the tests left it, passed or failed
        with suppress(PlaywrightError):
            page.screenshot(path=str(artifacts / "last_page.png"))
            print(f"last state of the page: {artifacts / 'last_page.png'}")
        context.close()


def _pick(page: Page, widget: str, contains: str, label: str | None = None) -> None:
    """Select option ``label`` (default: the one containing ``contains``) of a Select widget.

    Waits first, as a user would, until the kernel's redraw has landed: the options are the new
    ones (every option contains ``contains`` when a label is given, else one does) and none is
    selected. The widget syncs the selected *index*, so choosing from a stale list picks
    the wrong row, and choosing the index the model already has sends nothing to the kernel.
    An option's value is its label (its text has the spaces made non-breaking).
    """
    with waiting_for(f"{widget} to offer options with {contains!r} and none selected"):
        page.wait_for_function(
            """([css, contains, all]) => {
                const select = document.querySelector(css);
                const options = select ? [...select.options] : [];
                const matches = options.filter(o => o.value.includes(contains)).length;
                const fresh = all ? matches > 0 && matches === options.length : matches > 0;
                return fresh && select.selectedIndex === -1;
            }""",
            arg=[f".codat-nb-{widget} select", contains, label is not None],
            timeout=WAIT_MS,
        )
    select = page.locator(f".codat-nb-{widget} select").first  # the notebook's own manager
    if label is None:
        label = select.locator("option", has_text=contains).get_attribute("value")
    select.select_option(value=label)


def _linked_connection(sb: Sandbox, avoid: str) -> tuple[dict, dict]:
    """A company (not mentioned in ``avoid``) and one of its Linked connections, as wire dicts."""
    for company_id in sb.store.company_ids():
        if company_id in avoid:
            continue
        for conn in sb.store.connections_wire(company_id):
            if conn["status"] == "Linked":
                return sb.store.get_company_wire(company_id), conn
    raise AssertionError("the demo portfolio has no Linked connection")


def _ready_for_partner_expense(sb: Sandbox, avoid: str) -> dict:
    """A company (not mentioned in ``avoid``) that may get a partner expense connection: a
    Linked accounting connection and no partner expense one yet (Codat's Expenses guide)."""
    for company_id in sb.store.company_ids():
        rows = sb.store.connections_wire(company_id)
        partner = any(r["sourceType"] == "Expense" for r in rows)
        linked = any(r["sourceType"] == "Accounting" and r["status"] == "Linked" for r in rows)
        if company_id not in avoid and linked and not partner:
            return sb.store.get_company_wire(company_id)
    raise AssertionError("the demo portfolio has no company ready for a partner expense")


def _shown_company(manager: Locator) -> str:
    """The id of the company the manager's table shows (its caption names it)."""
    caption = manager.locator(".codat-nb-datatable-caption code").first.inner_text()
    return caption.strip()


def test_widgets_render_in_jupyterlab(notebook: NotebookPage, artifacts) -> None:
    page, manager = notebook.page, notebook.manager
    _assert_widget_healthy(notebook)
    for css in ("company-search", "company-select", "table", "selection-info"):
        expect(manager.locator(f".codat-nb-{css}")).to_be_visible()
    for label in ("Refresh", "Re-link", "Unlink", "Delete", "Export CSV", "Create connection"):
        expect(manager.get_by_role("button", name=label)).to_be_visible()
    for label in ("Lost access", "Pending over 7 days", "No sync in 30 days"):
        expect(notebook.portfolio.get_by_role("button", name=label)).to_be_visible()
    expect(manager.locator(".codat-nb-table tr.codat-nb-row")).to_have_count(7)
    assert manager.locator(".codat-nb-connection-select").count() == 0  # one table, no list

    # The returned bytes, not the file: a concurrent run may be rewriting the same path.
    png = manager.screenshot(path=str(artifacts / "connection_manager.png"))
    notebook.portfolio.locator(".codat-nb-portfolio-table").screenshot(
        path=str(artifacts / "portfolio_in_jupyterlab.png")
    )
    page.screenshot(path=str(artifacts / "jupyterlab.png"))
    print(f"screenshots saved in {artifacts}")
    assert len(png) > 10_000  # a real picture, not an empty box


def test_rows_are_selected_by_clicking_and_by_keyboard(notebook: NotebookPage) -> None:
    manager = notebook.manager
    table = manager.locator(".codat-nb-table")
    first, second = (
        table.locator("tr.codat-nb-row").nth(i).get_attribute("data-row-id") for i in (2, 3)
    )
    click_row_and_wait(manager, first)
    row(table, first).press("ArrowDown")
    expect(row(table, second)).to_be_focused()
    row(table, second).press("Space")
    expect(row(table, second)).to_have_attribute("aria-selected", "true")
    card = manager.locator(".codat-nb-details .codat-nb-connection-card", has_text=second)
    with waiting_for(f"the card of {second}: the kernel handled the key"):
        card.wait_for()
    expect(manager.locator(".codat-nb-selection-info")).to_contain_text("2 selected")
    with waiting_for("Clear selection to be enabled"):
        manager.get_by_role("button", name="Clear selection").click()
    expect(manager.locator(".codat-nb-selection-info")).to_contain_text("0 selected")
    expect(table.locator("tr.codat-nb-row[aria-selected='true']")).to_have_count(0)
    _assert_widget_healthy(notebook)


def test_two_connections_unlinked_in_one_confirmed_action(
    notebook: NotebookPage, demo_sandbox: Sandbox, artifacts
) -> None:
    manager = notebook.manager
    company = _shown_company(manager)
    linked = [
        c["id"] for c in demo_sandbox.store.connections_wire(company) if c["status"] == "Linked"
    ]
    assert len(linked) >= 2, linked
    unlink_two_and_confirm(manager, linked[0], linked[1])
    for connection_id in linked[:2]:
        assert (
            demo_sandbox.store.get_connection_wire(company, connection_id)["status"] == "Unlinked"
        )
    manager.screenshot(path=str(artifacts / "after_bulk_unlink.png"))
    _assert_widget_healthy(notebook)


def test_relink_shows_the_link_url(notebook: NotebookPage, demo_sandbox: Sandbox) -> None:
    manager = notebook.manager
    company = _shown_company(manager)
    target = next(
        c for c in demo_sandbox.store.connections_wire(company) if c["status"] == "Deauthorized"
    )
    with waiting_for("Clear selection to be enabled"):
        manager.get_by_role("button", name="Clear selection").click()
    expect(manager.locator(".codat-nb-selection-info")).to_contain_text("0 selected")
    click_row_and_wait(manager, target["id"])
    url = relink_and_read_url(manager, target["id"])
    assert url == demo_sandbox.store.get_connection_wire(company, target["id"])["linkUrl"]
    _assert_widget_healthy(notebook)


def test_a_double_click_on_create_creates_one_connection(
    notebook: NotebookPage, demo_sandbox: Sandbox
) -> None:
    """Both clicks of a double click reach the kernel (the second queued while the first ran,
    or sent before the button's disabled state came back); only one may create a connection."""
    manager = notebook.manager
    table = manager.locator(".codat-nb-table")
    company = _ready_for_partner_expense(demo_sandbox, avoid=table.inner_text())
    manager.locator(".codat-nb-company-search input").fill(company["name"])
    _pick(notebook.page, "company-select", company["name"], f"{company['name']} ({company['id']})")
    with waiting_for(f"the table to show company {company['id']}"):
        table.locator("code", has_text=company["id"]).wait_for()
    before = [c["id"] for c in demo_sandbox.store.connections_wire(company["id"])]

    with waiting_for("Create partner expense to be enabled"):
        manager.get_by_role("button", name="Create partner expense").dblclick()
    created = manager.locator(".codat-nb-status-line .codat-nb-status-ok", has_text="Created")
    with waiting_for("the status line to report a connection created"):
        created.wait_for()
    # Refresh is queued behind both clicks: once it has answered, both have been handled.
    with waiting_for("Refresh to be enabled"):
        manager.get_by_role("button", name="Refresh").click()
    with waiting_for("the status line to say Refreshed"):
        manager.locator(".codat-nb-status-line", has_text="Refreshed").wait_for()

    after = [c["id"] for c in demo_sandbox.store.connections_wire(company["id"])]
    assert len(after) == len(before) + 1, after
    assert table.locator("tr.codat-nb-row").count() == len(after)
    _assert_widget_healthy(notebook)
