"""ScrollAnchor: a point on the page the kernel can scroll the browser to.

A panel that opens below the fold (the company a portfolio row opens, on a laptop screen) must
come to the user. ipywidgets cannot scroll the page, so this tiny anywidget does: it draws
nothing, and each ``reveal()`` scrolls the page until it sits at the top of the window, once
the browser has laid out what the kernel drew before asking. It then marks itself
(``data-revealed``, the count), a signal a browser test can wait for.
"""

from __future__ import annotations

import anywidget
import traitlets

_ESM = """
function render({ model, el }) {
  el.classList.add("codat-nb-scroll-anchor");
  model.on("change:reveals", () => {
    requestAnimationFrame(() => {
      el.scrollIntoView({ block: "start", behavior: "instant" });
      el.dataset.revealed = String(model.get("reveals"));
    });
  });
}
export default { render };
"""


class ScrollAnchor(anywidget.AnyWidget):
    """Place it where the page should scroll to; ``reveal()`` scrolls there."""

    _esm = _ESM
    reveals = traitlets.Int(0).tag(sync=True)  # each increment is one scroll

    def reveal(self) -> None:
        """Scroll the page so this point is at the top of the window."""
        self.reveals += 1

    def __repr__(self) -> str:
        """Deterministic (anywidget's default shows a memory address)."""
        return "ScrollAnchor()"
