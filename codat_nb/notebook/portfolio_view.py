"""PortfolioView: every connection of every company in one filterable table, for support.

Support asks across customers ("who lost access? who never finished linking? whose books went
quiet?"), so this view lists the companies with their connections once (one request per 5,000
companies) and filters in memory: by status, source type, platform, staleness and company, with
presets for the usual questions. A banner says where the rows come from and when they were
listed. Clicking a row opens that company in a ``ConnectionManager`` below (made then, and
scrolled into view), where its connections can be unlinked, re-linked or exported; what the
manager changes flows back into this table without another portfolio listing. Companies with no
connections have no row: **Open a company** shows the manager with its company picker.

With a status history (anything with ``changes(since)`` returning rows with a
``connection_id``, such as ``codat_nb.history.History``) a "Changed" filter keeps the
connections that changed in the chosen window; when the history also has ``snapshots()`` (with
``taken_at``), "In the latest snapshot" keeps those the latest snapshot found changed since the
one before it. With webhook events in the history, "Event in" keeps the connections with an
event in the last hour or day, and a line says when the last one arrived (``live_events``).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

import ipywidgets as widgets
import pandas as pd

from codat_nb.analysis import stale
from codat_nb.exceptions import CodatError
from codat_nb.frames import portfolio_frame
from codat_nb.notebook.anchor import ScrollAnchor
from codat_nb.notebook.banner import banner_html, describe_source
from codat_nb.notebook.connection_table import ConnectionTable
from codat_nb.notebook.controls import (
    ALL,
    OwnChanges,
    companies_text,
    describe_error,
    make_button,
    matching_companies,
    replace_options,
    status_html,
    with_class,
)
from codat_nb.notebook.display import PORTFOLIO_COLUMNS
from codat_nb.notebook.links import download_html, links_csv
from codat_nb.notebook.live_events import EventFilter
from codat_nb.notebook.widgets import ConnectionManager
from codat_nb.wire.schema import CONNECTION_STATUSES, SOURCE_TYPES

if TYPE_CHECKING:
    from codat_nb.client import CodatClient

#: Staleness choices: label -> window (no sync, or no news since creation, for that long).
STALENESS = {"Any": None, "7 days": "7D", "30 days": "30D", "90 days": "90D"}
#: History windows: label -> how far back ``changes(since=...)`` looks (LATEST: since the
#: snapshot before the latest one).
LATEST = "latest"
CHANGED = {
    "Any time": None,
    "In the latest snapshot": LATEST,
    "Last 24 hours": "1D",
    "Last 7 days": "7D",
    "Last 30 days": "30D",
}
#: The usual questions: label -> filter values (status, staleness).
PRESETS = {
    "Lost access": ("Deauthorized", "Any"),
    "Pending over 7 days": ("PendingAuth", "7 days"),
    "No sync in 30 days": ("Linked", "30 days"),
}


class ChangeHistory(Protocol):
    """What the "Changed" filter asks of a history (``codat_nb.history.History`` has it):
    rows with a ``connection_id`` (and a ``change``, if any) for what changed ``since``. A
    ``snapshots()`` method returning rows with ``taken_at`` is used when present."""

    def changes(self, since: pd.Timestamp) -> pd.DataFrame: ...


class SnapshotHistory(ChangeHistory, Protocol):
    def snapshots(self) -> pd.DataFrame: ...


def keeps_snapshots(history: ChangeHistory | None) -> TypeGuard[SnapshotHistory]:
    """Whether ``history`` can say when its snapshots were taken."""
    return callable(getattr(history, "snapshots", None))


class PortfolioView(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no types
    """The portfolio of ``client`` as a table with filters and presets; a click on a row opens
    its company in ``self.manager``.

    ``history`` (optional) enables the "Changed" filter; ``page_size`` rows show at a time;
    ``source`` names where the data comes from in the banner (default: the demo sandbox, or
    the client's base URL); ``load=False`` builds the view without listing (``reload()``
    lists).
    """

    def __init__(
        self,
        client: CodatClient,
        *,
        history: ChangeHistory | None = None,
        page_size: int = 25,
        source: str | None = None,
        load: bool = True,
    ) -> None:
        if history is not None and not callable(getattr(history, "changes", None)):
            raise TypeError(
                f"history must have a changes(since) method, not {type(history).__name__}"
            )
        if source is not None and not isinstance(source, str):
            raise TypeError(f"source must be a str or None, not {type(source).__name__}")
        self.client = client
        self.history = history
        self.source = source if source is not None else describe_source(client)
        self.portfolio = portfolio_frame([])
        self.companies: pd.DataFrame | None = None  # None: not listed (yet)
        self.server_time: pd.Timestamp | None = None
        self._changed: dict[str, set[str]] = {}  # Changed choice -> connection ids (per load)
        self._history_problem = ""  # why the Changed filter shows nothing, at the last redraw
        self.events_filter = EventFilter(history)  # "Event in" last hour/day, the last event
        self._manager: ConnectionManager | None = None
        self._page_size = page_size
        super().__init__()
        self._own_changes = OwnChanges()  # held while the view sets its own filters
        self._build(page_size)
        if load:
            self.reload()

    @property
    def manager(self) -> ConnectionManager:
        """The company panel under the table, made when first needed (a row click, **Open a
        company**): until then nothing waits there empty."""
        if self._manager is None:
            self._manager = ConnectionManager(
                self.client, page_size=self._page_size, companies=self.companies
            )
            self._manager.on_connections_changed(self._company_changed)
            self.manager_box.children = [self.manager_anchor, self._manager]
            self.manager_box.layout.display = "flex"
            self.open_hint.layout.display = "none"
        return self._manager

    # ----------------------------------------------------------------------------- layout
    def _build(self, page_size: int) -> None:
        self._build_filters()
        self.preset_buttons = [
            make_button(label, "preset", tooltip=f"Filter: {label.lower()}") for label in PRESETS
        ]
        self.clear_filters_button = make_button("All connections", "preset-clear")
        self.reload_button = make_button("Reload portfolio", "reload", icon="refresh")
        self.export_button = make_button(
            "Export link URLs (CSV)", "portfolio-export", icon="download"
        )
        self.banner = with_class(widgets.HTML(banner_html(self.source, None, None, None)), "banner")
        self.summary = with_class(widgets.HTML(), "portfolio-summary")
        self.download = with_class(widgets.HTML(), "portfolio-download")
        self.open_company_button = make_button(
            "Open a company",
            "open-company",
            icon="folder-open",
            tooltip="Pick any company, those with no connections too",
        )
        self.open_hint = widgets.HBox(
            [
                widgets.HTML(
                    '<span style="font-size:13px;color:#555">Click a row to open its company '
                    "here, or:</span>"
                ),
                self.open_company_button,
            ]
        )
        self.manager_box = with_class(widgets.VBox(layout={"display": "none"}), "manager-box")
        self.manager_anchor = ScrollAnchor()  # the manager's top: a row click scrolls to it
        self.table = ConnectionTable(
            PORTFOLIO_COLUMNS,
            "portfolio-table",
            page_size=page_size,
            multiple=False,
            empty_text="no connections match",
        )
        self.children = [
            self.banner,
            widgets.HBox([*self.preset_buttons, self.clear_filters_button, self.reload_button]),
            widgets.HBox([self.search, self.status_filter, self.source_filter]),
            widgets.HBox([self.platform_filter, self.staleness_filter, self.changed_filter]),
            self.events_filter.dropdown,
            self.summary,
            self.events_filter.line,
            self.table,
            widgets.HBox([self.export_button, self.download]),
            widgets.HTML("<hr style='margin:8px 0'>"),
            self.open_hint,
            self.manager_box,
        ]
        self.add_class("codat-nb-portfolio")
        self._wire()

    def _build_filters(self) -> None:
        self.search = with_class(
            widgets.Text(placeholder="Company name or id", description="Company"), "search"
        )
        self.status_filter = with_class(
            widgets.Dropdown(options=[ALL, *CONNECTION_STATUSES], description="Status"),
            "portfolio-status",
        )
        self.source_filter = with_class(
            widgets.Dropdown(options=[ALL, *SOURCE_TYPES], description="Source type"),
            "portfolio-source",
        )
        self.platform_filter = with_class(
            widgets.Dropdown(options=[ALL], description="Platform"), "portfolio-platform"
        )
        self.staleness_filter = with_class(
            widgets.Dropdown(options=list(STALENESS), description="No sync in"),
            "portfolio-staleness",
        )
        self.changed_filter = with_class(
            widgets.Dropdown(
                options=[
                    label
                    for label, since in CHANGED.items()
                    if since != LATEST or keeps_snapshots(self.history)
                ],
                description="Changed",
                layout={"display": "flex" if self.history is not None else "none"},
            ),
            "portfolio-changed",
        )

    def _wire(self) -> None:
        for control in (
            self.search,
            self.status_filter,
            self.source_filter,
            self.platform_filter,
            self.staleness_filter,
            self.changed_filter,
        ):
            control.observe(self._on_filter, names="value")
        self.events_filter.observe(self._on_filter)
        for button, preset in zip(self.preset_buttons, PRESETS.values(), strict=True):
            button.on_click(lambda _b, preset=preset: self._apply(*preset))
        self.clear_filters_button.on_click(lambda _b: self._apply(ALL, "Any"))
        self.reload_button.on_click(self._on_reload)
        self.export_button.on_click(self._on_export)
        self.open_company_button.on_click(self._on_open_company)
        self.table.observe(self._on_row, names="selected")

    def __repr__(self) -> str:
        """Deterministic text (no model ids, no wall clock) so nbval can compare it."""
        return (
            f"PortfolioView(connections={len(self.visible_connections())} shown of "
            f"{len(self.portfolio)}, companies={self.portfolio['company_id'].nunique()})"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    # -------------------------------------------------------------------------- loading
    def reload(self) -> None:
        """List the whole portfolio again (what **Reload portfolio** does); an error shows in
        the summary line and keeps the rows."""
        try:
            companies, frame = self._list()
        except (CodatError, ValueError, TypeError) as err:
            self.summary.value = status_html(
                f"Could not list the portfolio: {describe_error(err)}", "error"
            )
            return
        self.portfolio, self.companies = frame, companies
        self.server_time = frame.attrs.get("server_time")
        self._changed.clear()
        self.events_filter.reload(self._now())
        self._platform_options()
        self._redraw()
        if self._manager is not None:  # the picker offers what the banner counts
            self._manager.use_companies(companies)

    def _list(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The companies and their connections, from the same requests. A server whose
        companies carry no connections gets ``list_all()``, which walks each company."""
        listed = self.client.companies.list(with_connections=True)
        assert isinstance(listed, tuple)  # with_connections=True: (companies, connections)
        companies, frame = listed
        if frame.empty and not companies.empty:
            frame = self.client.connections.list_all()
        return companies, frame

    def _on_reload(self, _button: widgets.Button) -> None:
        self.reload()

    def _platform_options(self) -> None:
        platforms = sorted(set(self.portfolio["platform_name"].dropna().astype(str)))
        with self._own_changes.hold():
            replace_options(self.platform_filter, [ALL, *platforms])

    def _company_changed(self, company_id: str, connections: pd.DataFrame) -> None:
        """The manager reloaded a company: put its rows in place of the ones listed before."""
        if not len(self.portfolio):
            return
        names = self.portfolio.loc[self.portfolio["company_id"] == company_id, "company_name"]
        name = names.iloc[0] if len(names) else self.manager.company_name()
        fresh = connections.assign(company_id=company_id, company_name=name)[
            list(self.portfolio.columns)
        ]
        others = self.portfolio[self.portfolio["company_id"] != company_id]
        position = self.portfolio.index[self.portfolio["company_id"] == company_id]
        at = int(position[0]) if len(position) else len(others)
        attrs = self.portfolio.attrs
        self.portfolio = _concat([others.iloc[:at], fresh, others.iloc[at:]])
        self.portfolio.attrs.update(attrs)
        self._platform_options()
        self._redraw()

    # -------------------------------------------------------------------------- filters
    def visible_connections(self) -> pd.DataFrame:
        """The portfolio's connections that pass every filter, in listing order."""
        frame = self.portfolio
        for dropdown, column in (
            (self.status_filter, "status"),
            (self.source_filter, "source_type"),
            (self.platform_filter, "platform_name"),
        ):
            if dropdown.value != ALL:
                frame = frame[(frame[column].astype("string") == dropdown.value).fillna(False)]
        frame = matching_companies(frame, self.search.value)
        window = STALENESS[self.staleness_filter.value]
        if window is not None and len(frame):
            frame = frame.loc[sorted(stale(frame, window, now=self._now()).index)]
        changed = CHANGED[self.changed_filter.value]
        if changed is not None and self.history is not None:
            ids = self._changed_ids(self.history, self.changed_filter.value, changed)
            frame = frame[frame["id"].isin(ids)]
        return self.events_filter.keep(frame, self._now())

    def _changed_ids(self, history: ChangeHistory, choice: str, window: str) -> set[str]:
        """Ids of the connections the history says changed in ``window`` (asked once per
        choice and load); none while the history cannot be read (the summary says why, and it
        is asked again at the next redraw)."""
        if choice not in self._changed:
            try:
                changes = history.changes(since=self._changed_since(history, window))
            except Exception as error:  # any history's failure: said, never a broken redraw
                self._history_problem = f"Cannot read the history: {type(error).__name__}: {error}"
                return set()
            if "change" in changes:  # a stalled sync is not a change of the connection
                changes = changes[changes["change"].astype(str) != "stalled"]
            self._changed[choice] = set(changes["connection_id"].astype(str))
        return self._changed[choice]

    def _changed_since(self, history: ChangeHistory, window: str) -> pd.Timestamp:
        """Where ``window`` starts: a duration back from now, or (LATEST) the snapshot before
        the latest one."""
        if window != LATEST:
            start: pd.Timestamp = self._now() - pd.Timedelta(window)
            return start
        taken = list(history.snapshots()["taken_at"]) if keeps_snapshots(history) else []
        return taken[-2] if len(taken) > 1 else (taken[-1] if taken else self._now())

    def _now(self) -> pd.Timestamp:
        return self.server_time if self.server_time is not None else pd.Timestamp.now(tz="UTC")

    def _apply(self, status: str, staleness: str) -> None:
        """A preset: set the filters it names, clear the others, redraw once."""
        with self._own_changes.hold():
            self.search.value = ""
            self.source_filter.value = ALL
            self.platform_filter.value = ALL
            self.changed_filter.value = "Any time"
            self.events_filter.dropdown.value = "Any time"
            self.status_filter.value = status
            self.staleness_filter.value = staleness
        self._redraw()

    def _on_filter(self, _change: Mapping[str, Any]) -> None:
        if not self._own_changes.active:
            self._redraw()

    def _redraw(self) -> None:
        self._history_problem = ""
        visible = self.visible_connections()
        self.table.show(visible, self.server_time)
        companies = visible["company_id"].nunique()
        self.summary.value = (
            f'<div style="font-size:13px;font-weight:600">{len(visible):,} of '
            f"{len(self.portfolio):,} connections match ({companies_text(companies)})</div>"
        ) + (status_html(escape(self._history_problem), "error") if self._history_problem else "")
        self.banner.value = banner_html(
            self.source, self.server_time, self.portfolio, self.companies
        )
        self.download.value = ""

    # --------------------------------------------------------------------------- actions
    def _on_row(self, change: Mapping[str, Any]) -> None:
        """A click on a row: open its company in the manager, that connection selected, and
        bring the manager into view (it sits below the fold of a laptop screen)."""
        if not change["new"]:
            return
        connection_id = change["new"][0]
        rows = self.portfolio.loc[self.portfolio["id"] == connection_id, "company_id"]
        if len(rows):
            self.manager.show_company(str(rows.iloc[0]), select=[connection_id])
            self.manager_anchor.reveal()
        self.table.selected = []  # so clicking the same row again opens it again

    def _on_open_company(self, _button: widgets.Button) -> None:
        """Show the manager with its company picker, in view (companies with no connections
        have no row to click)."""
        self.manager.company_search.focus()
        self.manager_anchor.reveal()

    def _on_export(self, _button: widgets.Button) -> None:
        visible = self.visible_connections()
        self.download.value = download_html(links_csv(visible), "link_urls.csv") + escape(
            f" ({len(visible):,} connections)"
        )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames one after another, category columns keeping every frame's categories (pandas
    would turn categories that differ into plain objects)."""
    first = frames[0]
    for column in first.columns[first.dtypes.apply(lambda d: isinstance(d, pd.CategoricalDtype))]:
        categories = list(dict.fromkeys(c for f in frames for c in f[column].cat.categories))
        dtype = pd.CategoricalDtype(categories)
        frames = [f.assign(**{column: f[column].astype(dtype)}) for f in frames]
    return pd.concat(frames, ignore_index=True)
