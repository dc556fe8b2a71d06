"""codat_nb: a Jupyter-friendly toolkit for Codat's Sync for Expenses (v1) Connections API."""

__version__ = "0.1.0"
