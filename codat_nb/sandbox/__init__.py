"""A local, stateful Codat Sync for Expenses sandbox: a real HTTP server in a background thread.

Modelled on moto: operations and rules in ``store`` (over ``records``, the one place records
change, which tells ``changes``' listeners), HTTP in ``routes``, ``app`` and ``handlers``,
trouble in ``faults`` (its knobs declared once, in ``knobs``), Codat's webhooks in
``webhooks`` (a listener of the store), the threaded server in ``server``, and ``Sandbox``,
which puts them together, in ``sandbox``. docs/architecture.md
lists every module.
"""

from codat_nb.sandbox.sandbox import DEFAULT_API_KEY, Sandbox

__all__ = ["DEFAULT_API_KEY", "Sandbox"]
