"""status_summary, stale and plot_status on hand-built frames with the documented columns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import matplotlib
import pandas as pd
import pytest

from codat_nb.analysis import plot_status, stale, status_summary
from codat_nb.colours import STATUS_COLOURS
from codat_nb.wire.schema import CONNECTION_STATUSES
from tests.support import assert_chart_fits

matplotlib.use("Agg")
NOW = "2026-11-01T09:00:00Z"


CREATED = "2026-01-01T00:00:00Z"


def frame(rows: list[tuple]) -> pd.DataFrame:
    """(id, platform, source_type, status, last_sync[, created]) rows as a connections-shaped
    frame; ``created`` defaults to long ago."""
    rows = [row if len(row) == 6 else (*row, CREATED) for row in rows]
    ids, platforms, sources, statuses, syncs, created = (
        zip(*rows, strict=True) if rows else ([],) * 6
    )
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype="str"),
            "platform_name": pd.Categorical(platforms),
            "source_type": pd.Categorical(sources),
            "status": pd.Categorical(statuses),
            "created": pd.to_datetime(pd.Series(created, dtype="object"), utc=True),
            "last_sync": pd.to_datetime(pd.Series(syncs, dtype="object"), utc=True),
            "error_count": pd.Series([0] * len(ids), dtype="int64"),
        }
    )


SAMPLE = frame(
    [
        ("a", "Xero", "Accounting", "Linked", "2026-10-31T09:00:00Z"),
        ("b", "Xero", "Accounting", "Deauthorized", "2026-08-01T00:00:00Z"),
        ("c", "Plaid", "Banking", "PendingAuth", None),
        ("d", "Partner Expense", "Expense", "Linked", "2026-10-02T08:59:59Z"),
        ("e", "Sage Intacct", "Accounting", "Linked", "2026-09-01T00:00:00+02:00"),
        ("f", "Mystery", "Other", "Frozen", "2026-10-30T00:00:00Z"),
    ]
)


def test_status_summary_counts_status_by_source_type_with_totals():
    table = status_summary(SAMPLE)
    assert list(table.columns) == [*CONNECTION_STATUSES, "Frozen", "Total"]
    assert list(table.index) == ["Accounting", "Banking", "Expense", "Other", "Total"]
    assert table.loc["Accounting", "Linked"] == 2
    assert table.loc["Accounting", "Deauthorized"] == 1
    assert table.loc["Banking", "PendingAuth"] == 1
    assert table.loc["Other", "Frozen"] == 1
    assert table.loc["Total", "Total"] == len(SAMPLE)
    assert table.loc["Total", "Unlinked"] == 0
    assert (table.dtypes == "int64").all()


def test_status_summary_by_platform_without_totals_sorts_platforms():
    table = status_summary(SAMPLE, by="platform_name", totals=False)
    assert list(table.index) == sorted(
        ["Xero", "Plaid", "Partner Expense", "Sage Intacct", "Mystery"]
    )
    assert table.loc["Xero"].to_dict() == {
        "PendingAuth": 0,
        "Linked": 1,
        "Unlinked": 0,
        "Deauthorized": 1,
        "Frozen": 0,
    }
    assert int(table.to_numpy().sum()) == len(SAMPLE)


def test_status_summary_of_an_empty_frame_keeps_every_status_column():
    table = status_summary(SAMPLE.iloc[:0])
    assert list(table.columns) == [*CONNECTION_STATUSES, "Total"]
    assert list(table.index) == ["Total"]
    assert table.loc["Total"].sum() == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"by": "nope"}, ValueError, "no column 'nope'"),
        ({"by": "status"}, ValueError, "other than 'status'"),
        ({"by": 3}, TypeError, "by must be"),
    ],
)
def test_status_summary_rejects_bad_arguments_by_name(kwargs, error, words):
    with pytest.raises(error, match=words):
        status_summary(SAMPLE, **kwargs)


def test_status_summary_rejects_a_non_frame():
    with pytest.raises(TypeError, match="DataFrame"):
        status_summary([{"status": "Linked"}])


def test_stale_finds_never_synced_and_old_rows_oldest_first():
    result = stale(SAMPLE, "30D", now=NOW)
    # c never synced; b, e older than 30 days; d is 30 days and 1 second old; a and f are recent.
    assert list(result["id"]) == ["c", "b", "e", "d"]
    assert pd.isna(result["last_sync_age"].iloc[0])
    assert result["last_sync_age"].iloc[3] == pd.Timedelta(days=30, seconds=1)
    assert list(result.columns) == [*SAMPLE.columns, "last_sync_age"]
    assert (result.dtypes.drop("last_sync_age") == SAMPLE.dtypes).all()


def test_stale_ages_are_to_the_second():
    """Codat sends 7-digit fractions; an age of 30 days, 0.9 s is shown as 30 days."""
    fractional = frame([("x", "Xero", "Accounting", "Linked", "2026-10-02T08:59:59.1234567Z")])
    age = stale(fractional, "30D", now=NOW)["last_sync_age"].iloc[0]
    assert age == pd.Timedelta(days=30, seconds=0) and age.microseconds == 0


def test_a_never_synced_connection_is_stale_only_once_it_is_older_than_the_window():
    now = datetime(2026, 11, 1, 9, 0, 0, tzinfo=timezone.utc)
    waiting = frame(
        [
            ("new", "Xero", "Accounting", "PendingAuth", None, "2026-10-31T09:00:00Z"),
            ("old", "Xero", "Accounting", "PendingAuth", None, "2026-09-01T00:00:00Z"),
            ("gone", "Xero", "Accounting", "Linked", "2026-09-02T00:00:00Z", CREATED),
        ]
    )
    # A connection created yesterday is waiting for its customer, not stale.
    assert list(stale(waiting, "30D", now=now)["id"]) == ["old", "gone"]


def test_stale_needs_a_created_column_for_never_synced_rows():
    with pytest.raises(ValueError, match="'created'"):
        stale(SAMPLE.drop(columns="created"), now=NOW)


def test_stale_boundary_is_exclusive_and_accepts_timedelta_and_datetime():
    now = datetime(2026, 11, 1, 9, 0, 0, tzinfo=timezone.utc)
    exactly = frame([("x", "Xero", "Accounting", "Linked", "2026-10-02T09:00:00Z")])
    assert stale(exactly, timedelta(days=30), now=now).empty
    assert list(stale(exactly, "29D23h", now=now)["id"]) == ["x"]


def test_stale_treats_a_naive_now_as_utc():
    assert list(stale(SAMPLE, "1D", now="2026-11-01 09:00:00")["id"]) == list(
        stale(SAMPLE, "1D", now=NOW)["id"]
    )


def test_stale_of_an_empty_frame_is_empty_with_the_same_columns():
    result = stale(SAMPLE.iloc[:0], now=NOW)
    assert result.empty
    assert list(result.columns) == [*SAMPLE.columns, "last_sync_age"]


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"older_than": "thirty days"}, ValueError, "older_than='thirty days' is not a duration"),
        ({"older_than": "-3D"}, ValueError, "positive"),
        ({"older_than": 30}, TypeError, "older_than must be a duration"),
        ({"now": "yesterday-ish"}, ValueError, "now='yesterday-ish'"),
        ({"now": 1700000000}, TypeError, "now must be"),
    ],
)
def test_stale_rejects_bad_arguments_by_name(kwargs, error, words):
    with pytest.raises(error, match=words):
        stale(SAMPLE, **{"now": NOW, **kwargs})


def test_stale_needs_a_last_sync_column():
    with pytest.raises(ValueError, match="no column 'last_sync'"):
        stale(SAMPLE.drop(columns="last_sync"), now=NOW)


def test_plot_status_draws_one_stacked_bar_per_group_in_status_colours():
    ax = plot_status(SAMPLE)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Other", "Expense", "Banking", "Accounting"]  # top to bottom = summary order
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [*CONNECTION_STATUSES, "Frozen"]
    linked = ax.containers[CONNECTION_STATUSES.index("Linked")]
    assert [bar.get_width() for bar in linked] == [0, 1, 0, 2]
    assert matplotlib.colors.to_hex(linked[0].get_facecolor()) == STATUS_COLOURS["Linked"]
    assert "(6)" in ax.get_title()


def test_plot_status_is_the_same_every_run_and_uses_a_given_axes():
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert plot_status(SAMPLE, by="platform_name", ax=ax) is ax
    again = plot_status(SAMPLE, by="platform_name")
    widths = [[b.get_width() for b in c] for c in ax.containers]
    assert widths == [[b.get_width() for b in c] for c in again.containers]


def test_plot_status_of_an_empty_frame_says_so():
    ax = plot_status(SAMPLE.iloc[:0])
    assert any(t.get_text() == "no connections" for t in ax.texts)


def test_plot_status_draws_into_a_subfigure_and_leaves_its_layout_alone():
    """A subfigure has no tight_layout of its own (it used to raise AttributeError)."""
    import matplotlib.pyplot as plt

    figure = plt.figure(layout="constrained")
    ax = figure.subfigures(1, 2)[1].subplots()
    assert plot_status(SAMPLE, ax=ax) is ax
    assert figure.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    assert len(ax.containers) == len(CONNECTION_STATUSES) + 1  # one per status, "Frozen" too


def sized(counts: dict[str, int], by: str = "platform_name") -> pd.DataFrame:
    """A frame with ``counts[group]`` connections per group, statuses in turn."""
    rows = []
    for group, n in counts.items():
        for i in range(n):
            status = CONNECTION_STATUSES[i % len(CONNECTION_STATUSES)]
            platform, source = (group, "Accounting") if by == "platform_name" else ("Xero", group)
            rows.append((f"{group}-{i}", platform, source, status, None))
    return frame(rows)


def test_plot_status_puts_the_largest_group_on_top():
    table = sized({"Banking": 3, "Accounting": 12, "Expense": 7, "Commerce": 12}, "source_type")

    ax = plot_status(table)

    labels = [t.get_text() for t in ax.get_yticklabels()][::-1]  # top to bottom
    assert labels == ["Accounting", "Commerce", "Expense", "Banking"]  # a tie keeps Codat's order
    totals = [sum(c[i].get_width() for c in ax.containers) for i in range(4)][::-1]
    assert totals == [12, 12, 7, 3]


def test_plot_status_leaves_every_label_and_bar_inside_the_figure():
    """The demo's platforms: long names, and one bar far longer than the rest."""
    names = {
        "Partner Expense": 237, "Xero": 115, "Dynamics 365 Business Central": 17,
        "QuickBooks Online Sandbox": 5, "Sandbox": 2, "MYOB Business": 4,
    }  # fmt: skip

    ax = plot_status(sized(names), by="platform_name")

    assert_chart_fits(ax)
    labels = [t.get_text() for t in ax.get_yticklabels()][::-1]
    assert labels == sorted(names, key=lambda name: -names[name])
    small = plot_status(sized({"Xero": 1}), by="platform_name")
    assert_chart_fits(small)
