"""ConnectionTable: the table both panels show connections in, one row per connection.

The manager (a company's connections, several selectable) and the portfolio view (every
company's, a click opens one) differ only in their columns, selection mode and empty text;
the rows come from a connections frame either way, keyed by connection id and rendered a page
at a time by ``display.table_cells``.
"""

from __future__ import annotations

import pandas as pd

from codat_nb.notebook.controls import with_class
from codat_nb.notebook.display import table_cells
from codat_nb.notebook.table import DataTable

#: Table columns as (frame column, header), e.g. ``display.TABLE_COLUMNS``.
Columns = tuple[tuple[str, str], ...]


class ConnectionTable(DataTable):
    """A ``DataTable`` of a connections frame's ``columns``, with the CSS class
    ``codat-nb-<css>``; ``show(frame, now)`` puts a frame's rows in it."""

    def __init__(
        self, columns: Columns, css: str, *, page_size: int, multiple: bool, empty_text: str
    ) -> None:
        super().__init__(
            [header for _, header in columns],
            page_size=page_size,
            multiple=multiple,
            empty_text=empty_text,
        )
        self.frame_columns = columns
        with_class(self, css)

    def show(self, frame: pd.DataFrame, now: pd.Timestamp | None, caption: str = "") -> None:
        """Show ``frame``'s rows under ``caption``, last syncs as ages at ``now`` (the server's
        time; without it, as times). The selection keeps the rows still there."""

        def render(start: int, stop: int) -> list[list[str]]:
            return table_cells(frame.iloc[start:stop], self.frame_columns, now)

        self.caption = caption
        self.set_rows(list(frame["id"]), render)
