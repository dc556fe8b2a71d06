"""ConnectionBrowser: what the ConnectionManager shows, and how it talks to the API.

Picking a company (search, select, ``show_company``), its connections filtered into the table,
the selection and the active row's card read afresh; and the ground every action stands on:
one API call at a time whose errors land in the status line with Codat's correlationId (never a
traceback, and the widget stays usable), and buttons disabled while a handler runs.

A handler runs with the buttons disabled once, from its first request to its last redraw: a
button that flickered enabled between two calls of one handler would take a click the browser
then drops. A click on a row only reads a card and disables nothing.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from html import escape
from typing import TYPE_CHECKING, Any, Concatenate, Final, ParamSpec, TypeVar

import pandas as pd

from codat_nb.exceptions import CodatError
from codat_nb.frames import companies_frame, connections_frame
from codat_nb.notebook.controls import (
    ALL,
    Kind,
    OwnChanges,
    companies_text,
    describe_error,
    matching_companies,
    replace_options,
    sentence,
    status_html,
)
from codat_nb.notebook.display import connection_html
from codat_nb.notebook.links import RELINKABLE
from codat_nb.notebook.manager_layout import ManagerLayout
from codat_nb.wire.schema import CONNECTION_STATUSES, SOURCE_TYPES

if TYPE_CHECKING:
    from codat_nb.client import CodatClient
    from codat_nb.wire.models import Connection


class Failed(enum.Enum):
    """What ``_call`` returns when the call raised (a call may legitimately return None)."""

    FAILED = "failed"


FAILED: Final = Failed.FAILED
#: What the manager tells its listeners after each (re)load: company id and its connections.
Listener = Callable[[str, pd.DataFrame], None]
#: A trait change as ipywidgets reports it (``new``, ``old``, ``name``, ...).
Change = Mapping[str, Any]

Browser = TypeVar("Browser", bound="ConnectionBrowser")
Params = ParamSpec("Params")
Result = TypeVar("Result")


def handler(
    method: Callable[Concatenate[Browser, Params], Result],
) -> Callable[Concatenate[Browser, Params], Result]:
    """Run a UI handler with the action buttons disabled from its start to its end."""

    @functools.wraps(method)
    def run(self: Browser, /, *args: Params.args, **kwargs: Params.kwargs) -> Result:
        with self._buttons_disabled():
            return method(self, *args, **kwargs)

    return run


class ConnectionBrowser(ManagerLayout):
    """A company's connections in the table, ``company_id`` preselected; see ConnectionManager,
    which adds the actions (it documents the arguments)."""

    def __init__(
        self,
        client: CodatClient,
        company_id: str | None,
        *,
        page_size: int,
        companies: pd.DataFrame | None = None,
    ) -> None:
        if not hasattr(client, "connections") or not hasattr(client, "companies"):
            raise TypeError(f"client must be a codat_nb.CodatClient, not {type(client).__name__}")
        if company_id is not None and not isinstance(company_id, str):
            raise TypeError(f"company_id must be a str or None, not {type(company_id).__name__}")
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, got {page_size!r}")
        if companies is not None and not {"company_id", "company_name"} <= set(
            getattr(companies, "columns", ())
        ):
            raise TypeError("companies must be the DataFrame client.companies.list() returns")
        super().__init__(page_size)
        self.client = client
        self.company_id: str | None = None
        self.companies = companies_frame([])
        self.connections = connections_frame([])
        self.server_time: pd.Timestamp | None = None
        self.last_error: Exception | None = None
        self._own_changes = OwnChanges()  # held while options are rewritten
        self._busy = 0  # how deep in handlers we are: buttons come back only at 0
        self._listeners: list[Listener] = []
        self._details_for: str | None = ""  # the connection the card shows ("": none yet)
        self.company_search.observe(self._on_search, names="value")
        self.company_select.observe(self._on_company_selected, names="value")
        self.status_filter.observe(self._on_filter, names="value")
        self.source_filter.observe(self._on_filter, names="value")
        self.table.observe(self._on_selection, names="selected")
        self._start(company_id, companies)

    @handler
    def _start(self, company_id: str | None, companies: pd.DataFrame | None) -> None:
        if companies is None:
            self._refresh_companies(preselect=company_id)
        else:
            self.use_companies(companies, preselect=company_id)
        self._show_details()

    @property
    def selected(self) -> list[str]:
        """Ids of the selected connections, in the order they were selected."""
        return list(self.table.selected)

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

    def _call(
        self,
        what: str,
        function: Callable[Params, Result],
        /,
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> Result | Failed:
        """One client call; errors go to the status line, not up."""
        try:
            return function(*args, **kwargs)
        except (CodatError, ValueError, TypeError) as err:
            self._show_error(what, err)
            return FAILED

    def _read_connection(self, company_id: str, connection_id: str) -> Connection | Failed:
        return self._call(
            f"read connection {connection_id}",
            self.client.connections.get,
            company_id,
            connection_id,
        )

    def _selected_rows(self, statuses: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The selected connections as last listed (in selection order) that the filters show,
        optionally only those with one of ``statuses``: never a row the user cannot see."""
        rows = self.visible_connections().set_index("id", drop=False)
        chosen = [i for i in self.selected if i in rows.index]
        frame: pd.DataFrame = rows.loc[chosen].reset_index(drop=True)
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
        nothing_pending = self.confirm_box.pending is None
        self.confirm_button.disabled = nothing_pending
        self.cancel_button.disabled = nothing_pending
        self.selection_info.value = (
            f'<span style="font-size:13px;padding-right:8px">{len(selected)} selected</span>'
        )

    def _say(self, html: str, kind: Kind = "ok") -> None:
        self.status_line.value = status_html(html, kind)

    def _show_error(self, what: str, err: Exception) -> None:
        self.last_error = err
        self._say(f"Could not {escape(what)}: {describe_error(err)}", "error")

    def _cancel_pending(self) -> None:
        """Drop the question waiting for confirmation, if any (the rows it named may change)."""
        self.confirm_box.dismiss()
        self._update_buttons()

    # ------------------------------------------------------------------------- companies
    def _refresh_companies(self, preselect: str | None = None) -> bool:
        frame = self._call("list companies", self.client.companies.list)
        if frame is FAILED:
            return False
        assert isinstance(frame, pd.DataFrame)  # one frame: no with_connections=True
        return self.use_companies(frame, preselect)

    def use_companies(self, frame: pd.DataFrame, preselect: str | None = None) -> bool:
        """Offer the companies of ``frame`` (as ``client.companies.list()`` returns them,
        listed elsewhere), then show ``preselect`` or the company chosen before; False when
        that company cannot be found."""
        self.companies = frame
        self._update_company_options()
        wanted = preselect if preselect is not None else self.company_id
        if wanted is None:
            self._say(f"{_companies_count(frame)}; pick one to see its connections.", "info")
            return True
        # Not in the list: ask Codat directly, so the user sees its 404 and correlationId.
        if (
            wanted not in set(frame["company_id"])
            and self._call(f"find company {wanted}", self.client.companies.get, wanted) is FAILED
        ):
            self.company_id = None
            self.connections = connections_frame([])
            self._redraw()
            return False
        if preselect is not None:
            self._choose_company(preselect)
        return True

    def _update_company_options(self) -> None:
        frame = matching_companies(self.companies, self.company_search.value)
        options = [
            (f"{name} ({cid})", cid)
            for cid, name in zip(frame["company_id"], frame["company_name"], strict=True)
        ]
        with self._own_changes.hold():
            self.company_select.options = options
            visible = {cid for _, cid in options}
            self.company_select.value = self.company_id if self.company_id in visible else None

    def _on_search(self, _change: Change) -> None:
        self._update_company_options()

    @handler
    def _on_company_selected(self, change: Change) -> None:
        if self._own_changes.active or change["new"] is None or change["new"] == self.company_id:
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
        with self._own_changes.hold():
            if company_id in {value for _, value in self.company_select.options}:
                self.company_select.value = company_id
        self.table.selected = []
        if self._refresh_connections():
            self.table.select(select or [])
            self._show_details(force=True)
            self._say(
                sentence(f"{len(self.connections)} connections of {escape(self.company_name())}"),
                "info",
            )

    def company_name(self) -> str:
        """The chosen company's name as listed (its id when the listing does not have it)."""
        match = self.companies.loc[self.companies["company_id"] == self.company_id, "company_name"]
        return str(match.iloc[0]) if len(match) else str(self.company_id)

    def _clear_outputs(self) -> None:
        """Hide the link URLs and exports of the previous action."""
        self.links.value = ""
        self.export_text.value = ""
        self.export_text.layout.display = "none"

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
        loaded = self._call(
            f"list the connections of company {self.company_id}", self._load, self.company_id
        )
        if loaded is FAILED:  # show no rows rather than rows that may be out of date
            self.connections = connections_frame([])
            self._redraw()
            return False
        self.connections, self.server_time = loaded
        self._update_filter_options()
        self._redraw()
        for listener in self._listeners:
            listener(self.company_id, self.connections)
        return True

    def _load(self, company_id: str) -> tuple[pd.DataFrame, pd.Timestamp | None]:
        """A company's connections, and the server's time for their ages."""
        frame = self.client.connections.list(company_id)
        try:
            return frame, self.client.server_time()
        except RuntimeError:  # no Date header: the table shows sync times instead of ages
            return frame, None

    def _update_filter_options(self) -> None:
        """Known values always; values Codat sent that this version does not know, appended."""
        for dropdown, column, known in (
            (self.status_filter, "status", CONNECTION_STATUSES),
            (self.source_filter, "source_type", SOURCE_TYPES),
        ):
            extra = sorted(set(self.connections[column].dropna().astype(str)) - set(known))
            with self._own_changes.hold():
                replace_options(dropdown, [ALL, *known, *extra])

    def _on_filter(self, _change: Change) -> None:
        if not self._own_changes.active:
            self._redraw()
            self._update_buttons()

    def _redraw(self) -> None:
        """Redraw the table from memory; the selection keeps the rows the filters still show."""
        visible = self.visible_connections()
        caption = ""
        if self.company_id is not None:
            caption = (
                f"<div style='font-weight:600'>{escape(self.company_name())} "
                f"<code>{escape(self.company_id)}</code>: {len(visible)} of "
                f"{len(self.connections)} connections match the filters</div>"
            )
        self.table.show(visible, self.server_time, caption)

    def _on_selection(self, change: Change) -> None:
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
        conn = self._read_connection(self.company_id, connection_id)
        self.details.value = "" if conn is FAILED else connection_html(conn)


def _companies_count(companies: pd.DataFrame) -> str:
    """``280 companies (18 with no connections)``: a portfolio lists only the others."""
    counts = companies.get("connection_count", pd.Series(dtype="int64"))
    empty = int((counts == 0).sum())
    return companies_text(len(companies)) + (f" ({empty:,} with no connections)" if empty else "")
