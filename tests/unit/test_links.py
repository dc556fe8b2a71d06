"""Link URL exports: CSV a spreadsheet opens safely, text to paste, re-link cards; query
strings (one-time ``?otp=`` links) pass through untouched."""

from __future__ import annotations

import base64
import csv
import io

import pandas as pd

from codat_nb.notebook import links

URL = "https://link.codat.io/company/c1/connection/k1?otp=a1b2&lang=en"


def frame(**overrides) -> pd.DataFrame:
    row = {
        "company_id": "c1",
        "company_name": "Acme, Trading & Sons",
        "id": "k1",
        "platform_name": "Xero",
        "status": "Deauthorized",
        "link_url": URL,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def test_csv_round_trips_through_a_csv_reader_with_the_url_untouched():
    rows = list(csv.reader(io.StringIO(links.links_csv(frame()))))
    assert rows == [
        [header for _, header in links.EXPORT_COLUMNS],
        ["c1", "Acme, Trading & Sons", "k1", "Xero", "Deauthorized", URL],
    ]


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_made_text():
    rows = list(csv.reader(io.StringIO(links.links_csv(frame(company_name="=1+2")))))
    assert rows[1][1] == "'=1+2"
    assert links.links_csv(frame(company_name=None)).splitlines()[1].startswith("c1,,k1")


def test_text_is_one_line_per_connection():
    assert links.links_text(frame()) == f"Acme, Trading & Sons (Xero, Deauthorized): {URL}\n"


def test_download_link_carries_the_text_as_a_data_url():
    html = links.download_html("a,b\n", "link_urls.csv")
    payload = html.split("base64,")[1].split('"')[0]
    assert base64.b64decode(payload) == b"a,b\n"
    assert 'download="link_urls.csv"' in html


def test_relink_card_escapes_the_url_and_keeps_its_query():
    html = links.relink_html(frame(platform_name="<Xero>"))
    assert 'href="https://link.codat.io/company/c1/connection/k1?otp=a1b2&amp;lang=en"' in html
    assert "&lt;Xero&gt;" in html and "codat-nb-status-Deauthorized" in html
