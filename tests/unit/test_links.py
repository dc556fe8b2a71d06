"""Link URL exports: CSV a spreadsheet opens safely, text to paste, re-link cards; query
strings (one-time ``?otp=`` links) pass through untouched."""

from __future__ import annotations

import base64
import csv
import io
from html import escape

import pandas as pd
import pytest

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


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://evil")',
        "+1+2",
        "-1+2",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "  =1+2",  # spreadsheets skip leading spaces
        "\n=1+2",  # and line breaks
        "\u3000@SUM(A1)",  # an ideographic space
        "\uff1d1+2",  # full-width =
        "\uff0b1",  # full-width +
        "\uff0d1",  # full-width -
        "\uff20SUM(A1)",  # full-width @
        " \n \uff1dcmd",
    ],
)
def test_formula_triggers_after_whitespace_and_in_full_width_are_made_text(name):
    text = links.links_csv(frame(company_name=name))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][1] == "'" + name


def test_a_line_break_in_a_value_stays_inside_its_record():
    text = links.links_csv(frame(company_name="Acme\rTrading\nLtd"))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2 and rows[1][1] == "Acme\rTrading\nLtd"


@pytest.mark.parametrize("name", ["Acme = Co", "Acme-Trading", "  Acme", "\uff21cme", "a@b.c"])
def test_ordinary_names_are_left_as_they_are(name):
    assert links.spreadsheet_safe(name) == name


def test_text_is_one_line_per_connection():
    assert links.links_text(frame()) == f"Acme, Trading & Sons (Xero, Deauthorized): {URL}\n"


def test_download_link_carries_the_text_as_a_data_url():
    html = links.download_html("a,b\n", "link_urls.csv")
    payload = html.split("base64,")[1].split('"')[0]
    assert base64.b64decode(payload) == b"a,b\n"
    assert 'download="link_urls.csv"' in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.domain)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/start",
        "https:evil",
        "ftp://files.example/start",
        "",
    ],
)
def test_a_link_url_that_is_not_http_is_shown_as_text_not_a_link(url):
    html = links.relink_html(frame(link_url=url))
    assert "<a " not in html and "href" not in html
    assert escape(url) in html and "not an http(s) URL" in html


def test_relink_card_escapes_the_url_and_keeps_its_query():
    html = links.relink_html(frame(platform_name="<Xero>"))
    assert 'href="https://link.codat.io/company/c1/connection/k1?otp=a1b2&amp;lang=en"' in html
    assert "&lt;Xero&gt;" in html and "codat-nb-status-Deauthorized" in html
