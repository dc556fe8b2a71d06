"""Small HTML renderings for notebooks: connection and error cards, and table cells.

Plain functions returning HTML strings, so the cards IPython shows for a ``Connection`` or a
``CodatError`` and the widgets share one look, and tests can assert on the markup without a
browser. Every value is escaped: connection fields and error texts come from the network.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import Any, TypeAlias

import pandas as pd

from codat_nb.colours import status_colour
from codat_nb.exceptions import CodatError
from codat_nb.wire.dates import parse_codat_datetime
from codat_nb.wire.models import Connection

_CARD = (
    "border:1px solid {border};border-radius:6px;padding:8px 12px;margin:4px 0;"
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;max-width:900px;"
    "line-height:1.4"
)
_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0;line-height:1.4"
_CELL = "padding:2px 8px;border-bottom:1px solid #e0e0e0;text-align:left;vertical-align:top"
_KEY_CELL = _CELL + ";color:#555;white-space:nowrap"
#: An absolute http(s) URL with a host, as browsers read a link's scheme (case-insensitive).
_WEB_URL = re.compile(r"https?://[^\s/?#\\]", re.IGNORECASE)
#: A value from a frame's cell or a model's field: whatever scalar pandas holds (NaT, NA, ...).
Cell: TypeAlias = Any


def is_missing(value: Cell) -> bool:
    """Whether a cell holds nothing: None, NaN, NaT or NA."""
    return value is None or bool(pd.isna(value))


def status_badge(status: object) -> str:
    """A coloured pill for a connection status (unknown statuses still render, in purple)."""
    text = "" if status is None or status is pd.NA else str(status)
    colour = status_colour(text)
    return (
        f'<span class="codat-nb-status codat-nb-status-{escape(text, quote=True)}" '
        f'style="background:{colour};color:#fff;border-radius:9px;padding:1px 8px;'
        f'font-size:11px;white-space:nowrap">{escape(text)}</span>'
    )


def format_timestamp(value: Cell) -> str:
    """``2026-11-01 09:00:00 UTC`` when aware, the bare time when unqualified, '' when missing."""
    if is_missing(value):
        return ""
    ts = pd.Timestamp(value)
    text: str = (
        ts.strftime("%Y-%m-%d %H:%M:%S")
        if ts.tzinfo is None
        else ts.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC")
    )
    return text


def format_age(then: Cell, now: Cell) -> str:
    """How long ago ``then`` was, relative to ``now`` (the server's clock, for determinism)."""
    if is_missing(then):
        return "never"
    delta = _as_utc(now) - _as_utc(then)
    seconds = delta.total_seconds()
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return "just now"
    for unit_seconds, unit in ((365 * 86400, "year"), (30 * 86400, "month"), (86400, "day")):
        if seconds >= unit_seconds * (2 if unit != "day" else 1):
            count = int(seconds // unit_seconds)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 60)} min ago"


def _as_utc(value: Cell) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    utc: pd.Timestamp = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return utc


def is_web_url(url: object) -> bool:
    """Whether ``url`` is an absolute ``http(s)`` URL, the only kind rendered as a link: link
    URLs come from the network, and a ``javascript:`` or ``data:`` one would run in the page
    (or the notebook) when clicked. Leading whitespace counts against it: browsers strip it
    before reading the scheme."""
    return isinstance(url, str) and _WEB_URL.match(url) is not None


def link_html(url: Cell, css: str = "") -> str:
    """``url`` as a link that opens in a new tab when it is a web URL (``is_web_url``), else
    as plain text saying why it is not clickable; ``css``: the link's class."""
    if is_missing(url):
        return "<em>none</em>"
    text = str(url)
    if not is_web_url(text):
        return (
            f'<code class="codat-nb-not-a-link" title="not an http(s) URL, so not a link">'
            f"{escape(text)}</code> <em>(not an http(s) URL)</em>"
        )
    css_attr = f' class="{escape(css, quote=True)}"' if css else ""
    return (
        f'<a{css_attr} href="{escape(text, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer" style="color:#1565c0;text-decoration:underline">'
        f"{escape(text)}</a>"
    )


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(
        f'<tr><th style="{_KEY_CELL}">{escape(key)}</th><td style="{_CELL}">{value}</td></tr>'
        for key, value in pairs
    )


def _error_field(item: Any, name: str, wire: str) -> Any:
    """A DataConnectionError field from a model (snake_case) or a wire dict (camelCase)."""
    if isinstance(item, Mapping):
        value = item.get(wire, item.get(name))
        if isinstance(value, str) and wire.endswith("Utc"):
            return parse_codat_datetime(value)
        return value
    return getattr(item, name, None)


def data_connection_errors_html(errors: Iterable[Any]) -> str:
    """dataConnectionErrors (models or wire dicts) as a small table, in Codat's order."""
    header = ("Status code", "Status text", "Message", "Errored on", "Status", "Resolved on")
    body = []
    for item in errors:
        cells = (
            escape(_error_field(item, "status_code", "statusCode") or ""),
            escape(_error_field(item, "status_text", "statusText") or ""),
            escape(_error_field(item, "error_message", "errorMessage") or ""),
            escape(format_timestamp(_error_field(item, "errored_on_utc", "erroredOnUtc"))),
            escape(_error_field(item, "status", "status") or ""),
            escape(format_timestamp(_error_field(item, "resolved_on_utc", "resolvedOnUtc"))),
        )
        body.append("<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in cells) + "</tr>")
    if not body:
        return "<em>none</em>"
    head = "".join(f'<th style="{_KEY_CELL}">{h}</th>' for h in header)
    return (
        f'<table class="codat-nb-connection-errors" style="{_TABLE}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def connection_html(conn: Connection) -> str:
    """A card with every field of a connection; the link URL is clickable (opens a new tab)."""
    info = (
        f"<code>{escape(json.dumps(conn.connection_info, sort_keys=True, default=str))}</code>"
        if conn.connection_info
        else "<em>none</em>"
    )
    rows = _rows(
        [
            ("Id", f"<code>{escape(conn.id)}</code>"),
            ("Status", status_badge(conn.status)),
            ("Platform", escape(conn.platform_name)),
            ("Integration key", f"<code>{escape(conn.integration_key or '')}</code>"),
            ("Source type", escape(conn.source_type)),
            ("Created", escape(format_timestamp(conn.created))),
            ("Last sync", escape(format_timestamp(conn.last_sync)) or "<em>never</em>"),
            ("Link URL", link_html(conn.link_url)),
            ("Integration id", f"<code>{escape(conn.integration_id)}</code>"),
            ("Source id", f"<code>{escape(conn.source_id)}</code>"),
            ("Connection info", info),
            ("Errors", data_connection_errors_html(conn.data_connection_errors or [])),
        ]
    )
    colour = status_colour(conn.status)
    return (
        '<div class="codat-nb-card codat-nb-connection-card" '
        f'style="{_CARD.format(border=colour)}">'
        f'<div style="font-weight:600;margin-bottom:4px">{escape(conn.platform_name)} connection '
        f"{status_badge(conn.status)}</div>"
        f'<table style="{_TABLE}">{rows}</table></div>'
    )


def _validation_items(validation: Any) -> list[tuple[str, str]]:
    """(kind, text) pairs from a validation block, whether a pydantic model or a wire dict."""
    if validation is None:
        return []
    if hasattr(validation, "model_dump"):
        validation = validation.model_dump()
    items = []
    for kind in ("errors", "warnings"):
        for item in (validation or {}).get(kind) or []:
            if hasattr(item, "model_dump"):
                item = item.model_dump()
            item_id = item.get("item_id") or item.get("itemId") or ""
            message = item.get("message") or ""
            items.append((kind[:-1], f"{item_id}: {message}" if item_id else message))
    return items


def error_html(err: Exception) -> str:
    """A red card for a CodatError: what went wrong, the request, and the correlationId to quote."""
    status = getattr(err, "status_code", None)
    title = type(err).__name__ + (f" ({status})" if status else "")
    message = getattr(err, "error", None) or getattr(err, "message", None) or str(err)
    correlation_id = getattr(err, "correlation_id", None)
    method, url = getattr(err, "method", None), getattr(err, "url", None)
    pairs = [("Message", escape(str(message)))]
    if method or url:
        pairs.append(("Request", f"<code>{escape(' '.join(p for p in (method, url) if p))}</code>"))
    service = getattr(err, "service", None)
    if service:
        pairs.append(("Service", escape(str(service))))
    pairs.extend(
        (kind.capitalize(), escape(text))
        for kind, text in _validation_items(getattr(err, "validation", None))
    )
    retry_after = getattr(err, "retry_after", None)
    if retry_after is not None:
        pairs.append(("Retry after", escape(f"{retry_after} s")))
    can_be_retried = getattr(err, "can_be_retried", None)
    if can_be_retried:
        pairs.append(("Can be retried", escape(str(can_be_retried))))
    pairs.append(
        (
            "Correlation id",
            f"<code>{escape(correlation_id)}</code> (quote it to Codat support)"
            if correlation_id
            else "<em>none: the response did not carry one</em>",
        )
    )
    return (
        f'<div class="codat-nb-card codat-nb-error-card" style="{_CARD.format(border="#c62828")};'
        f'background:#fff5f5"><div style="font-weight:600;color:#c62828;margin-bottom:4px">'
        f'{escape(title)}</div><table style="{_TABLE}">{_rows(pairs)}</table></div>'
    )


#: Columns of a company's connections table, as (frame column, header).
TABLE_COLUMNS = (
    ("status", "Status"),
    ("platform_name", "Platform"),
    ("integration_key", "Key"),
    ("source_type", "Source type"),
    ("created", "Created"),
    ("last_sync", "Last sync"),
    ("error_count", "Errors"),
    ("id", "Id"),
)
#: Columns of the portfolio table (``list_all()`` frames): the company first, no platform key
#: (the platform's name says it, and the table must fit a notebook's width).
PORTFOLIO_COLUMNS = (
    ("company_name", "Company"),
    *(column for column in TABLE_COLUMNS if column[0] != "integration_key"),
)


def _cell(column: str, value: Cell, now: Cell) -> str:
    if column == "status":
        return status_badge(value)
    if column in ("id", "integration_key", "company_id"):
        return f"<code>{escape('' if is_missing(value) else str(value))}</code>"
    if column == "created":  # the day; the time in the tooltip and the card
        full = format_timestamp(value)
        return f'<span title="{escape(full, quote=True)}">{escape(full[:10])}</span>'
    if column == "last_sync":
        text = format_age(value, now) if now is not None else format_timestamp(value)
        return escape(text or "never")
    return escape("" if is_missing(value) else str(value))


def table_cells(
    df: pd.DataFrame,
    columns: tuple[tuple[str, str], ...] = TABLE_COLUMNS,
    now: datetime | pd.Timestamp | str | None = None,
) -> list[list[str]]:
    """Each row of a connections frame as escaped HTML cells: coloured statuses, ids as code,
    last sync as an age.

    ``now`` is the reference for ages (pass the server's time so output is reproducible);
    without it the cells show the last sync time itself.
    """
    missing = [col for col, _ in columns if col not in df.columns]
    if missing:
        raise ValueError(f"df is not a connections frame: missing columns {missing}")
    names = [col for col, _ in columns]
    return [
        [_cell(col, value, now) for col, value in zip(names, row, strict=True)]
        for row in df[names].itertuples(index=False, name=None)
    ]


def register_html_cards() -> None:
    """Show ``Connection`` models and ``CodatError`` as cards in IPython (``display(x)``).

    Registered with IPython's HTML formatter rather than as ``_repr_html_`` methods, so the
    models and the exceptions stay free of presentation code. Does nothing outside IPython.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    html = shell.display_formatter.formatters["text/html"]
    html.for_type(Connection, connection_html)
    html.for_type(CodatError, error_html)
