"""ConnectionManager: see, create, unlink, delete and re-link a company's connections in a notebook.

A thin ipywidgets layer over the client. The connections are one table whose rows you click (or
pick with the arrow keys and Space) to select, several at once; the actions work on the
selection: unlink or delete them (after one confirmation that lists them), re-link the
Deauthorized or Unlinked ones (their link URLs), export their link URLs as CSV or text.

Three layers, one concern each: ``manager_layout.ManagerLayout`` builds and arranges the
controls; ``connection_browser.ConnectionBrowser`` shows a company's connections and calls the
API (errors in the status line, buttons disabled while a handler runs); this module adds the
actions. Child widgets have stable attribute names and CSS classes (``codat-nb-...``) so tests
and browsers can drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from codat_nb.exceptions import CodatError
from codat_nb.notebook.confirmation import Action, Pending
from codat_nb.notebook.connection_browser import FAILED, ConnectionBrowser, handler
from codat_nb.notebook.controls import describe_error, plural, sentence
from codat_nb.notebook.display import link_html
from codat_nb.notebook.links import (
    RELINKABLE,
    download_html,
    links_csv,
    links_text,
    relink_html,
)

if TYPE_CHECKING:
    from codat_nb.client import CodatClient
    from codat_nb.wire.models import Connection

#: A click on a create button this many seconds or less after that button created a connection
#: is the second half of a double click, and is ignored. Disabling the buttons cannot stop it:
#: the browser sends both clicks before the disabled state reaches it, and the kernel runs the
#: queued second click after the first has finished and enabled the buttons again.
DOUBLE_CLICK_S = 0.5
_PAST: dict[Action, str] = {"unlink": "Unlinked", "delete": "Deleted"}


class ConnectionManager(ConnectionBrowser):
    """Pick a company, select its connections in a table, and act on the selection.

    ``client`` is a ``codat_nb.CodatClient``; ``company_id`` preselects a company. Shown by
    ``display(mgr)`` or as the last expression of a cell. ``page_size`` rows show at a time
    (the table pages through the rest); ``companies``, a frame ``client.companies.list()``
    returned, saves the first listing (**Refresh** lists again); ``last_error`` holds the
    latest API error for a closer look (``display(mgr.last_error)``).
    """

    def __init__(
        self,
        client: CodatClient,
        company_id: str | None = None,
        *,
        page_size: int = 25,
        companies: pd.DataFrame | None = None,
    ) -> None:
        super().__init__(client, company_id, page_size=page_size, companies=companies)
        self._last_create: tuple[widgets.Button, float] | None = None  # (button, when it ended)
        for button, on_click in (
            (self.refresh_button, self._on_refresh),
            (self.create_button, self._on_create),
            (self.partner_button, self._on_partner),
            (self.relink_button, self._on_relink),
            (self.unlink_button, self._on_unlink),
            (self.delete_button, self._on_delete),
            (self.export_csv_button, self._on_export_csv),
            (self.export_text_button, self._on_export_text),
            (self.clear_button, self._on_clear),
            (self.confirm_button, self._on_confirm),
            (self.cancel_button, self._on_cancel),
        ):
            button.on_click(on_click)

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
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    # ------------------------------------------------------------------ reload and create
    @handler
    def _on_refresh(self, _button: widgets.Button) -> None:
        if not self._refresh_companies():
            return
        if self.company_id is not None and self._refresh_connections():
            self._show_details(force=True)
            self._say(
                sentence(
                    f"Refreshed: {len(self.connections)} connections of "
                    f"{escape(self.company_name())}"
                ),
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
        self, button: widgets.Button, what: str, function: Callable[..., Connection], *args: str
    ) -> bool:
        """Create for the chosen company, unless this click is a double click's second half."""
        if self._last_create is not None:
            last_button, ended = self._last_create
            if last_button is button and time.monotonic() - ended <= DOUBLE_CLICK_S:
                return False
        company_id = self._chosen_company()
        if company_id is None:
            return False
        conn = self._call(what, function, company_id, *args)
        if conn is FAILED:
            return False
        self._after_change(_created_message(conn), select=[conn.id])
        self._last_create = (button, time.monotonic())
        return True

    def _chosen_company(self) -> str | None:
        """The chosen company's id; None, once the status line asks to pick one."""
        if self.company_id is None:
            self._say("Pick a company first.", "error")
        return self.company_id

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

    # ------------------------------------------------------------ re-link, export, clear
    @handler
    def _on_relink(self, _button: widgets.Button) -> None:
        """Show each selected Deauthorized or Unlinked connection's link URL, read afresh: a
        one-time link may have changed since the table was listed."""
        company_id = self._chosen_company()
        if company_id is None:
            return
        fresh: list[Connection] = []
        for connection_id in self._selected_rows(RELINKABLE)["id"]:
            conn = self._read_connection(company_id, connection_id)
            if conn is FAILED:
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
            f"Re-link: {plural(len(fresh), 'connection')}; send each customer its link URL below.",
            "info",
        )

    def _export_frame(self) -> pd.DataFrame:
        frame: pd.DataFrame = self._selected_rows().assign(
            company_id=self.company_id, company_name=self.company_name()
        )
        return frame

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

    @handler
    def _on_clear(self, _button: widgets.Button) -> None:
        self.table.selected = []

    # ------------------------------------------------------- unlink and delete (confirmed)
    @handler
    def _on_unlink(self, _button: widgets.Button) -> None:
        """Ask to unlink the selected Linked connections; the others are named as left alone
        (Codat unlinks only Linked ones, and refuses the rest)."""
        selected = self._selected_rows()
        linked = (selected["status"].astype("string") == "Linked").fillna(False)
        self._ask(
            "unlink",
            selected[linked],
            "Unlink {n}? Codat keeps their data and the customer can re-authorize them later.",
            _left_alone(selected[~linked]),
        )

    @handler
    def _on_delete(self, _button: widgets.Button) -> None:
        self._ask(
            "delete",
            self._selected_rows(),
            "Delete {n}? This is <b>irreversible</b>: the connections and their links are "
            "gone for good.",
        )

    def _ask(
        self, action: Action, targets: pd.DataFrame, question: str, left_alone: str = ""
    ) -> None:
        if targets.empty or self.company_id is None:
            problem = f"Nothing to {action}." if left_alone else "Select a connection first."
            self._say(problem + left_alone, "error")
            return
        pending = self.confirm_box.ask(action, self.company_id, targets, question, left_alone)
        self._say(f"Confirm or cancel: {action} {pending.count}.", "info")

    @handler
    def _on_cancel(self, _button: widgets.Button) -> None:
        pending = self.confirm_box.take()
        self._update_buttons()
        if pending is not None:
            self._say(
                f"Cancelled: did not {pending.action} {pending.count}; nothing changed.", "info"
            )

    @handler
    def _on_confirm(self, _button: widgets.Button) -> None:
        pending = self.confirm_box.take()
        self._update_buttons()
        if pending is None:  # a second click after the first one consumed the confirmation
            return
        actions: dict[Action, Callable[[str, str], object]] = {
            "unlink": self.client.connections.unlink,
            "delete": self.client.connections.delete,
        }
        function = actions[pending.action]
        done: list[str] = []
        failed: list[tuple[str, Exception]] = []
        for connection_id in pending.ids:
            try:
                function(pending.company_id, connection_id)
                done.append(connection_id)
            except (CodatError, ValueError, TypeError) as err:
                self.last_error = err
                failed.append((connection_id, err))
        platforms = dict(
            zip(self.connections["id"], self.connections["platform_name"], strict=True)
        )
        message = _outcome_message(pending, done, failed, platforms)
        if failed:
            self._refresh_connections()
            self._say(message, "error")
            return
        self._after_change(message)


def _created_message(conn: Connection) -> str:
    """What the status line says after a create (with the link URL to send, if pending)."""
    message = (
        f"Created {escape(conn.platform_name)} connection <code>{escape(conn.id)}</code> "
        f"({escape(conn.status)})."
    )
    if conn.status == "PendingAuth":
        message += f" Send the customer its link URL: {link_html(conn.link_url)}."
    return message


def _outcome_message(
    pending: Pending,
    done: list[str],
    failed: list[tuple[str, Exception]],
    platforms: dict[str, object],
) -> str:
    """What the status line says after a confirmed unlink or delete: what was done, and what
    failed with its error."""
    how_many = pending.count
    message = f"{_PAST[pending.action]} {how_many if not failed else f'{len(done)} of {how_many}'}"
    if done:
        message += ": " + ", ".join(
            f"{escape(str(platforms.get(i, '')))} <code>{escape(i)}</code>" for i in done
        )
    if pending.action == "delete" and done:
        message += " (irreversible)"
    message += "."
    if failed:
        problems = "; ".join(
            f"<code>{escape(i)}</code>: {describe_error(err)}" for i, err in failed
        )
        message += f" Failed: {problems}"
    return message + pending.left_alone


def _left_alone(rows: pd.DataFrame) -> str:
    """The selected connections an unlink skips, each with its status, and why (HTML)."""
    if rows.empty:
        return ""
    items = ", ".join(
        f"{escape(str(platform))} <code>{escape(str(cid))}</code> ({escape(str(status))})"
        for cid, platform, status in zip(
            rows["id"], rows["platform_name"], rows["status"], strict=True
        )
    )
    return (
        f' <span class="codat-nb-left-alone">Left alone: {items}: only Linked connections '
        "can be unlinked (Codat refuses the others).</span>"
    )
