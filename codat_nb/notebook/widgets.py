"""ConnectionManager: see, create, unlink, delete and re-link a company's connections in a notebook.

A thin ipywidgets layer over the client. The connections are one table whose rows you click (or
pick with the arrow keys and Space) to select, several at once; the actions work on the
selection: unlink or delete them (after one confirmation that lists them), re-link the
Deauthorized or Unlinked ones (their link URLs), export their link URLs as CSV or text.

A button's handler runs with the buttons disabled once, from its first request to its last
redraw: a button that flickered enabled between two calls of one handler would take a click
the browser then drops. A click on a row only reads a card and disables nothing. API and
argument errors land in the status line with Codat's correlationId, never as a traceback, and
the widget stays usable. Child widgets have stable attribute names and CSS classes
(``codat-nb-...``) so tests and browsers can drive it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html import escape
from typing import Any

import ipywidgets as widgets
import pandas as pd

from codat_nb.exceptions import CodatError
from codat_nb.frames import companies_frame, connections_frame
from codat_nb.notebook.controls import make_button, with_class
from codat_nb.notebook.display import TABLE_COLUMNS, connection_html, table_cells
from codat_nb.notebook.links import (
    RELINKABLE,
    download_html,
    links_csv,
    links_text,
    relink_html,
)
from codat_nb.notebook.table import DataTable
from codat_nb.platforms import PARTNER_EXPENSE_KEY, PLATFORMS
from codat_nb.wire.schema import CONNECTION_STATUSES, SOURCE_TYPES

ALL = "All"
_FAILED = object()  # what _call returns when the call raised (a call may legitimately return None)
#: A click on a create button this many seconds or less after that button created a connection
#: is the second half of a double click, and is ignored. Disabling the buttons cannot stop it:
#: the browser sends both clicks before the disabled state reaches it, and the kernel runs the
#: queued second click after the first has finished and enabled the buttons again.
DOUBLE_CLICK_S = 0.5
#: What the manager tells its listeners after each (re)load: company id and its connections.
Listener = Callable[[str, pd.DataFrame], None]


def handler(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run a UI handler with the action buttons disabled from its start to its end."""

    @functools.wraps(method)
    def run(self: ConnectionManager, *args: Any, **kwargs: Any) -> Any:
        with self._buttons_disabled():
            return method(self, *args, **kwargs)

    return run


class ConnectionManager(widgets.VBox):
    """Pick a company, select its connections in a table, and act on the selection.

    ``client`` is a ``codat_nb.CodatClient``; ``company_id`` preselects a company. Shown by
    ``display(mgr)`` or as the last expression of a cell. ``page_size`` rows show at a time
    (the table pages through the rest); ``last_error`` holds the latest API error for a closer
    look (``display(mgr.last_error)``).
    """

    def __init__(self, client: Any, company_id: str | None = None, *, page_size: int = 25) -> None:
        if not hasattr(client, "connections") or not hasattr(client, "companies"):
            raise TypeError(f"client must be a codat_nb.CodatClient, not {type(client).__name__}")
        if company_id is not None and not isinstance(company_id, str):
            raise TypeError(f"company_id must be a str or None, not {type(company_id).__name__}")
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, got {page_size!r}")
        super().__init__()
        self.client = client
        self.company_id: str | None = None
        self.companies = companies_frame([])
        self.connections = connections_frame([])
        self.server_time: pd.Timestamp | None = None
        self.last_error: Exception | None = None
        self._pending: tuple[str, str, tuple[str, ...]] | None = None  # (action, company, ids)
        self._syncing = False  # True while options are rewritten: observers ignore the echoes
        self._busy = 0  # how deep in handlers we are: buttons come back only at 0
        self._last_create: tuple[widgets.Button, float] | None = None  # (button, when it ended)
        self._listeners: list[Listener] = []
        self._details_for: str | None = ""  # the connection the card shows ("": none yet)
        self._build(page_size)
        self._start(company_id)

    @handler
    def _start(self, company_id: str | None) -> None:
        self._refresh_companies(preselect=company_id)
        self._show_details()

    # ----------------------------------------------------------------------------- layout
    def _build(self, page_size: int) -> None:
        self.company_search = with_class(
            widgets.Text(placeholder="Search companies by name or id", description="Company"),
            "company-search",
        )
        self.company_select = with_class(
            widgets.Select(
                options=[], value=None, rows=6, description="Matches", layout={"width": "640px"}
            ),
            "company-select",
        )
        self.refresh_button = make_button(
            "Refresh", "refresh", icon="refresh", tooltip="Reload companies and connections"
        )
        self.status_filter = with_class(
            widgets.Dropdown(options=[ALL, *CONNECTION_STATUSES], value=ALL, description="Status"),
            "status-filter",
        )
        self.source_filter = with_class(
            widgets.Dropdown(options=[ALL, *SOURCE_TYPES], value=ALL, description="Source type"),
            "source-filter",
        )
        self.table = with_class(
            DataTable(
                [label for _, label in TABLE_COLUMNS],
                page_size=page_size,
                multiple=True,
                empty_text="no connections",
            ),
            "table",
        )
        self.selection_info = with_class(widgets.HTML(), "selection-info")
        self.relink_button = make_button(
            "Re-link", "relink", icon="link", tooltip="Show the link URLs of the selection"
        )
        self.unlink_button = make_button(
            "Unlink",
            "unlink",
            icon="unlink",
            button_style="warning",
            tooltip="Unlink the selection",
        )
        self.delete_button = make_button(
            "Delete", "delete", icon="trash", button_style="danger", tooltip="Delete the selection"
        )
        self.export_csv_button = make_button("Export CSV", "export-csv", icon="download")
        self.export_text_button = make_button("Copy as text", "export-text", icon="copy")
        self.clear_button = make_button("Clear selection", "clear-selection")
        self.platform_picker = with_class(
            widgets.Dropdown(
                options=[
                    (f"{p.name} ({p.key}, {p.source_type})", p.key)
                    for p in PLATFORMS.values()
                    if p.key != PARTNER_EXPENSE_KEY
                ],
                description="Platform",
            ),
            "platform-picker",
        )
        self.platform_key_text = with_class(
            widgets.Text(placeholder="or any 4-letter key", layout={"width": "160px"}),
            "platform-key",
        )
        self.create_button = make_button("Create connection", "create", icon="plus")
        self.partner_button = make_button("Create partner expense", "partner", icon="plus")
        self.confirm_message = with_class(widgets.HTML(), "confirm-message")
        self.confirm_button = make_button("Confirm", "confirm", button_style="danger")
        self.cancel_button = make_button("Cancel", "cancel")
        self.confirm_box = with_class(
            widgets.VBox(
                [self.confirm_message, widgets.HBox([self.confirm_button, self.cancel_button])],
                layout={"display": "none"},
            ),
            "confirm-box",
        )
        self.links = with_class(widgets.HTML(), "links")
        self.export_text = with_class(
            widgets.Textarea(layout={"width": "900px", "height": "120px", "display": "none"}),
            "export-text-area",
        )
        self.status_line = with_class(widgets.HTML(), "status-line")
        self.details = with_class(widgets.HTML(), "details")

        self.children = [
            widgets.HBox([self.company_search, self.refresh_button]),
            self.company_select,
            widgets.HBox([self.status_filter, self.source_filter]),
            self.table,
            widgets.HBox(
                [
                    self.selection_info,
                    self.relink_button,
                    self.unlink_button,
                    self.delete_button,
                    self.export_csv_button,
                    self.export_text_button,
                    self.clear_button,
                ]
            ),
            self.confirm_box,
            self.status_line,
            self.links,
            self.export_text,
            widgets.HBox([self.platform_picker, self.platform_key_text, self.create_button]),
            widgets.HBox([self.partner_button]),
            self.details,
        ]
        self.add_class("codat-nb-connection-manager")

        self.company_search.observe(self._on_search, names="value")
        self.company_select.observe(self._on_company_selected, names="value")
        self.status_filter.observe(self._on_filter, names="value")
        self.source_filter.observe(self._on_filter, names="value")
        self.table.observe(self._on_selection, names="selected")
        self.refresh_button.on_click(self._on_refresh)
        self.create_button.on_click(self._on_create)
        self.partner_button.on_click(self._on_partner)
        self.relink_button.on_click(self._on_relink)
        self.unlink_button.on_click(self._on_unlink)
        self.delete_button.on_click(self._on_delete)
        self.export_csv_button.on_click(self._on_export_csv)
        self.export_text_button.on_click(self._on_export_text)
        self.clear_button.on_click(self._on_clear)
        self.confirm_button.on_click(self._on_confirm)
        self.cancel_button.on_click(self._on_cancel)
        self._update_buttons()

    @property
    def action_buttons(self) -> tuple[widgets.Button, ...]:
        """Every button (all disabled while a handler runs)."""
        return (
            self.refresh_button,
            self.create_button,
            self.partner_button,
            self.relink_button,
            self.unlink_button,
            self.delete_button,
            self.export_csv_button,
            self.export_text_button,
            self.clear_button,
            self.confirm_button,
            self.cancel_button,
        )

    @property
    def selected(self) -> list[str]:
        """Ids of the selected connections, in the order they were selected."""
        return list(self.table.selected)

    def __repr__(self) -> str:
        """Deterministic text (no model ids, no wall clock) so nbval can compare it."""
        visible = len(self.visible_connections())
        return (
            f"ConnectionManager(company_id={self.company_id!r}, "
            f"connections={visible} shown of {len(self.connections)}, "
            f"selected={self.selected!r})"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The full repr as text/plain (ipywidgets would cut it at 110 characters)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def on_connections_changed(self, listener: Listener) -> None:
        """Call ``listener(company_id, connections)`` after each load of a company's
        connections (a portfolio view keeps its rows in step this way)."""
        self._listeners.append(listener)

    # ---------------------------------------------------------------------- calling the API
    @contextmanager
    def _buttons_disabled(self) -> Iterator[None]:
        self._busy += 1
        if self._busy == 1:
            for button in self.action_buttons:
                button.disabled = True
        try:
            yield
        finally:
            self._busy -= 1
            self._update_buttons()

    def _call(self, what: str, function: Callable[..., Any], *args: Any) -> Any:
        """One client call; errors go to the status line, not up."""
        try:
            return function(*args)
        except (CodatError, ValueError, TypeError) as err:
            self._show_error(what, err)
            return _FAILED

    def _selected_rows(self, statuses: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The selected connections as last listed (in selection order) that the filters show,
        optionally only those with one of ``statuses``: never a row the user cannot see."""
        rows = self.visible_connections().set_index("id", drop=False)
        chosen = [i for i in self.selected if i in rows.index]
        frame = rows.loc[chosen].reset_index(drop=True)
        if statuses is not None:
            frame = frame[frame["status"].astype("string").isin(statuses).fillna(False)]
        return frame

    def _update_buttons(self) -> None:
        if self._busy:
            return
        has_company = self.company_id is not None
        selected = self._selected_rows()
        statuses = set(selected["status"].astype(str))
        self.refresh_button.disabled = False
        self.create_button.disabled = not has_company
        self.partner_button.disabled = not has_company
        self.relink_button.disabled = not statuses & set(RELINKABLE)
        self.unlink_button.disabled = "Linked" not in statuses  # Codat unlinks only Linked ones
        for button in (
            self.delete_button,
            self.export_csv_button,
            self.export_text_button,
            self.clear_button,
        ):
            button.disabled = selected.empty
        self.confirm_button.disabled = self._pending is None
        self.cancel_button.disabled = self._pending is None
        count = len(selected)
        self.selection_info.value = (
            f'<span style="font-size:13px;padding-right:8px">{count} selected</span>'
        )

    def _say(self, html: str, kind: str = "ok") -> None:
        colour = {"ok": "#1b5e20", "error": "#b71c1c", "info": "#333"}[kind]
        self.status_line.value = (
            f'<div class="codat-nb-status-{kind}" style="color:{colour};font-size:13px">'
            f"{html}</div>"
        )

    def _show_error(self, what: str, err: Exception) -> None:
        self.last_error = err
        self._say(f"Could not {escape(what)}: {_describe(err)}", "error")

    # ------------------------------------------------------------------------- companies
    def _refresh_companies(self, preselect: str | None = None) -> bool:
        frame = self._call("list companies", self.client.companies.list)
        if frame is _FAILED:
            return False
        self.companies = frame
        self._update_company_options()
        wanted = preselect if preselect is not None else self.company_id
        if wanted is None:
            self._say(f"{len(frame)} companies; pick one to see its connections.", "info")
            return True
        # Not in the list: ask Codat directly, so the user sees its 404 and correlationId.
        if (
            wanted not in set(frame["company_id"])
            and self._call(f"find company {wanted}", self.client.companies.get, wanted) is _FAILED
        ):
            self.company_id = None
            self.connections = connections_frame([])
            self._redraw()
            return False
        if preselect is not None:
            self._choose_company(preselect)
        return True

    def _update_company_options(self) -> None:
        term = self.company_search.value.strip().casefold()
        frame = self.companies
        if term:
            names = frame["company_name"].astype("string").str.casefold()
            ids = frame["company_id"].astype("string").str.casefold()
            frame = frame[
                (
                    names.str.contains(term, regex=False) | ids.str.contains(term, regex=False)
                ).fillna(False)
            ]
        options = [
            (f"{name} ({cid})", cid)
            for cid, name in zip(frame["company_id"], frame["company_name"], strict=True)
        ]
        self._syncing = True
        try:
            self.company_select.options = options
            visible = {cid for _, cid in options}
            self.company_select.value = self.company_id if self.company_id in visible else None
        finally:
            self._syncing = False

    def _on_search(self, _change: dict) -> None:
        self._update_company_options()

    @handler
    def _on_company_selected(self, change: dict) -> None:
        if self._syncing or change["new"] is None or change["new"] == self.company_id:
            return
        self._choose_company(change["new"])

    @handler
    def show_company(self, company_id: str, select: list[str] | None = None) -> None:
        """Show ``company_id``'s connections, with ``select`` (connection ids) selected."""
        if company_id != self.company_id or not len(self.connections):
            self._choose_company(company_id, select=select)
        else:
            self.table.select(select or [])

    def _choose_company(self, company_id: str, select: list[str] | None = None) -> None:
        self.company_id = company_id
        self._cancel_pending()
        self._clear_outputs()
        self._syncing = True
        try:
            if company_id in {value for _, value in self.company_select.options}:
                self.company_select.value = company_id
        finally:
            self._syncing = False
        self.table.selected = []
        if self._refresh_connections():
            self.table.select(select or [])
            self._show_details(force=True)
            self._say(
                f"{len(self.connections)} connections of {escape(self._company_name())}.", "info"
            )

    def _company_name(self) -> str:
        match = self.companies.loc[self.companies["company_id"] == self.company_id, "company_name"]
        return str(match.iloc[0]) if len(match) else str(self.company_id)

    # ----------------------------------------------------------------------- connections
    def visible_connections(self) -> pd.DataFrame:
        """The chosen company's connections that pass the status and source type filters."""
        frame = self.connections
        if self.status_filter.value != ALL:
            frame = frame[frame["status"].astype("string") == self.status_filter.value]
        if self.source_filter.value != ALL:
            frame = frame[frame["source_type"].astype("string") == self.source_filter.value]
        return frame

    def _refresh_connections(self) -> bool:
        """Reload the chosen company's connections; the selection keeps the rows still there."""
        if self.company_id is None:
            return True

        def load(company_id: str) -> tuple[pd.DataFrame, pd.Timestamp | None]:
            frame = self.client.connections.list(company_id)
            try:
                return frame, self.client.server_time()
            except RuntimeError:  # no Date header: the table shows sync times instead of ages
                return frame, None

        loaded = self._call(
            f"list the connections of company {self.company_id}", load, self.company_id
        )
        if loaded is _FAILED:  # show no rows rather than rows that may be out of date
            self.connections = connections_frame([])
            self._redraw()
            return False
        self.connections, self.server_time = loaded
        self._update_filter_options()
        self._redraw()
        for listener in self._listeners:
            listener(self.company_id, self.connections)
        return True

    def _update_filter_options(self) -> None:
        """Known values always; values Codat sent that this version does not know, appended."""
        for dropdown, column, known in (
            (self.status_filter, "status", CONNECTION_STATUSES),
            (self.source_filter, "source_type", SOURCE_TYPES),
        ):
            extra = sorted(set(self.connections[column].dropna().astype(str)) - set(known))
            options = [ALL, *known, *extra]
            if list(dropdown.options) != options:
                current = dropdown.value
                self._syncing = True
                try:
                    dropdown.options = options
                    dropdown.value = current if current in options else ALL
                finally:
                    self._syncing = False

    def _on_filter(self, _change: dict) -> None:
        if not self._syncing:
            self._redraw()
            self._update_buttons()

    def _redraw(self) -> None:
        """Redraw the table from memory; the selection keeps the rows the filters still show."""
        visible = self.visible_connections()
        caption = ""
        if self.company_id is not None:
            caption = (
                f"<div style='font-weight:600'>{escape(self._company_name())} "
                f"<code>{escape(self.company_id)}</code>: {len(visible)} of "
                f"{len(self.connections)} connections match the filters</div>"
            )
        now = self.server_time

        def render(start: int, stop: int) -> list[list[str]]:
            return table_cells(visible.iloc[start:stop], TABLE_COLUMNS, now)

        self.table.caption = caption
        self.table.set_rows(list(visible["id"]), render)

    def _on_selection(self, change: dict) -> None:
        """A click on a row: the table sends ``selected`` and ``active`` together, so
        ``active`` is already set here. Only a card is read, so the buttons stay enabled: a
        click on one right after a row's lands, and runs after this in the kernel's order."""
        if set(change["new"]) != set(change["old"]):
            self._cancel_pending()
        self._show_details()
        self._update_buttons()

    def _show_details(self, force: bool = False) -> None:
        """The card of the active row (read afresh), unless it is already shown."""
        connection_id = self.table.active
        if connection_id == self._details_for and not force:
            return
        self._details_for = connection_id
        if connection_id is None or self.company_id is None:
            self.details.value = "<em>Click a row to select it and see its details.</em>"
            return
        conn = self._call(
            f"read connection {connection_id}",
            self.client.connections.get,
            self.company_id,
            connection_id,
        )
        self.details.value = "" if conn is _FAILED else connection_html(conn)

    # --------------------------------------------------------------------------- actions
    @handler
    def _on_refresh(self, _button: widgets.Button) -> None:
        if not self._refresh_companies():
            return
        if self.company_id is not None and self._refresh_connections():
            self._show_details(force=True)
            self._say(
                f"Refreshed: {len(self.connections)} connections of "
                f"{escape(self._company_name())}.",
                "info",
            )

    @handler
    def _on_create(self, button: widgets.Button) -> None:
        key = self.platform_key_text.value.strip() or self.platform_picker.value
        if self._create(
            button, f"create a {key!r} connection", self.client.connections.create, key
        ):
            self.platform_key_text.value = ""

    @handler
    def _on_partner(self, button: widgets.Button) -> None:
        self._create(
            button,
            "create a partner expense connection",
            self.client.connections.create_partner_expense,
        )

    def _create(
        self, button: widgets.Button, what: str, function: Callable[..., Any], *args: Any
    ) -> bool:
        """Create for the chosen company, unless this click is a double click's second half."""
        if self._last_create is not None:
            last_button, ended = self._last_create
            if last_button is button and time.monotonic() - ended <= DOUBLE_CLICK_S:
                return False
        conn = self._call(what, function, self.company_id, *args)
        if conn is _FAILED:
            return False
        message = (
            f"Created {escape(conn.platform_name)} connection <code>{escape(conn.id)}</code> "
            f"({escape(conn.status)})."
        )
        if conn.status == "PendingAuth":
            url = escape(conn.link_url, quote=True)
            message += (
                f' Send the customer its <a href="{url}" target="_blank" '
                'rel="noopener noreferrer" style="color:#1565c0;text-decoration:underline">'
                "link URL</a>."
            )
        self._after_change(message, select=[conn.id])
        self._last_create = (button, time.monotonic())
        return True

    def _after_change(self, message: str, select: list[str] | None = None) -> None:
        """Reload the table after a write, then say what was done (and if the reload failed)."""
        if self._refresh_connections():
            if select is not None:
                self.table.select(select)
            self._show_details(force=True)
            self._say(message)
        else:
            self._say(
                f"{message} Reloading the table failed: {escape(str(self.last_error))}", "error"
            )

    @handler
    def _on_relink(self, _button: widgets.Button) -> None:
        """Show each selected Deauthorized or Unlinked connection's link URL, read afresh: a
        one-time link may have changed since the table was listed."""
        rows = self._selected_rows(RELINKABLE)
        fresh = []
        for connection_id in rows["id"]:
            conn = self._call(
                f"read connection {connection_id}",
                self.client.connections.get,
                self.company_id,
                connection_id,
            )
            if conn is _FAILED:
                return
            fresh.append(conn)
        self._clear_outputs()
        frame = pd.DataFrame(
            {
                "id": [c.id for c in fresh],
                "platform_name": [c.platform_name for c in fresh],
                "status": [c.status for c in fresh],
                "link_url": [c.link_url for c in fresh],
            }
        )
        self.links.value = relink_html(frame)
        self._say(
            f"Re-link: {len(fresh)} connection{'s' if len(fresh) != 1 else ''}; send each "
            "customer its link URL below.",
            "info",
        )

    def _export_frame(self) -> pd.DataFrame:
        return self._selected_rows().assign(
            company_id=self.company_id, company_name=self._company_name()
        )

    @handler
    def _on_export_csv(self, _button: widgets.Button) -> None:
        frame = self._export_frame()
        text = links_csv(frame)
        self._show_export(text)
        self.links.value = download_html(text, "link_urls.csv")
        self._say(f"Exported the link URLs of {len(frame)} connections as CSV.", "info")

    @handler
    def _on_export_text(self, _button: widgets.Button) -> None:
        frame = self._export_frame()
        self._show_export(links_text(frame))
        self.links.value = ""
        self._say(f"The link URLs of {len(frame)} connections, ready to copy.", "info")

    def _show_export(self, text: str) -> None:
        self.export_text.value = text
        self.export_text.layout.display = "flex"

    def _clear_outputs(self) -> None:
        self.links.value = ""
        self.export_text.value = ""
        self.export_text.layout.display = "none"

    @handler
    def _on_clear(self, _button: widgets.Button) -> None:
        self.table.selected = []

    @handler
    def _on_unlink(self, _button: widgets.Button) -> None:
        targets = self._selected_rows(("Linked",))
        skipped = len(self.selected) - len(targets)
        note = (
            f" {skipped} selected connection{'s are' if skipped != 1 else ' is'} not Linked "
            "and will be left alone."
            if skipped
            else ""
        )
        self._ask(
            "unlink",
            targets,
            "Unlink {n}? Codat keeps their data and the customer can re-authorize them later."
            + note,
        )

    @handler
    def _on_delete(self, _button: widgets.Button) -> None:
        self._ask(
            "delete",
            self._selected_rows(),
            "Delete {n}? This is <b>irreversible</b>: the connections and their links are "
            "gone for good.",
        )

    def _ask(self, action: str, targets: pd.DataFrame, question: str) -> None:
        if targets.empty or self.company_id is None:
            self._say("Select a connection first.", "error")
            return
        ids = tuple(targets["id"])
        self._pending = (action, self.company_id, ids)
        count = f"{len(ids)} connection{'s' if len(ids) != 1 else ''}"
        items = "".join(
            f"<li>{escape(str(platform))} <code>{escape(cid)}</code></li>"
            for cid, platform in zip(targets["id"], targets["platform_name"], strict=True)
        )
        self.confirm_message.value = (
            f'<div style="font-size:13px">{question.format(n=count)}'
            f'<ul class="codat-nb-confirm-list" style="margin:2px 0">{items}</ul></div>'
        )
        self.confirm_box.layout.display = "flex"
        self._say(f"Confirm or cancel: {action} {count}.", "info")

    def _cancel_pending(self) -> None:
        self._pending = None
        self.confirm_box.layout.display = "none"
        self.confirm_message.value = ""
        self._update_buttons()

    @handler
    def _on_cancel(self, _button: widgets.Button) -> None:
        pending = self._pending
        self._cancel_pending()
        if pending is not None:
            self._say(
                f"Cancelled: did not {pending[0]} {len(pending[2])} connection"
                f"{'s' if len(pending[2]) != 1 else ''}; nothing changed.",
                "info",
            )

    @handler
    def _on_confirm(self, _button: widgets.Button) -> None:
        pending = self._pending
        self._cancel_pending()
        if pending is None:  # a second click after the first one consumed the confirmation
            return
        action, company_id, ids = pending
        function = {
            "unlink": self.client.connections.unlink,
            "delete": self.client.connections.delete,
        }[action]
        done, failed = [], []
        for connection_id in ids:
            try:
                function(company_id, connection_id)
                done.append(connection_id)
            except (CodatError, ValueError, TypeError) as err:
                self.last_error = err
                failed.append((connection_id, err))
        past = {"unlink": "Unlinked", "delete": "Deleted"}[action]
        platforms = dict(
            zip(self.connections["id"], self.connections["platform_name"], strict=True)
        )
        how_many = _plural(len(ids), "connection")
        message = f"{past} {how_many if not failed else f'{len(done)} of {how_many}'}"
        if done:
            message += ": " + ", ".join(
                f"{escape(str(platforms.get(i, '')))} <code>{escape(i)}</code>" for i in done
            )
        if action == "delete" and done:
            message += " (irreversible)"
        message += "."
        if failed:
            problems = "; ".join(f"<code>{escape(i)}</code>: {_describe(err)}" for i, err in failed)
            self._refresh_connections()
            self._say(f"{message} Failed: {problems}", "error")
            return
        self._after_change(message)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _describe(err: Exception) -> str:
    """An error for the status line: its type and message (with Codat's correlationId)."""
    return f"{type(err).__name__}: {escape(str(err), quote=False)}"
