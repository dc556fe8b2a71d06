"""One-line answers to the questions support asks of a connections DataFrame.

Work on frames from ``client.connections.list``/``list_all`` (``codat_nb.frames`` schema): which
statuses per source type or platform, which connections have gone quiet, and a chart of both.
Pure functions: nothing here talks to the network, so results depend only on the frame and
``now`` (pass ``client.server_time()`` for output that reproduces on the sandbox).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.ticker import MaxNLocator

from codat_nb.colours import status_colour
from codat_nb.wire.dates import utc_moment
from codat_nb.wire.schema import CONNECTION_STATUSES, SOURCE_TYPES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

TOTAL = "Total"


def _require_columns(df: object, *columns: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame of connections, not {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"df has no column {', '.join(map(repr, missing))}; got {list(df.columns)}"
        )


def _known_first(values: pd.Series[str], known: tuple[str, ...]) -> list[str]:
    """Known values in their documented order, then anything new Codat sent, alphabetically."""
    present = set(values)
    return [v for v in known if v in present] + sorted(present - set(known))


def status_summary(
    df: pd.DataFrame, by: str = "source_type", *, totals: bool = True
) -> pd.DataFrame:
    """Count connections per ``by`` value (rows) and status (columns).

    Every documented status is a column even at zero, so the shape does not depend on the data;
    ``totals`` adds a ``Total`` row and column.
    """
    if not isinstance(by, str):
        raise TypeError(f"by must be a column name (str), not {type(by).__name__}")
    _require_columns(df, "status", by)
    if by == "status":
        raise ValueError("by must be a column other than 'status' (status is already the columns)")
    status = df["status"].astype("string").fillna("<missing>")
    groups = df[by].astype("string").fillna("<missing>")
    counts = pd.crosstab(groups.to_numpy(), status.to_numpy())
    columns = list(CONNECTION_STATUSES) + sorted(set(status) - set(CONNECTION_STATUSES))
    rows = _known_first(groups, SOURCE_TYPES if by == "source_type" else ())
    table: pd.DataFrame = counts.reindex(index=rows, columns=columns, fill_value=0).astype("int64")
    table.index.name, table.columns.name = by, "status"
    if totals:
        table[TOTAL] = table.sum(axis=1)
        table.loc[TOTAL] = table.sum(axis=0)
    return table


def _as_timedelta(older_than: object) -> pd.Timedelta:
    if not isinstance(older_than, (str, timedelta, pd.Timedelta)):
        raise TypeError(
            "older_than must be a duration such as '30D', '12h' or a timedelta, "
            f"not {type(older_than).__name__}"
        )
    try:
        delta: pd.Timedelta = pd.Timedelta(older_than)
    except ValueError:
        raise ValueError(
            f"older_than={older_than!r} is not a duration; use e.g. '30D', '12h', '90min'"
        ) from None
    if pd.isna(delta) or delta < pd.Timedelta(0):
        raise ValueError(f"older_than={older_than!r} must be a positive duration")
    return delta


def _as_utc_timestamp(now: object) -> pd.Timestamp:
    if now is None:
        wall_clock: pd.Timestamp = pd.Timestamp.now(tz="UTC")
        return wall_clock
    return utc_moment(now, "now", naive_is_utc=True)


def stale(
    df: pd.DataFrame,
    older_than: str | timedelta | pd.Timedelta = "30D",
    now: datetime | pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Connections that brought no data within ``older_than`` of ``now``.

    That is a last sync older than the window, or no sync at all from a connection created
    before the window opened: one created yesterday is waiting for its customer, not stale.
    Returns the matching rows (same columns and dtypes) with a ``last_sync_age`` Timedelta
    column to the second (NaT for never synced), never-synced first, then oldest first.
    ``now`` defaults to the wall clock; pass ``client.server_time()`` to reproduce results
    against the sandbox.
    """
    _require_columns(df, "last_sync", "created")
    delta = _as_timedelta(older_than)
    reference = _as_utc_timestamp(now)
    last_sync = pd.to_datetime(df["last_sync"], utc=True)
    age = reference - last_sync
    since = last_sync.fillna(pd.to_datetime(df["created"], utc=True))  # the last news
    mask = (reference - since) > delta
    result = df.loc[mask].copy()
    result["last_sync_age"] = age[mask].dt.floor("s")  # Codat's 7-digit fractions are noise
    ordered: pd.DataFrame = (
        result.assign(_order=last_sync[mask])
        .sort_values("_order", na_position="first", kind="stable")
        .drop(columns="_order")
    )
    return ordered


def _by_size(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a count table (groups x statuses), largest total first; equal totals keep
    their order (the summary's: documented values first, then alphabetical)."""
    totals = table.sum(axis=1)
    order = sorted(range(len(table)), key=lambda i: -int(totals.iloc[i]))
    ordered: pd.DataFrame = table.iloc[order]
    return ordered


def plot_status(df: pd.DataFrame, by: str = "source_type", ax: Axes | None = None) -> Axes:
    """A horizontal stacked bar chart of ``status_summary(df, by)``, the largest group on top;
    returns the matplotlib Axes.

    Colours are fixed per status (the same as the widgets' badges) and ties keep the summary's
    order, so the chart is the same every run. The axis runs a little past the longest bar,
    so no bar ends on the frame.
    """
    table = _by_size(status_summary(df, by=by, totals=False))
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 0.45 * max(len(table), 2) + 1.2))
    plot_table = table.iloc[::-1] if len(table) else table.reindex([""], fill_value=0)
    plot_table.plot.barh(
        stacked=True, ax=ax, color=[status_colour(s) for s in table.columns], width=0.7
    )
    ax.set_xlabel("connections")
    ax.set_ylabel(by.replace("_", " "))
    ax.set_title(f"Connections by status and {by.replace('_', ' ')} ({int(table.values.sum())})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    longest = int(table.sum(axis=1).max()) if len(table) else 0
    ax.set_xlim(0, max(1.0, longest * 1.06))
    if not len(table):
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no connections", transform=ax.transAxes, ha="center", va="center")
    ax.legend(title="status", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    _fit_layout(ax)
    return ax


def plot_status_over_time(
    counts: pd.DataFrame, ax: Axes | None = None, *, status: str | None = None
) -> Axes:
    """Lines across snapshots, from ``History.status_over_time()``; returns the Axes.

    A table of statuses per snapshot gets a line per status (colours fixed per status, as in
    ``plot_status`` and the widgets); ``status=`` keeps one. A breakdown
    (``status_over_time(by="source_type")``, a row per snapshot and group) gets a line per
    group: its connections, or only those with ``status``. Lines rather than stacked areas,
    so each one's own trend shows; the legend lists them largest first (as they stand at the
    latest snapshot), below the chart when there are many. Up to 8 snapshots get a tick each.
    """
    lines, title = _lines_over_time(counts, status)
    if len(lines):  # largest first, as they stand at the latest snapshot; ties keep their order
        latest = lines.iloc[-1]
        lines = lines.iloc[:, sorted(range(len(latest)), key=lambda i: -float(latest.iloc[i]))]
    below = len(lines.columns) > _LEGEND_AT_THE_SIDE
    if ax is None:
        import matplotlib.pyplot as plt

        legend_rows = -(-len(lines.columns) // _LEGEND_COLUMNS) if below else 0
        _, ax = plt.subplots(figsize=(8, 3.6 + (0.26 * legend_rows + 0.5 if below else 0)))
    statuses = not isinstance(counts.index, pd.MultiIndex)
    for number, name in enumerate(lines.columns):
        colour, style = (status_colour(str(name)), "-") if statuses else _group_style(number)
        # clip_on=False: a marker at zero sits on the frame and would lose its lower half.
        ax.plot(
            lines.index,
            lines[name],
            marker="o",
            color=colour,
            linestyle=style,
            label=name,
            clip_on=False,
        )
    ax.set_title(f"{title} over time ({len(lines)} snapshots)")
    ax.set_ylabel("connections")
    ax.set_xlabel("snapshot (UTC)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    if len(lines):
        _date_ticks(ax, lines.index)
        legend_title = "status" if statuses else str(counts.index.names[1]).replace("_", " ")
        where: dict[str, Any] = (
            {"loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "ncols": _LEGEND_COLUMNS}
            if below
            else {"loc": "upper left", "bbox_to_anchor": (1.01, 1)}
        )
        ax.legend(title=legend_title, frameon=False, **where)
    else:
        ax.set_xticks([])
        ax.text(0.5, 0.5, "no snapshots", transform=ax.transAxes, ha="center", va="center")
    _fit_layout(ax)
    return ax


def _lines_over_time(counts: object, status: str | None) -> tuple[pd.DataFrame, str]:
    """What ``plot_status_over_time`` draws: a column per line, a row per snapshot; and the
    title's subject."""
    if not isinstance(counts, pd.DataFrame):
        raise TypeError(
            f"counts must be the DataFrame History.status_over_time() returns, "
            f"not {type(counts).__name__}"
        )
    if status is not None and status not in counts.columns:
        raise ValueError(
            f"status={status!r} is not a column of counts; it has {list(map(str, counts.columns))}"
        )
    if isinstance(counts.index, pd.MultiIndex):
        if counts.index.nlevels != 2:
            raise ValueError(
                "counts must have a row per snapshot, or per snapshot and group "
                "(status_over_time(by=...))"
            )
        group = str(counts.index.names[1]).replace("_", " ")
        per_group = counts[status] if status is not None else counts.sum(axis=1)
        lines = per_group.unstack(level=1)
        subject = f"{status} connections" if status is not None else "Connections"
        title = f"{subject} by {group}"
    else:
        lines = counts[[status]] if status is not None else counts
        title = f"{status} connections" if status is not None else "Connections by status"
    if len(lines) and not isinstance(lines.index, pd.DatetimeIndex):
        raise ValueError("counts must have the snapshot times as its index (taken_at)")
    return lines, title


#: Up to this many lines the legend stands beside the chart; more go below it, in columns.
_LEGEND_AT_THE_SIDE = 8
_LEGEND_COLUMNS = 3
#: Line styles for a breakdown's groups after the colours run out (20 of them).
_GROUP_STYLES = ("-", "--", ":", "-.")


def _group_style(number: int) -> tuple[Any, str]:
    """The colour and line style of a breakdown's ``number``-th group: tab20's colours
    (tab10's first ten, then their light shades), each set of 20 in its own line style."""
    from matplotlib import colormaps

    palette = colormaps["tab20"]
    slot = number % 20
    colour = palette((slot % 10) * 2 + slot // 10)
    return colour, _GROUP_STYLES[(number // 20) % len(_GROUP_STYLES)]


def _date_ticks(ax: Axes, times: pd.Index) -> None:
    """A tick per snapshot up to 8 of them (``01 Nov 2026``), else automatic concise dates."""
    import matplotlib.dates as mdates

    if len(times) <= 8:
        ax.set_xticks(times)
        # matplotlib.dates ships no annotations for these constructors.
        formatter = mdates.DateFormatter("%d %b %Y", tz="UTC")  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
    else:
        locator = mdates.AutoDateLocator(tz="UTC")  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        concise = mdates.ConciseDateFormatter(locator, tz="UTC")  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(concise)


def _fit_layout(ax: Axes) -> None:
    """Make room for the labels and the legend, unless ``ax`` lives in a subfigure: a subfigure
    has no layout of its own, and its figure's layout is the caller's to choose."""
    from matplotlib.figure import Figure

    if isinstance(ax.figure, Figure):
        ax.figure.tight_layout()
