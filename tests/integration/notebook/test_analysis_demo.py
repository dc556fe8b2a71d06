"""The analysis helpers on a real listing of the demo portfolio, checked against sandbox truth."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta, timezone
from pathlib import Path

import matplotlib
import pytest

import codat_nb
from codat_nb.analysis import TOTAL, plot_status, plot_status_over_time, stale, status_summary
from codat_nb.history import History
from codat_nb.wire.dates import parse_codat_datetime

matplotlib.use("Agg")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def demo(demo_sandbox):
    client = codat_nb.CodatClient(api_key=demo_sandbox.api_key, base_url=demo_sandbox.url)
    frame = client.connections.list_all(progress=False)
    client.close()
    wire = [
        c
        for cid in demo_sandbox.store.company_ids()
        for c in demo_sandbox.store.connections_wire(cid)
    ]
    return demo_sandbox, frame, wire


def test_status_summary_matches_the_sandbox_counts(demo):
    _, frame, wire = demo
    for by, key in (("source_type", "sourceType"), ("platform_name", "platformName")):
        table = status_summary(frame, by=by)
        truth = Counter((c[key], c["status"]) for c in wire)
        assert table.loc[TOTAL, TOTAL] == len(wire)
        for (group, status), count in truth.items():
            assert table.loc[group, status] == count
        assert table.drop(index=TOTAL, columns=TOTAL).to_numpy().sum() == len(wire)


def test_stale_matches_a_row_by_row_check_of_the_wire(demo):
    sb, frame, wire = demo
    now = sb.clock.now()

    def instant(text):  # an unqualified local time is read as UTC, as the frames do
        when = parse_codat_datetime(text)
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

    def last_news(
        c,
    ):  # the last sync, or for a never-synced connection (missing or null) its creation
        return instant(c["lastSync"] if c.get("lastSync") else c["created"])

    expected = {c["id"] for c in wire if now - last_news(c) > timedelta(days=30)}
    result = stale(frame, "30D", now=now)
    assert set(result["id"]) == expected
    assert 0 < len(result) < len(frame)
    ages = result["last_sync_age"].dropna()
    assert ages.is_monotonic_decreasing and (ages > timedelta(days=30)).all()


def test_plot_status_of_the_portfolio_adds_up(demo):
    _, frame, wire = demo
    ax = plot_status(frame, by="platform_name")
    total = sum(bar.get_width() for container in ax.containers for bar in container)
    assert total == len(wire)
    assert f"({len(wire)})" in ax.get_title()


def test_readmes_trend_charts_draw_from_a_real_history(demo, tmp_path):
    """README's history section, as written: each ``plot_status_over_time(...)`` line draws."""
    sb, _, _ = demo
    lines = [
        line.strip().split("  #")[0]
        for line in (REPO / "README.md").read_text().splitlines()
        if line.strip().startswith("plot_status_over_time(")
    ]
    assert len(lines) >= 2 and any("by=" in line for line in lines)
    with (
        codat_nb.CodatClient(api_key=sb.api_key, base_url=sb.url) as client,
        History(tmp_path / "history.sqlite") as history,
    ):
        history.record(client.connections.list_all(progress=False))
        sb.advance(days=7)
        history.record(client.connections.list_all(progress=False))
        for line in lines:
            ax = eval(line, {"plot_status_over_time": plot_status_over_time, "history": history})
            assert len(ax.get_lines()) >= 2, line
            assert "(2 snapshots)" in ax.get_title(), line
