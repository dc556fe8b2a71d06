"""One-line answers to the questions support asks of a connections DataFrame.

Work on frames from ``client.connections.list``/``list_all`` (``codat_nb.frames`` schema): which
statuses per source type or platform, which connections have gone quiet, and a chart of both.
Pure functions: nothing here talks to the network, so results depend only on the frame and
``now`` (pass ``client.server_time()`` for output that reproduces on the sandbox).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

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
    column (NaT for never synced), never-synced first, then oldest first. ``now`` defaults to
    the wall clock; pass ``client.server_time()`` to reproduce results against the sandbox.
    """
    _require_columns(df, "last_sync", "created")
    delta = _as_timedelta(older_than)
    reference = _as_utc_timestamp(now)
    last_sync = pd.to_datetime(df["last_sync"], utc=True)
    age = reference - last_sync
    since = last_sync.fillna(pd.to_datetime(df["created"], utc=True))  # the last news
    mask = (reference - since) > delta
    result = df.loc[mask].copy()
    result["last_sync_age"] = age[mask]
    ordered: pd.DataFrame = (
        result.assign(_order=last_sync[mask])
        .sort_values("_order", na_position="first", kind="stable")
        .drop(columns="_order")
    )
    return ordered


def plot_status(df: pd.DataFrame, by: str = "source_type", ax: Axes | None = None) -> Axes:
    """A horizontal stacked bar chart of ``status_summary(df, by)``; returns the matplotlib Axes.

    Colours are fixed per status (the same as the widgets' badges) and the order follows the
    summary, so the chart is the same every run.
    """
    table = status_summary(df, by=by, totals=False)
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
    ax.set_xlim(left=0)
    if not len(table):
        ax.set_yticks([])
        ax.set_xlim(0, 1)
        ax.text(0.5, 0.5, "no connections", transform=ax.transAxes, ha="center", va="center")
    ax.legend(title="status", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    _fit_layout(ax)
    return ax


def plot_status_over_time(counts: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """A line per status across snapshots, from ``History.status_over_time()``; returns the Axes.

    Lines rather than stacked areas, so each status's own trend shows (a stacked band moves with
    the ones below it); pass a subset of the columns (``counts[["Deauthorized"]]``) to see a
    small status on its own scale. Colours are fixed per status, as in ``plot_status`` and the
    widgets; up to 8 snapshots get a tick each.
    """
    if not isinstance(counts, pd.DataFrame):
        raise TypeError(
            f"counts must be the DataFrame History.status_over_time() returns, "
            f"not {type(counts).__name__}"
        )
    if isinstance(counts.index, pd.MultiIndex):
        raise ValueError(
            "counts has a row per snapshot and group (status_over_time(by=...)); plot one "
            "group with counts.xs(value, level=1), or use status_over_time() without by"
        )
    if len(counts) and not isinstance(counts.index, pd.DatetimeIndex):
        raise ValueError("counts must have the snapshot times as its index (taken_at)")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 3.6))
    import matplotlib.dates as mdates

    for status in counts.columns:
        colour = status_colour(status)
        ax.plot(counts.index, counts[status], marker="o", color=colour, label=status)
    ax.set_title(f"Connections by status over time ({len(counts)} snapshots)")
    ax.set_ylabel("connections")
    ax.set_xlabel("snapshot (UTC)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    if len(counts):
        if len(counts) <= 8:
            ax.set_xticks(counts.index)
            # matplotlib.dates ships no annotations for these constructors.
            formatter = mdates.DateFormatter("%d %b %Y", tz="UTC")  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_formatter(formatter)
        else:
            locator = mdates.AutoDateLocator(tz="UTC")  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_locator(locator)
            concise = mdates.ConciseDateFormatter(locator, tz="UTC")  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_formatter(concise)
        ax.legend(title="status", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    else:
        ax.set_xticks([])
        ax.text(0.5, 0.5, "no snapshots", transform=ax.transAxes, ha="center", va="center")
    _fit_layout(ax)
    return ax


def _fit_layout(ax: Axes) -> None:
    """Make room for the labels and the legend, unless ``ax`` lives in a subfigure: a subfigure
    has no layout of its own, and its figure's layout is the caller's to choose."""
    from matplotlib.figure import Figure

    if isinstance(ax.figure, Figure):
        ax.figure.tight_layout()
