"""ConnectionManager: see, create, unlink and delete a company's connections inside a notebook.

A thin ipywidgets layer over the client: every handler is a plain method that makes one client
call with the action buttons disabled, then redraws from the client's answer. API and argument
errors land in the status line with Codat's correlationId, never as a traceback in the output
area, and the widget stays usable. Child widgets have stable attribute names and CSS classes
(``codat-nb-...``) so tests and browsers can drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from html import escape
from typing import Any

import ipywidgets as widgets
import pandas as pd

from codat_nb.exceptions import CodatError
from codat_nb.frames import companies_frame, connections_frame
from codat_nb.notebook.display import connection_html, connections_table_html
from codat_nb.platforms import PARTNER_EXPENSE_KEY, PLATFORMS
from codat_nb.wire.models import Connection
from codat_nb.wire.schema import CONNECTION_STATUSES, SOURCE_TYPES

ALL = "All"
_FAILED = object()  # what _call returns when the call raised (a call may legitimately return None)
#: A click on a create button this many seconds or less after that button created a connection
#: is the second half of a double click, and is ignored. Disabling the buttons cannot stop it:
#: the browser sends both clicks before the disabled state reaches it, and the kernel runs the
#: queued second click after the first has finished and enabled the buttons again.
DOUBLE_CLICK_S = 0.5


def _with_class(widget: widgets.Widget, name: str) -> Any:
    widget.add_class(f"codat-nb-{name}")
    return widget


class ConnectionManager(widgets.VBox):
    """Pick a company, browse and filter its connections, inspect one, and act on it.

    ``client`` is a ``codat_nb.CodatClient``; ``company_id`` preselects a company. Shown by
    ``display(mgr)`` or as the last expression of a cell. ``max_rows`` caps the rows drawn (the
    table says when it shows only part); ``last_error`` holds the latest API error for a closer
    look (``display(mgr.last_error)``).
    """

    def __init__(self, client: Any, company_id: str | None = None, *, max_rows: int = 200) -> None:
        if not hasattr(client, "connections") or not hasattr(client, "companies"):
            raise TypeError(f"client must be a codat_nb.CodatClient, not {type(client).__name__}")
        if company_id is not None and not isinstance(company_id, str):
            raise TypeError(f"company_id must be a str or None, not {type(company_id).__name__}")
        if not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 1:
            raise ValueError(f"max_rows must be a positive int, got {max_rows!r}")
        super().__init__()
        self.client = client
        self.max_rows = max_rows
        self.company_id: str | None = None
        self.companies = companies_frame([])
        self.connections = connections_frame([])
        self.server_time: pd.Timestamp | None = None
        self.last_error: Exception | None = None
        self._pending: tuple[str, str, str] | None = None  # (action, company id, connection id)
        self._syncing = False  # True while options are rewritten: observers ignore the echoes
        self._busy = False
        self._last_create: tuple[widgets.Button, float] | None = None  # (button, when it ended)
        self._build()
        self._refresh_companies(preselect=company_id)

    # ----------------------------------------------------------------------------- layout
    def _build(self) -> None:
        self.company_search = _with_class(
            widgets.Text(placeholder="Search companies by name or id", description="Company"),
            "company-search",
        )
        self.company_select = _with_class(
            widgets.Select(
                options=[], value=None, rows=6, description="Matches", layout={"width": "640px"}
            ),
            "company-select",
        )
        self.refresh_button = _with_class(
            widgets.Button(
                description="Refresh", icon="refresh", tooltip="Reload companies and connections"
            ),
            "refresh",
        )
        self.status_filter = _with_class(
            widgets.Dropdown(options=[ALL, *CONNECTION_STATUSES], value=ALL, description="Status"),
            "status-filter",
        )
        self.source_filter = _with_class(
            widgets.Dropdown(options=[ALL, *SOURCE_TYPES], value=ALL, description="Source type"),
            "source-filter",
        )
        self.table = _with_class(widgets.HTML(layout={"overflow": "auto"}), "table")
        self.connection_select = _with_class(
            widgets.Select(
                options=[],
                value=None,
                rows=6,
                description="Connection",
                layout={"width": "640px"},
            ),
            "connection-select",
        )
        self.details = _with_class(widgets.HTML(), "details")
        self.platform_picker = _with_class(
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
        self.platform_key_text = _with_class(
            widgets.Text(placeholder="or any 4-letter key", layout={"width": "160px"}),
            "platform-key",
        )
        self.create_button = _with_class(
            widgets.Button(description="Create connection", icon="plus"), "create"
        )
        self.partner_button = _with_class(
            widgets.Button(description="Create partner expense", icon="plus"), "partner"
        )
        self.unlink_button = _with_class(
            widgets.Button(description="Unlink", icon="unlink", button_style="warning"), "unlink"
        )
        self.delete_button = _with_class(
            widgets.Button(description="Delete", icon="trash", button_style="danger"), "delete"
        )
        self.confirm_message = _with_class(widgets.HTML(), "confirm-message")
        self.confirm_button = _with_class(
            widgets.Button(description="Confirm", button_style="danger"), "confirm"
        )
        self.cancel_button = _with_class(widgets.Button(description="Cancel"), "cancel")
        self.confirm_box = _with_class(
            widgets.HBox(
                [self.confirm_message, self.confirm_button, self.cancel_button],
                layout={"display": "none"},
            ),
            "confirm-box",
        )
        self.status_line = _with_class(widgets.HTML(), "status-line")

        for button in self.action_buttons:
            button.layout.width = "auto"
        self.children = [
            widgets.HBox([self.company_search, self.refresh_button]),
            self.company_select,
            widgets.HBox([self.status_filter, self.source_filter]),
            self.table,
            self.connection_select,
            widgets.HBox([self.unlink_button, self.delete_button, self.partner_button]),
            widgets.HBox([self.platform_picker, self.platform_key_text, self.create_button]),
            self.confirm_box,
            self.status_line,
            self.details,
        ]
        self.add_class("codat-nb-connection-manager")

        self.company_search.observe(self._on_search, names="value")
        self.company_select.observe(self._on_company_selected, names="value")
        self.status_filter.observe(self._on_filter, names="value")
        self.source_filter.observe(self._on_filter, names="value")
        self.connection_select.observe(self._on_connection_selected, names="value")
        self.refresh_button.on_click(self._on_refresh)
        self.create_button.on_click(self._on_create)
        self.partner_button.on_click(self._on_partner)
        self.unlink_button.on_click(self._on_unlink)
        self.delete_button.on_click(self._on_delete)
        self.confirm_button.on_click(self._on_confirm)
        self.cancel_button.on_click(self._on_cancel)
        self._update_buttons()

    @property
    def action_buttons(self) -> tuple[widgets.Button, ...]:
        """Every button that sends a request (all disabled while one runs)."""
        return (
            self.refresh_button,
            self.create_button,
            self.partner_button,
            self.unlink_button,
            self.delete_button,
            self.confirm_button,
            self.cancel_button,
        )

    def __repr__(self) -> str:
        """Deterministic text (no model ids, no wall clock) so nbval can compare it."""
        visible = len(self.visible_connections())
        return (
            f"ConnectionManager(company_id={self.company_id!r}, "
            f"connections={visible} shown of {len(self.connections)}, "
            f"selected={self.connection_select.value!r})"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The full repr as text/plain (ipywidgets would cut it at 110 characters)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    # ---------------------------------------------------------------------- calling the API
    @contextmanager
    def _buttons_disabled(self):
        self._busy = True
        for button in self.action_buttons:
            button.disabled = True
        try:
            yield
        finally:
            self._busy = False
            self._update_buttons()

    def _call(self, what: str, function: Callable[..., Any], *args: Any) -> Any:
        """One client call with the buttons disabled; errors go to the status line, not up."""
        with self._buttons_disabled():
            try:
                return function(*args)
            except (CodatError, ValueError, TypeError) as err:
                self._show_error(what, err)
                return _FAILED

    def _update_buttons(self) -> None:
        if self._busy:
            return
        has_company = self.company_id is not None
        has_connection = self.connection_select.value is not None
        linked = has_connection and self.selected_status() == "Linked"
        self.refresh_button.disabled = False
        self.create_button.disabled = not has_company
        self.partner_button.disabled = not has_company
        self.unlink_button.disabled = not linked  # Codat unlinks only Linked connections
        self.delete_button.disabled = not has_connection
        self.confirm_button.disabled = self._pending is None
        self.cancel_button.disabled = self._pending is None

    def _say(self, html: str, kind: str = "ok") -> None:
        colour = {"ok": "#1b5e20", "error": "#b71c1c", "info": "#333"}[kind]
        self.status_line.value = (
            f'<div class="codat-nb-status-{kind}" style="color:{colour};font-size:13px">'
            f"{html}</div>"
        )

    def _show_error(self, what: str, err: Exception) -> None:
        self.last_error = err
        self._say(
            f"Could not {escape(what)}: {type(err).__name__}: {escape(str(err), quote=False)}",
            "error",
        )

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
            self._redraw(select=None)
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

    def _on_company_selected(self, change: dict) -> None:
        if self._syncing or change["new"] is None or change["new"] == self.company_id:
            return
        self._choose_company(change["new"])

    def _choose_company(self, company_id: str) -> None:
        self.company_id = company_id
        self._cancel_pending()
        self._syncing = True
        try:
            if company_id in {value for _, value in self.company_select.options}:
                self.company_select.value = company_id
        finally:
            self._syncing = False
        if self._refresh_connections(select=None):
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

    def selected_status(self) -> str | None:
        """Status of the selected connection as last listed (None when nothing is selected)."""
        rows = self.connections[self.connections["id"] == self.connection_select.value]
        return str(rows["status"].iloc[0]) if len(rows) else None

    def _refresh_connections(self, select: str | None) -> bool:
        """Reload the chosen company's connections; keep ``select`` selected if it still exists."""
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
            self._redraw(select=None)
            return False
        self.connections, self.server_time = loaded
        self._update_filter_options()
        self._redraw(select=select)
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
            self._redraw(select=self.connection_select.value, reload_details=False)

    def _redraw(self, select: str | None, reload_details: bool = True) -> None:
        """Redraw table and picker from memory; re-read the details if asked or selection moved."""
        visible = self.visible_connections()
        header = ""
        if self.company_id is not None:
            header = (
                f"<div style='font-weight:600'>{escape(self._company_name())} "
                f"<code>{escape(self.company_id)}</code>: {len(visible)} of "
                f"{len(self.connections)} connections match the filters</div>"
            )
        self.table.value = header + connections_table_html(
            visible, self.server_time, selected=select, max_rows=self.max_rows
        )
        shown = visible.head(self.max_rows)
        options = [
            (f"{platform} · {status} · {cid}", cid)
            for cid, platform, status in zip(
                shown["id"], shown["platform_name"], shown["status"], strict=True
            )
        ]
        previous = self.connection_select.value
        self._syncing = True
        try:
            self.connection_select.options = options
            self.connection_select.value = select if select in {v for _, v in options} else None
        finally:
            self._syncing = False
        moved = self.connection_select.value != previous
        if moved:
            self._cancel_pending()
        if reload_details or moved:
            self._show_details()
        else:
            self._update_buttons()

    def _on_connection_selected(self, change: dict) -> None:
        if self._syncing:
            return
        self._cancel_pending()
        self._redraw(select=change["new"], reload_details=True)

    def _show_details(self) -> None:
        connection_id = self.connection_select.value
        self._update_buttons()
        if connection_id is None:
            self.details.value = "<em>Select a connection to see its details.</em>"
            return
        conn = self._call(
            f"read connection {connection_id}",
            self.client.connections.get,
            self.company_id,
            connection_id,
        )
        self.details.value = "" if conn is _FAILED else connection_html(conn)

    # --------------------------------------------------------------------------- actions
    def _on_refresh(self, _button: widgets.Button) -> None:
        selected = self.connection_select.value
        if not self._refresh_companies():
            return
        if self.company_id is not None and self._refresh_connections(select=selected):
            self._say(
                f"Refreshed: {len(self.connections)} connections of "
                f"{escape(self._company_name())}.",
                "info",
            )

    def _on_create(self, button: widgets.Button) -> None:
        key = self.platform_key_text.value.strip() or self.platform_picker.value
        if self._create(
            button, f"create a {key!r} connection", self.client.connections.create, key
        ):
            self.platform_key_text.value = ""

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
        self._after_action(conn, "Created")
        self._last_create = (button, time.monotonic())
        return True

    def _after_action(self, conn: Connection, verb: str) -> None:
        message = (
            f"{verb} {escape(conn.platform_name)} connection <code>{escape(conn.id)}</code> "
            f"({escape(conn.status)})."
        )
        if conn.status == "PendingAuth":
            url = escape(conn.link_url, quote=True)
            message += (
                f' Send the customer its <a href="{url}" target="_blank" '
                'rel="noopener noreferrer" style="color:#1565c0;text-decoration:underline">'
                "link URL</a>."
            )
        if self._refresh_connections(select=conn.id):
            self._say(message)
        else:
            self._say(
                f"{message} Reloading the table failed: {escape(str(self.last_error))}", "error"
            )

    def _on_unlink(self, _button: widgets.Button) -> None:
        self._ask(
            "unlink",
            "Unlink connection {id}? Codat keeps its data and the customer can "
            "re-authorize it later.",
        )

    def _on_delete(self, _button: widgets.Button) -> None:
        self._ask(
            "delete",
            "Delete connection {id}? This is <b>irreversible</b>: the connection and its "
            "link are gone for good.",
        )

    def _ask(self, action: str, question: str) -> None:
        connection_id = self.connection_select.value
        if connection_id is None or self.company_id is None:
            self._say("Select a connection first.", "error")
            return
        self._pending = (action, self.company_id, connection_id)
        self.confirm_message.value = question.format(id=f"<code>{escape(connection_id)}</code>")
        self.confirm_box.layout.display = "flex"
        self._say(f"Confirm or cancel: {action} {escape(connection_id)}.", "info")
        self._update_buttons()

    def _cancel_pending(self) -> None:
        self._pending = None
        self.confirm_box.layout.display = "none"
        self.confirm_message.value = ""
        self._update_buttons()

    def _on_cancel(self, _button: widgets.Button) -> None:
        pending = self._pending
        self._cancel_pending()
        if pending is not None:
            self._say(
                f"Cancelled: did not {pending[0]} {escape(pending[2])}; nothing changed.", "info"
            )

    def _on_confirm(self, _button: widgets.Button) -> None:
        pending = self._pending
        self._cancel_pending()
        if pending is None:  # a second click after the first one consumed the confirmation
            return
        action, company_id, connection_id = pending
        if action == "unlink":
            conn = self._call(
                f"unlink connection {connection_id}",
                self.client.connections.unlink,
                company_id,
                connection_id,
            )
            if conn is not _FAILED:
                self._after_action(conn, "Unlinked")
            return
        if (
            self._call(
                f"delete connection {connection_id}",
                self.client.connections.delete,
                company_id,
                connection_id,
            )
            is _FAILED
        ):
            return
        message = f"Deleted connection <code>{escape(connection_id)}</code> (irreversible)."
        if self._refresh_connections(select=None):
            self._say(message)
        else:
            self._say(
                f"{message} Reloading the table failed: {escape(str(self.last_error))}", "error"
            )
