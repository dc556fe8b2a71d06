"""status_over_time(): counts per status per snapshot, equal to counting each recorded frame."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from codat_nb.analysis import plot_status_over_time
from codat_nb.history.queries import MISSING
from codat_nb.wire.schema import CONNECTION_STATUSES

matplotlib.use("Agg")


@pytest.fixture
def two_snapshots(history, listing, next_day, demo_sandbox):
    first = listing()
    history.record(first)
    for _, row in first[first["status"] == "Linked"].head(7).iterrows():
        demo_sandbox.store.deauthorize(row["company_id"], row["id"])
    next_day()
    second = listing()
    history.record(second)
    return first, second


def test_counts_per_status_equal_each_snapshots_own_counts(history, two_snapshots):
    table = history.status_over_time()

    assert list(table.columns) == list(CONNECTION_STATUSES)
    assert table.index.name == "taken_at" and str(table.index.dtype) == "datetime64[us, UTC]"
    for frame in two_snapshots:
        expected = frame["status"].value_counts().reindex(CONNECTION_STATUSES).tolist()
        assert table.loc[frame.attrs["server_time"]].tolist() == expected
    assert table["Deauthorized"].diff().iloc[-1] == 7


@pytest.mark.parametrize("by", ["source_type", "platform_name", "integration_key"])
def test_counts_by_a_column_equal_a_crosstab_of_each_snapshot(history, two_snapshots, by):
    table = history.status_over_time(by=by)

    assert table.index.names == ["taken_at", by]
    for frame in two_snapshots:
        groups = frame[by].astype("str").fillna(MISSING)  # as analysis.status_summary
        expected = pd.crosstab(groups, frame["status"].astype(str))
        got = table.xs(frame.attrs["server_time"], level="taken_at")
        got = got.loc[got.sum(axis=1) > 0, got.sum() > 0]
        pd.testing.assert_frame_equal(
            got.sort_index().sort_index(axis=1),
            expected.sort_index().sort_index(axis=1),
            check_names=False,
        )
    assert (table.dtypes == "int64").all()
    if by == "integration_key":  # the demo has connections whose key Codat left out
        assert table.xs(MISSING, level=by).sum().sum() > 0


def test_an_empty_history_has_the_status_columns(history):
    table = history.status_over_time()

    assert table.empty and list(table.columns) == list(CONNECTION_STATUSES)


def test_the_trend_chart_of_a_real_history(history, two_snapshots):
    ax = plot_status_over_time(history.status_over_time())

    deauthorized = next(line for line in ax.get_lines() if line.get_label() == "Deauthorized")
    assert list(deauthorized.get_ydata()) == history.status_over_time()["Deauthorized"].tolist()
    assert ax.get_title() == "Connections by status over time (2 snapshots)"
