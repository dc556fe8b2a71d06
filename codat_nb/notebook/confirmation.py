"""ConfirmBox: one question before an action that cannot be taken back (unlink, delete).

The box remembers what it asked about (``Pending``: the action, the company and the connection
ids as they were when asked), so a confirmation acts on exactly the connections the user saw
listed, even if the selection or the company changes in between (those cancel it anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Literal

import ipywidgets as widgets
import pandas as pd

from codat_nb.notebook.controls import make_button, plural, with_class

#: The actions that ask first.
Action = Literal["unlink", "delete"]


@dataclass(frozen=True)
class Pending:
    """An action waiting for its confirmation."""

    action: Action
    company_id: str
    ids: tuple[str, ...]
    #: What the outcome must repeat (HTML): the selected connections left alone, and why.
    left_alone: str = ""

    @property
    def count(self) -> str:
        """``3 connections``."""
        return plural(len(self.ids), "connection")


class ConfirmBox(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no types
    """A question, a list of the connections it is about, Confirm and Cancel; hidden while
    nothing waits for confirmation."""

    def __init__(self) -> None:
        self.message = with_class(widgets.HTML(), "confirm-message")
        self.confirm_button = make_button("Confirm", "confirm", button_style="danger")
        self.cancel_button = make_button("Cancel", "cancel")
        self.pending: Pending | None = None
        super().__init__(
            [self.message, widgets.HBox([self.confirm_button, self.cancel_button])],
            layout={"display": "none"},
        )
        with_class(self, "confirm-box")

    def ask(
        self,
        action: Action,
        company_id: str,
        targets: pd.DataFrame,
        question: str,
        left_alone: str = "",
    ) -> Pending:
        """Ask ``question`` (``{n}`` stands for the count) about ``targets``, rows of a
        connections frame, listing each, then ``left_alone`` (HTML: selected connections the
        action skips, and why); returns what now waits for confirmation."""
        self.pending = Pending(action, company_id, tuple(targets["id"]), left_alone)
        items = "".join(
            f"<li>{escape(str(platform))} <code>{escape(cid)}</code></li>"
            for cid, platform in zip(targets["id"], targets["platform_name"], strict=True)
        )
        self.message.value = (
            f'<div style="font-size:13px">{question.format(n=self.pending.count)}'
            f'<ul class="codat-nb-confirm-list" style="margin:2px 0">{items}</ul>'
            f"{left_alone}</div>"
        )
        self.layout.display = "flex"
        return self.pending

    def take(self) -> Pending | None:
        """What waited for confirmation (None: nothing), dismissing the question."""
        pending = self.pending
        self.dismiss()
        return pending

    def dismiss(self) -> None:
        """Hide the question; nothing waits for confirmation any more."""
        self.pending = None
        self.layout.display = "none"
        self.message.value = ""
