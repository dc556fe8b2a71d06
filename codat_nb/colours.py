"""One colour per connection status, shared by the widgets' badges and the analysis charts.

A leaf (it imports nothing of the package), so the notebook layer and ``analysis`` can both use
it without one importing the other.
"""

from __future__ import annotations

from typing import Final

STATUS_COLOURS: Final[dict[str, str]] = {
    "Linked": "#2e7d32",
    "PendingAuth": "#ef8f00",
    "Unlinked": "#757575",
    "Deauthorized": "#c62828",
}
#: A status this version does not know still gets a colour of its own.
UNKNOWN_STATUS_COLOUR: Final = "#6a1b9a"


def status_colour(status: str) -> str:
    """The colour of ``status`` (unknown statuses share one, so they stand out)."""
    return STATUS_COLOURS.get(status, UNKNOWN_STATUS_COLOUR)
