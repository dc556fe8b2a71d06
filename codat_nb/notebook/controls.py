"""What every panel builds its controls with: a CSS class per control (tests and browsers find
it by that), buttons sized to their label, the "All" choice of a filter and how a filter's
options are replaced, what a company search box matches, the status line's look, and a guard
that tells a panel's own changes to its controls from the user's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from html import escape
from typing import Any, Final, Literal, Protocol, TypeVar

import ipywidgets as widgets
import pandas as pd

#: The filter choice that keeps every row.
ALL: Final = "All"
#: A status line's kinds and their text colours.
Kind = Literal["ok", "error", "info"]
_KIND_COLOURS: Final[dict[Kind, str]] = {"ok": "#1b5e20", "error": "#b71c1c", "info": "#333"}


class _Styled(Protocol):
    def add_class(self, name: str, /) -> Any: ...


W = TypeVar("W", bound=_Styled)


def with_class(widget: W, name: str) -> W:
    """``widget`` with the CSS class ``codat-nb-<name>``."""
    widget.add_class(f"codat-nb-{name}")
    return widget


def make_button(description: str, css: str, **options: Any) -> widgets.Button:
    """A button as wide as its label, with the CSS class ``codat-nb-<css>``."""
    made = with_class(widgets.Button(description=description, **options), css)
    made.layout.width = "auto"
    return made


def status_html(html: str, kind: Kind) -> str:
    """A line of status text, coloured by ``kind`` (its CSS class says the kind too)."""
    return (
        f'<div class="codat-nb-status-{kind}" style="color:{_KIND_COLOURS[kind]};font-size:13px">'
        f"{html}</div>"
    )


def describe_error(err: Exception) -> str:
    """An error for a status line: its type and message (with Codat's correlationId)."""
    return f"{type(err).__name__}: {escape(str(err), quote=False)}"


def plural(count: int, noun: str) -> str:
    """``1 connection``, ``2 connections``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def sentence(text: str) -> str:
    """``text`` ending with one full stop: a company named "Acme Inc." ends it already."""
    return text if text.endswith((".", "!", "?")) else text + "."


def companies_text(count: int) -> str:
    """``1 company``, ``1,280 companies``."""
    return f"{count:,} compan{'y' if count == 1 else 'ies'}"


class OwnChanges:
    """Held while a panel changes its own controls, so its observers can ignore the echoes."""

    def __init__(self) -> None:
        self._depth = 0

    @property
    def active(self) -> bool:
        return self._depth > 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1


def matching_companies(frame: pd.DataFrame, search: str) -> pd.DataFrame:
    """The rows of ``frame`` whose company name or id contains ``search`` (trimmed, any case):
    what every company search box keeps. An empty search keeps every row."""
    term = search.strip().casefold()
    if not term:
        return frame
    names = frame["company_name"].astype("string").str.casefold()
    ids = frame["company_id"].astype("string").str.casefold()
    found = names.str.contains(term, regex=False) | ids.str.contains(term, regex=False)
    kept: pd.DataFrame = frame[found.fillna(False)]
    return kept


def replace_options(dropdown: widgets.Dropdown, options: Sequence[str]) -> None:
    """Offer ``options`` in ``dropdown``, keeping its value when still offered (else the first
    option). Call it with the panel's ``OwnChanges`` held: the value changes on the way."""
    if list(dropdown.options) == list(options):
        return
    current = dropdown.value
    dropdown.options = list(options)
    dropdown.value = current if current in options else options[0]
