"""plot_status_over_time on hand-built status_over_time() tables: one line per status, fixed
colours, and clear errors for tables of another shape."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from codat_nb.analysis import plot_status_over_time
from codat_nb.colours import STATUS_COLOURS, UNKNOWN_STATUS_COLOUR

matplotlib.use("Agg")

TIMES = pd.DatetimeIndex(
    ["2026-11-01T09:00:00Z", "2026-11-08T09:00:00Z", "2026-11-15T09:00:00Z"], name="taken_at"
)


def counts(columns: dict[str, list[int]], index=TIMES) -> pd.DataFrame:
    table = pd.DataFrame(columns, index=index, dtype="int64")
    table.columns.name = "status"
    return table


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_one_line_per_status_in_its_colour():
    table = counts(
        {"PendingAuth": [5, 4, 2], "Linked": [60, 58, 57], "Unlinked": [3, 3, 3],
         "Deauthorized": [2, 5, 9], "Frozen": [0, 0, 1]}
    )  # fmt: skip

    ax = plot_status_over_time(table)

    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == list(table.columns)
    for status, line in lines.items():
        assert to_hex(line.get_color()) == STATUS_COLOURS.get(status, UNKNOWN_STATUS_COLOUR)
        assert list(line.get_ydata()) == table[status].tolist()
    assert ax.get_title() == "Connections by status over time (3 snapshots)"
    assert ax.get_ylim()[0] == 0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(table.columns)


def test_a_few_snapshots_get_a_tick_each_and_many_get_automatic_ticks():
    ax = plot_status_over_time(counts({"Linked": [1, 2, 3]}))
    ax.figure.canvas.draw()

    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "01 Nov 2026",
        "08 Nov 2026",
        "15 Nov 2026",
    ]
    daily = pd.date_range("2026-11-01T09:00:00Z", periods=30, freq="D", name="taken_at")
    many = plot_status_over_time(counts({"Linked": list(range(30))}, index=daily))
    assert len(many.get_xticks()) < 30


def test_it_draws_on_the_axes_given():
    _, ax = plt.subplots()

    assert plot_status_over_time(counts({"Linked": [1, 2, 3]}), ax=ax) is ax


def test_an_empty_history_says_so():
    empty = counts({"Linked": []}, index=pd.DatetimeIndex([], tz="UTC", name="taken_at"))

    ax = plot_status_over_time(empty)

    assert [t.get_text() for t in ax.texts] == ["no snapshots"]
    assert ax.get_title() == "Connections by status over time (0 snapshots)"


def test_a_grouped_table_is_refused_with_what_to_do():
    grouped = counts(
        {"Linked": [1, 2]},
        index=pd.MultiIndex.from_product([TIMES[:1], ["Accounting", "Banking"]]),
    )

    with pytest.raises(ValueError, match=r"counts.xs\(value, level=1\)"):
        plot_status_over_time(grouped)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ([1, 2], TypeError, "counts must be the DataFrame .* not list"),
        (counts({"Linked": [1, 2, 3]}, index=[0, 1, 2]), ValueError, "snapshot times as its index"),
    ],
)
def test_other_input_is_refused(bad, error, message):
    with pytest.raises(error, match=message):
        plot_status_over_time(bad)
