"""ManagerLayout: every control of the ConnectionManager, built and arranged, and no behaviour.

Each control has a stable attribute name and CSS class (``codat-nb-...``): tests drive the
manager through them in Python, browsers find them in the page. What the controls do is wired
by ``ConnectionBrowser`` (picking, filtering, selecting) and ``ConnectionManager`` (the
actions).
"""

from __future__ import annotations

import ipywidgets as widgets

from codat_nb.notebook.confirmation import ConfirmBox
from codat_nb.notebook.connection_table import ConnectionTable
from codat_nb.notebook.controls import ALL, make_button, with_class
from codat_nb.notebook.display import TABLE_COLUMNS
from codat_nb.platforms import PARTNER_EXPENSE_KEY, PLATFORMS
from codat_nb.wire.schema import CONNECTION_STATUSES, SOURCE_TYPES


class ManagerLayout(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no types
    """The manager's controls, from the company search at the top to the connection card at
    the bottom; ``page_size`` table rows show at a time."""

    def __init__(self, page_size: int) -> None:
        super().__init__()
        self._build_company_picker()
        self._build_filters()
        self.table = ConnectionTable(
            TABLE_COLUMNS, "table", page_size=page_size, multiple=True, empty_text="no connections"
        )
        self._build_selection_actions()
        self._build_creation()
        self.confirm_box = ConfirmBox()
        self.confirm_message = self.confirm_box.message
        self.confirm_button = self.confirm_box.confirm_button
        self.cancel_button = self.confirm_box.cancel_button
        self._build_outputs()
        self.children = [
            widgets.HBox([self.company_search, self.refresh_button]),
            self.company_select,
            widgets.HBox([self.status_filter, self.source_filter]),
            self.table,
            widgets.HBox([self.selection_info, *self.selection_buttons]),
            self.confirm_box,
            self.status_line,
            self.links,
            self.export_text,
            widgets.HBox([self.platform_picker, self.platform_key_text, self.create_button]),
            widgets.HBox([self.partner_button]),
            self.details,
        ]
        self.add_class("codat-nb-connection-manager")

    @property
    def action_buttons(self) -> tuple[widgets.Button, ...]:
        """Every button (all disabled while a handler runs)."""
        return (
            self.refresh_button,
            self.create_button,
            self.partner_button,
            *self.selection_buttons,
            self.confirm_button,
            self.cancel_button,
        )

    @property
    def selection_buttons(self) -> tuple[widgets.Button, ...]:
        """The buttons that act on the selected rows, in the order they show."""
        return (
            self.relink_button,
            self.unlink_button,
            self.delete_button,
            self.export_csv_button,
            self.export_text_button,
            self.clear_button,
        )

    def _build_company_picker(self) -> None:
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

    def _build_filters(self) -> None:
        self.status_filter = with_class(
            widgets.Dropdown(options=[ALL, *CONNECTION_STATUSES], value=ALL, description="Status"),
            "status-filter",
        )
        self.source_filter = with_class(
            widgets.Dropdown(options=[ALL, *SOURCE_TYPES], value=ALL, description="Source type"),
            "source-filter",
        )

    def _build_selection_actions(self) -> None:
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

    def _build_creation(self) -> None:
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

    def _build_outputs(self) -> None:
        self.links = with_class(widgets.HTML(), "links")
        self.export_text = with_class(
            widgets.Textarea(layout={"width": "900px", "height": "120px", "display": "none"}),
            "export-text-area",
        )
        self.status_line = with_class(widgets.HTML(), "status-line")
        self.details = with_class(widgets.HTML(), "details")
