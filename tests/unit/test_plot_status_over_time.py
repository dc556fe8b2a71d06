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
from tests.support import assert_chart_fits

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
    assert list(lines) == ["Linked", "Deauthorized", "Unlinked", "PendingAuth", "Frozen"]
    for status, line in lines.items():
        assert to_hex(line.get_color()) == STATUS_COLOURS.get(status, UNKNOWN_STATUS_COLOUR)
        assert list(line.get_ydata()) == table[status].tolist()
    assert ax.get_title() == "Connections by status over time (3 snapshots)"
    assert ax.get_ylim()[0] == 0


def test_the_legend_lists_the_lines_largest_first_at_the_latest_snapshot():
    table = counts({"PendingAuth": [9, 4, 2], "Linked": [60, 58, 57], "Deauthorized": [2, 5, 9]})

    ax = plot_status_over_time(table)

    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Linked", "Deauthorized", "PendingAuth"]  # 57, 9, 2


def test_a_breakdown_gets_a_line_per_group_largest_first():
    """README's hint: ``status_over_time(by="source_type")`` plots as it is."""
    grouped = counts(
        {"Linked": [5, 1, 7, 2], "Deauthorized": [1, 0, 4, 3]},
        index=pd.MultiIndex.from_product(
            [TIMES[:2], ["Accounting", "Banking"]], names=["taken_at", "source_type"]
        ),
    )

    ax = plot_status_over_time(grouped)

    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines == {"Accounting": [6, 11], "Banking": [1, 5]}
    assert ax.get_title() == "Connections by source type over time (2 snapshots)"
    assert ax.get_legend().get_title().get_text() == "source type"
    ax = plot_status_over_time(grouped, status="Deauthorized")
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines == {"Accounting": [1, 4], "Banking": [0, 3]}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Accounting", "Banking"]
    assert ax.get_title() == "Deauthorized connections by source type over time (2 snapshots)"


def test_one_status_of_a_table():
    ax = plot_status_over_time(
        counts({"Linked": [1, 2, 3], "Unlinked": [0, 0, 1]}), status="Unlinked"
    )

    assert [line.get_label() for line in ax.get_lines()] == ["Unlinked"]
    assert ax.get_title() == "Unlinked connections over time (3 snapshots)"


def test_a_status_the_table_lacks_is_named():
    with pytest.raises(
        ValueError, match=r"status='Linkd' is not a column of counts; it has \['Linked'\]"
    ):
        plot_status_over_time(counts({"Linked": [1, 2, 3]}), status="Linkd")


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


def test_a_table_of_three_index_levels_is_refused():
    deep = counts(
        {"Linked": [1, 2]},
        index=pd.MultiIndex.from_product([TIMES[:1], ["Accounting"], ["Xero", "Sage"]]),
    )

    with pytest.raises(ValueError, match="a row per snapshot, or per snapshot and group"):
        plot_status_over_time(deep)


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


@pytest.mark.parametrize("snapshots", [1, 4, 8, 30])
def test_every_label_and_marker_is_inside_the_figure(snapshots):
    """Markers at zero sit on the frame and keep their lower half; the first and last dates
    and the legend fit."""
    times = pd.date_range("2026-11-01T09:00:00Z", periods=snapshots, freq="7D", name="taken_at")
    table = counts(
        {"PendingAuth": [0] * snapshots, "Linked": list(range(600, 600 + snapshots)),
         "Deauthorized": [i % 3 for i in range(snapshots)]},
        index=times,
    )  # fmt: skip

    ax = plot_status_over_time(table)

    assert_chart_fits(ax)
    assert all(not line.get_clip_on() for line in ax.get_lines())


def test_a_breakdown_with_long_group_names_fits():
    grouped = counts(
        {"Linked": [5, 1, 7, 2], "Deauthorized": [1, 0, 4, 3]},
        index=pd.MultiIndex.from_product(
            [TIMES[:2], ["Dynamics 365 Business Central", "QuickBooks Online Sandbox"]],
            names=["taken_at", "platform_name"],
        ),
    )

    assert_chart_fits(plot_status_over_time(grouped))


def test_a_breakdown_by_platform_keeps_every_line_apart_and_fits():
    """The demo has 21 platforms: each line gets its own colour and style, the strongest
    colours go to the largest, and the legend moves below the chart in columns."""
    platforms = [f"Platform number {i:02d}" for i in range(21)]
    grouped = counts(
        {"Deauthorized": [i % 7 for i in range(42)], "Linked": list(range(42))},
        index=pd.MultiIndex.from_product(
            [TIMES[:2], platforms], names=["taken_at", "platform_name"]
        ),
    )

    ax = plot_status_over_time(grouped)

    styles = [(to_hex(line.get_color()), line.get_linestyle()) for line in ax.get_lines()]
    assert len(set(styles)) == 21
    assert styles[0] == ("#1f77b4", "-")  # tab10's first colour for the largest
    assert ax.get_legend().get_bbox_to_anchor().y1 < ax.get_window_extent().y0  # below
    assert_chart_fits(ax)
