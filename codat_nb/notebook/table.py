"""DataTable: a table whose rows you click (or pick with the keyboard) to select, a page at a time.

ipywidgets has no table with selectable rows. This is a small anywidget: the front end
(``table.js``, ``table.css``, shipped in the package and sent to the browser through the widget's
own model, so nothing is fetched from a CDN) draws one page of pre-escaped HTML cells, and the
kernel holds every row's id and renders the cells of the page asked for, when asked. A
portfolio of 10,000 connections thus costs the browser one page, and the kernel one page of
formatting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

HERE = Path(__file__).resolve().parent
#: ``render(start, stop)``: rows ``start:stop`` as lists of escaped HTML cells.
Render = Callable[[int, int], list[list[str]]]


class DataTable(anywidget.AnyWidget):
    """Rows of HTML cells with ids; ``selected`` (ids, in click order) and ``active`` (the id
    last clicked, while selected) follow the user's clicks and keys.

    ``multiple`` lets clicks toggle rows in and out of the selection; without it a click makes
    that row the only one selected. ``set_rows(ids, render)`` gives every row's id and a
    function that renders rows ``start:stop`` as lists of escaped HTML cells (``codat_nb.
    notebook.display`` helpers escape); the table shows ``page_size`` rows at a time.
    """

    _esm = HERE / "table.js"
    _css = HERE / "table.css"

    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)  # the current page only
    total = traitlets.Int(0).tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(25).tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    active = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    multiple = traitlets.Bool(True).tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("no rows").tag(sync=True)

    def __init__(self, columns: Sequence[str], *, page_size: int = 25, **kwargs: Any) -> None:
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, got {page_size!r}")
        super().__init__(columns=list(columns), page_size=page_size, **kwargs)
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._render: Render = lambda start, stop: []
        self.observe(self._draw_page, names=["page", "page_size"])
        self.observe(self._keep_active_selected, names="selected")

    def __repr__(self) -> str:
        """Deterministic (anywidget's default shows a memory address)."""
        return f"DataTable(rows={self.total}, selected={len(self.selected)})"

    @property
    def ids(self) -> list[str]:
        """Every row's id, in order (not only the page on screen)."""
        return list(self._ids)

    def set_rows(self, ids: Sequence[str], render: Render, *, keep_selection: bool = True) -> None:
        """Replace every row. The selection keeps the ids that are still there (or is cleared
        when ``keep_selection`` is false), and the page stays if it still exists."""
        self._ids = [str(i) for i in ids]
        self._index = {row_id: i for i, row_id in enumerate(self._ids)}
        self._render = render
        with self.hold_trait_notifications():
            self.total = len(self._ids)
            last_page = max(0, (self.total - 1) // self.page_size)
            if self.page > last_page:
                self.page = last_page  # draws through the observer
            kept = [i for i in self.selected if i in self._index] if keep_selection else []
            if kept != self.selected:
                self.selected = kept
            self._draw_page()

    def select(self, ids: Sequence[str]) -> None:
        """Select these rows (those present), show the page of the first, make it active."""
        kept = [i for i in ids if i in self._index]
        with self.hold_trait_notifications():
            self.selected = kept
            self.active = kept[0] if kept else None
            if kept:
                self.page = self._index[kept[0]] // self.page_size
                self._draw_page()

    def _draw_page(self, _change: Mapping[str, Any] | None = None) -> None:
        start = self.page * self.page_size
        stop = min(start + self.page_size, len(self._ids))
        cells = self._render(start, stop)
        self.rows = [
            {"id": row_id, "cells": row}
            for row_id, row in zip(self._ids[start:stop], cells, strict=True)
        ]

    def _keep_active_selected(self, change: Mapping[str, Any]) -> None:
        if self.active not in change["new"]:
            self.active = change["new"][-1] if change["new"] else None
