"""Small helpers every panel builds its controls with: a CSS class per control (tests and
browsers find it by that) and buttons sized to their label."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets


def with_class(widget: widgets.Widget, name: str) -> Any:
    widget.add_class(f"codat-nb-{name}")
    return widget


def make_button(description: str, css: str, **options: Any) -> widgets.Button:
    made = with_class(widgets.Button(description=description, **options), css)
    made.layout.width = "auto"
    return made
