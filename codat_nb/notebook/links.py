"""Link URLs to send customers: as CSV, as plain text, as a download, and as re-link cards.

Codat re-links a Deauthorized or Unlinked connection through the same connection: the customer
opens its ``linkUrl`` again. Support sends those URLs by mail or ticket, so the widgets export
them for a spreadsheet (CSV) or to paste (text). Link URLs may carry a query string (a one-time
``?otp=``): they are passed on untouched.
"""

from __future__ import annotations

import base64
import csv
import io
from html import escape

import pandas as pd

from codat_nb.notebook.display import Cell, is_missing, link_html, status_badge

#: What an export holds per connection, as (frame column, CSV header).
EXPORT_COLUMNS = (
    ("company_id", "company_id"),
    ("company_name", "company_name"),
    ("id", "connection_id"),
    ("platform_name", "platform_name"),
    ("status", "status"),
    ("link_url", "link_url"),
)
#: Statuses a customer fixes by opening the connection's link URL again.
RELINKABLE = ("Deauthorized", "Unlinked")
#: What makes a spreadsheet read a cell as a formula (OWASP's list), and the full-width forms
#: that spreadsheets set up for East Asian input read the same way.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(value: Cell) -> str:
    """A cell a spreadsheet shows as text: company names come from the network, and one that
    starts with ``=`` (or ``＝``, or either after spaces or line breaks, which spreadsheets
    skip) would otherwise run as a formula when the CSV is opened. Such a cell gets a leading
    ``'``, which spreadsheets read as "text" and do not show."""
    text = "" if is_missing(value) else str(value)
    formula = text.startswith(_FORMULA_START) or text.lstrip().startswith(_FORMULA_START)
    return "'" + text if formula else text


def links_csv(frame: pd.DataFrame) -> str:
    """Connections (a frame with ``EXPORT_COLUMNS``) as CSV (RFC 4180: CRLF between records,
    so a value holding a line break is quoted), one record per connection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for _, header in EXPORT_COLUMNS])
    for row in frame[[col for col, _ in EXPORT_COLUMNS]].itertuples(index=False, name=None):
        writer.writerow([spreadsheet_safe(value) for value in row])
    return out.getvalue()


def links_text(frame: pd.DataFrame) -> str:
    """Connections as lines to paste into a message: company, platform, status, link URL."""
    return "".join(
        f"{company} ({platform}, {status}): {url}\n"
        for company, platform, status, url in frame[
            ["company_name", "platform_name", "status", "link_url"]
        ].itertuples(index=False, name=None)
    )


def download_html(text: str, filename: str, mime: str = "text/csv") -> str:
    """A link that saves ``text`` as ``filename``: a data URL, so nothing is fetched."""
    payload = base64.b64encode(text.encode()).decode()
    return (
        f'<a class="codat-nb-download" download="{escape(filename, quote=True)}" '
        f'href="data:{mime};charset=utf-8;base64,{payload}" '
        'style="color:#1565c0;text-decoration:underline">'
        f"Download {escape(filename)}</a>"
    )


def relink_html(frame: pd.DataFrame) -> str:
    """One line per connection to re-link: platform, status, and its link URL to send."""
    items = []
    for conn_id, platform, status, url in frame[
        ["id", "platform_name", "status", "link_url"]
    ].itertuples(index=False, name=None):
        items.append(
            f'<li class="codat-nb-relink-item" data-connection-id="{escape(str(conn_id), True)}">'
            f"{escape(str(platform))} {status_badge(status)} <code>{escape(str(conn_id))}</code>: "
            f"{link_html(url, 'codat-nb-link-url')}</li>"
        )
    return (
        '<div class="codat-nb-relink" style="font-size:13px">Send the customer the link URL: '
        "opening it re-authorizes the same connection.<ul style='margin:2px 0'>"
        + "".join(items)
        + "</ul></div>"
    )
