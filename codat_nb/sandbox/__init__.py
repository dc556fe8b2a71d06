"""A local, stateful Codat Sync for Expenses sandbox: a real HTTP server in a background thread.

Modelled on moto: state and rules in ``store``, HTTP in ``app``, trouble in ``faults`` (its
knobs declared once, in ``knobs``), the threaded server in ``server``, and ``Sandbox``, which
puts them together, in ``sandbox``.
"""

from codat_nb.sandbox.sandbox import DEFAULT_API_KEY, Sandbox

__all__ = ["DEFAULT_API_KEY", "Sandbox"]
