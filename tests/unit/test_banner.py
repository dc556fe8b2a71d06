"""The portfolio's banner: its source, the listing's server time and the counts explained."""

from __future__ import annotations

import pandas as pd

from codat_nb.notebook.banner import DEMO_SOURCE, banner_html, describe_source


class Client:
    base_url = "https://api.codat.io"
    sandbox = None


def portfolio(*company_ids: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"company_id": list(company_ids), "id": [f"k{i}" for i, _ in enumerate(company_ids)]}
    )


def test_the_source_is_the_demo_or_the_base_url():
    live = Client()
    assert describe_source(live) == "Codat API at https://api.codat.io"
    live.sandbox = object()  # connect() started its embedded demo sandbox
    assert describe_source(live) == DEMO_SOURCE == "Demo sandbox (no API key set)"


def test_before_a_listing_only_the_source_shows():
    html = banner_html("Codat API at <x>", None, None, None)
    assert "Codat API at &lt;x&gt;</div>" in html and "listed" not in html


def test_the_counts_explain_the_companies_without_connections():
    companies = pd.DataFrame({"company_id": ["a", "b", "c", "d"]})
    html = banner_html(
        DEMO_SOURCE,
        pd.Timestamp("2026-11-01T09:00:00.1234567Z"),
        portfolio("a", "a", "b"),
        companies,
    )
    assert (
        "Portfolio listed at 2026-11-01 09:00:00 UTC (server time): 3 connections of 2 "
        "companies. 2 more companies have no connections, so no row below: "
        "<b>Open a company</b> reaches them."
    ) in html
    one = banner_html(DEMO_SOURCE, None, portfolio("a"), companies.iloc[:2])
    assert (
        "listed at unknown (server time): 1 connection of 1 company. 1 more company has no "
        "connections" in one
    )
    assert "reaches it." in one
    none_left = banner_html(DEMO_SOURCE, None, portfolio("a", "b"), companies.iloc[:2])
    assert "no connections" not in none_left
