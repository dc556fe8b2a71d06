"""codat_nb: a Jupyter-friendly toolkit for Codat's Sync for Expenses (v1) Connections API.

Start with ``client = codat_nb.connect()``; see ``client.connections`` and ``client.companies``.
"""

from typing import Any

from codat_nb._version import __version__
from codat_nb.client import CodatClient, connect
from codat_nb.exceptions import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    CodatConnectionError,
    CodatError,
    CodatTimeoutError,
    CodatTransportError,
    CodatWarning,
    IncompleteListingError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
)
from codat_nb.headers import RateLimit
from codat_nb.notebook.display import register_html_cards
from codat_nb.retry import RetryPolicy
from codat_nb.wire.models import Company, Connection, DataConnectionError

__all__ = [
    "AuthenticationError",
    "ClientClosedError",
    "BadRequestError",
    "CodatClient",
    "CodatConnectionError",
    "CodatError",
    "CodatTimeoutError",
    "CodatTransportError",
    "CodatWarning",
    "Company",
    "Connection",
    "ConnectionManager",
    "DataConnectionError",
    "IncompleteListingError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PortfolioView",
    "QuotaExceededError",
    "RateLimit",
    "RateLimitError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Sandbox",
    "ServerError",
    "__version__",
    "connect",
]

register_html_cards()


def __getattr__(name: str) -> Any:
    """Sandbox and the widgets load on first use: werkzeug and ipywidgets stay optional."""
    if name == "Sandbox":
        from codat_nb.sandbox import Sandbox

        return Sandbox
    if name == "ConnectionManager":
        from codat_nb.notebook.widgets import ConnectionManager

        return ConnectionManager
    if name == "PortfolioView":
        from codat_nb.notebook.portfolio_view import PortfolioView

        return PortfolioView
    raise AttributeError(f"module 'codat_nb' has no attribute {name!r}")
