"""PortfolioView's live part: connections with a webhook event in the last hour or day, and when
the last event arrived.

A history that stores Codat's webhook events (``codat_nb.history.History`` with a receiver
writing to it: ``codat-nb listen``) knows within seconds which connections changed; snapshots
know a day later. ``EventFilter`` is the dropdown ("Changed (events)": last hour, last day) and
the line under the summary; it stays hidden for a history without ``events()``.
"""

from __future__ import annotations

from html import escape
from typing import Any, Protocol, TypeGuard

import ipywidgets as widgets
import pandas as pd

from codat_nb.notebook.controls import with_class

#: The choices: label -> how far back from now (the portfolio's server time) events count.
EVENT_WINDOWS = {"Any time": None, "Last hour": "1h", "Last day": "1D"}


class EventHistory(Protocol):
    """What the filter asks of a history (``codat_nb.history.History`` has it)."""

    def events(self, since: pd.Timestamp) -> pd.DataFrame: ...

    def last_event_at(self) -> pd.Timestamp | None: ...


def keeps_events(history: object) -> TypeGuard[EventHistory]:
    return callable(getattr(history, "events", None)) and callable(
        getattr(history, "last_event_at", None)
    )


def describe_last_event(at: pd.Timestamp | None, now: pd.Timestamp) -> str:
    """ "Last webhook event received 2026-11-01 09:05:00 UTC (55 min before the listing)"."""
    if at is None:
        return "No webhook event received yet (codat-nb listen stores them)."
    when = at.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC")
    minutes = int((now - at).total_seconds() // 60)
    if minutes < 0:
        return f"Last webhook event received {when} (after the listing: reload to see it)."
    age = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"
    return f"Last webhook event received {when} ({age} before the listing)."


class EventFilter:
    """The "Changed (events)" dropdown and the last-event line for one PortfolioView."""

    def __init__(self, history: object) -> None:
        self.history = history if keeps_events(history) else None
        shown = {"display": "flex" if self.history is not None else "none"}
        self.dropdown = with_class(
            widgets.Dropdown(options=list(EVENT_WINDOWS), description="Event in", layout=shown),
            "portfolio-events",
        )
        self.line = with_class(widgets.HTML(layout=shown), "portfolio-last-event")
        self._ids: dict[str, set[str]] = {}  # choice -> connection ids (per load)

    def reload(self, now: pd.Timestamp) -> None:
        """A new listing: ask the history again, and say when the last event arrived."""
        self._ids.clear()
        if self.history is not None:
            try:
                self._say(describe_last_event(self.history.last_event_at(), now))
            except Exception as error:  # any history's failure: said, never a broken reload
                self._cannot_read(error)

    def keep(self, frame: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
        """The rows of ``frame`` with an event in the chosen window (all rows for "Any time");
        none while the history cannot be read (the line says why)."""
        window = EVENT_WINDOWS[self.dropdown.value]
        if window is None or self.history is None:
            return frame
        if self.dropdown.value not in self._ids:
            try:
                events = self.history.events(since=now - pd.Timedelta(window))
            except Exception as error:  # as in reload: asked again at the next choice
                self._cannot_read(error)
                return frame.iloc[:0]
            self._ids[self.dropdown.value] = set(events["connection_id"].dropna().astype(str))
        kept: pd.DataFrame = frame[frame["id"].isin(self._ids[self.dropdown.value])]
        return kept

    def _say(self, text: str) -> None:
        self.line.value = f'<div style="font-size:12px;color:#555">{escape(text)}</div>'

    def _cannot_read(self, error: Exception) -> None:
        self._say(f"Cannot read the webhook events: {type(error).__name__}: {error}")

    def observe(self, handler: Any) -> None:
        self.dropdown.observe(handler, names="value")
