"""``codat-nb console``'s first screen on 10,000 connections, in headless Chromium at 1366x900.

Timed and recorded (``artifacts/browser/console_first_screen.json``, docs/benchmarks.md), not
asserted: the machine is shared. In a module of its own, so no other console (and no kernel
being heated for one) runs while it is measured.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

import pytest

from tests.e2e.browser.pages import expect, open_console

if TYPE_CHECKING:
    from .conftest import ConsolePage

pytestmark = pytest.mark.browser

LAPTOP = (1366, 900)


def test_ten_thousand_connections_first_screen(
    browser, big_console_server: ConsolePage, artifacts
) -> None:
    """Measured, not asserted: milliseconds from navigation start to the first rows, in
    Chromium at 1366x900, for a visit to a console whose next kernel is heated (a new kernel
    lists the portfolio at the visit and renders one page)."""
    started = time.perf_counter()
    context, tab, shown_at = open_console(browser, big_console_server.url, LAPTOP)
    wall = time.perf_counter() - started
    try:
        expect(
            tab.portfolio.locator(".codat-nb-portfolio-table .codat-nb-page-info")
        ).to_contain_text("of 10,000")
        expect(tab.portfolio.locator(".codat-nb-portfolio-table tr.codat-nb-row")).to_have_count(25)
        expect(tab.portfolio.locator(".codat-nb-banner .codat-nb-listed")).to_contain_text(
            "10,000 connections of 2,000 companies."
        )
        rows_in_dom = tab.page.locator("tr.codat-nb-row").count()
        tab.console.assert_clean(tab.page)
        tab.page.screenshot(path=str(artifacts / "console_10k.png"))
    finally:
        context.close()
    result = {
        "connections": 10_000,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "first_rows_ms_after_navigation_start": round(shown_at),
        "wall_seconds_goto_to_first_rows": round(wall, 2),
        "table_rows_in_dom": rows_in_dom,
    }
    (artifacts / "console_first_screen.json").write_text(json.dumps(result, indent=2))
    print(f"10,000-connection console, first screen: {result}")
