"""What the top of a portfolio says: where its data comes from, when it was listed, and what
it holds.

A support engineer with two consoles open (the demo and live Codat) must tell them apart at a
glance, and must know how old the rows are: the banner names the source ("Demo sandbox (no
API key set)" or the Codat base URL) and the server's time of the listing. It also explains
the counts: the portfolio lists connections, so companies with no connections are not in its
table, yet the company picker offers them.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import pandas as pd

from codat_nb.notebook.controls import companies_text
from codat_nb.notebook.display import format_timestamp

if TYPE_CHECKING:
    from codat_nb.client import CodatClient

#: The source of an embedded sandbox: what ``codat_nb.connect()`` starts with no key set.
DEMO_SOURCE = "Demo sandbox (no API key set)"


def describe_source(client: CodatClient) -> str:
    """Where ``client`` reads from: the embedded demo sandbox, or the Codat API at its URL."""
    if getattr(client, "sandbox", None) is not None:
        return DEMO_SOURCE
    return f"Codat API at {client.base_url}"


def banner_html(
    source: str,
    server_time: pd.Timestamp | None,
    portfolio: pd.DataFrame | None,
    companies: pd.DataFrame | None,
) -> str:
    """The banner: ``source`` in bold, then (once listed) the listing's server time and the
    counts: connections, companies with connections, and those with none."""
    lines = [f'<div class="codat-nb-source" style="font-weight:600">{escape(source)}</div>']
    if portfolio is not None:
        when = format_timestamp(server_time) if server_time is not None else "unknown"
        with_connections = portfolio["company_id"].nunique()
        counts = (
            f"Portfolio listed at {escape(when)} (server time): {len(portfolio):,} "
            f"connection{'' if len(portfolio) == 1 else 's'} of {companies_text(with_connections)}."
        )
        listed = set(portfolio["company_id"])
        without = 0 if companies is None else len(set(companies["company_id"]) - listed)
        if without > 0:
            counts += (
                f" {without:,} more compan{'y has' if without == 1 else 'ies have'} no "
                "connections, so no row below: <b>Open a company</b> reaches "
                f"{'it' if without == 1 else 'them'}."
            )
        lines.append(f'<div class="codat-nb-listed">{counts}</div>')
    return (
        '<div style="font-size:13px;padding:6px 10px;margin:0 0 6px;border-left:4px solid '
        f'#1565c0;background:#f3f7fc;line-height:1.5">{"".join(lines)}</div>'
    )
