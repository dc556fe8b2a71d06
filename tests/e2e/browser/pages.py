"""What the browser tests share: bounded waits that say what they waited for, a record of what
the page said (console errors, uncaught exceptions, requests that left the machine), and the
clicks on the widgets' tables.

A click lands only once the kernel has finished the previous step, shown by what that step
draws last: the widgets disable their buttons while a handler runs, and Chromium drops a click
on a disabled button.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:  # playwright is imported only by the ``browser`` fixture, which can skip
    from playwright.sync_api import ConsoleMessage, Error, Locator, Page, Request

# Upper bounds, not waits: every wait ends as soon as its signal shows, and a machine busy with
# other test runs may take far longer than an idle one to show it.
WAIT_MS = 120_000  # one step on the page: a click reaching the kernel and its redraw coming back
PAGE_START_MS = 300_000  # a console page: a kernel, the portfolio listed, the first rows drawn
BROKEN_WIDGET_TEXTS = ("Error displaying widget", "Failed to load model class")
LOCAL_SCHEMES = ("data", "blob", "about")


def expect(target: Locator):
    """Playwright's retrying assertions, bounded by WAIT_MS (imported late: it may be missing)."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    return playwright_expect(target)


@contextmanager
def waiting_for(what: str) -> Iterator[None]:
    """Say what a timed-out wait was for (Playwright's message names a selector at best)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        yield
    except PlaywrightTimeoutError as err:
        pytest.fail(f"timed out waiting for {what}: {err}")


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in ("127.0.0.1", "localhost", "::1")


@dataclass
class Console:
    """What the page reported: console errors, uncaught exceptions, requests off the machine."""

    errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self.on_console)
        page.on("pageerror", self.on_page_error)
        page.on("request", self.on_request)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error}")

    def on_request(self, request: Request) -> None:
        if not is_loopback(request.url):
            self.remote_requests.append(request.url)

    def assert_clean(self, page: Page) -> None:
        """No console error, no request off the machine, no widget that failed to render."""
        assert not self.errors, "\n".join(self.errors)
        assert not self.remote_requests, self.remote_requests
        body = page.locator("body").inner_text()
        for text in BROKEN_WIDGET_TEXTS:
            assert text not in body


def row(table: Locator, row_id: str) -> Locator:
    return table.locator(f"tr.codat-nb-row[data-row-id='{row_id}']")


def click_row_and_wait(manager: Locator, row_id: str) -> None:
    """Click a manager's row; wait until it shows selected and the kernel drew its card."""
    target = row(manager.locator(".codat-nb-table"), row_id)
    with waiting_for(f"row {row_id} to be on the page"):
        target.wait_for()
    target.click()
    expect(target).to_have_attribute("aria-selected", "true")
    card = manager.locator(".codat-nb-details .codat-nb-connection-card", has_text=row_id)
    with waiting_for(f"the card of {row_id}: the kernel handled the click"):
        card.wait_for()


def unlink_two_and_confirm(manager: Locator, first: str, second: str) -> None:
    """Select two Linked rows, Unlink, check the confirmation lists both, Confirm; wait until
    the table shows both Unlinked and the status line says so."""
    click_row_and_wait(manager, first)
    click_row_and_wait(manager, second)
    expect(manager.locator(".codat-nb-selection-info")).to_contain_text("2 selected")
    with waiting_for("Unlink to be enabled"):
        manager.get_by_role("button", name="Unlink").click()
    confirm_box = manager.locator(".codat-nb-confirm-box")
    with waiting_for("the confirmation listing both connections"):
        confirm_box.locator(".codat-nb-confirm-list li").nth(1).wait_for()
    text = confirm_box.inner_text()
    assert first in text and second in text and "Unlink 2 connections?" in text
    with waiting_for("Confirm to be enabled"):
        confirm_box.get_by_role("button", name="Confirm").click()
    table = manager.locator(".codat-nb-table")
    for row_id in (first, second):
        with waiting_for(f"the table to show {row_id} Unlinked"):
            row(table, row_id).locator(".codat-nb-status-Unlinked").wait_for()
    status = manager.locator(".codat-nb-status-line .codat-nb-status-ok")
    with waiting_for("the status line to report two connections unlinked"):
        status.filter(has_text=re.compile("Unlinked 2 connections")).wait_for()


def relink_and_read_url(manager: Locator, row_id: str) -> str:
    """Re-link the (already selected) row; the link URL the page shows for it."""
    with waiting_for("Re-link to be enabled"):
        manager.get_by_role("button", name="Re-link").click()
    link = manager.locator(
        f".codat-nb-links .codat-nb-relink-item[data-connection-id='{row_id}'] a.codat-nb-link-url"
    )
    with waiting_for(f"the link URL of {row_id}"):
        link.wait_for()
    return link.get_attribute("href")


@dataclass
class ConsoleTab:
    """A browser tab on the console, and what its page reported."""

    page: Page
    console: Console

    @property
    def portfolio(self) -> Locator:
        return self.page.locator(".codat-nb-portfolio")

    @property
    def manager(self) -> Locator:
        return self.portfolio.locator(".codat-nb-connection-manager")


def open_console(
    browser: Any, url: str, viewport: tuple[int, int] = (1400, 1800)
) -> tuple[Any, ConsoleTab, float]:
    """A new tab (``viewport``: width, height) on the console; returns its context, the tab
    once the portfolio's first rows show, and the milliseconds from navigation start to that
    moment (the browser's own clock)."""
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    console = Console()
    console.attach(page)
    page.goto(url, wait_until="domcontentloaded")
    with waiting_for("the portfolio's first rows"):
        shown_at = page.wait_for_function(
            """() => document.querySelector(
                   '.codat-nb-portfolio-table tr.codat-nb-row') && performance.now()""",
            timeout=PAGE_START_MS,
        ).json_value()
    return context, ConsoleTab(page, console), shown_at
