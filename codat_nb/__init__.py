"""codat_nb: a Jupyter-friendly toolkit for Codat's Sync for Expenses (v1) Connections API.

Start with ``client = codat_nb.connect()``; see ``client.connections`` and ``client.companies``.
"""

__version__ = "0.1.0"

from codat_nb.client import CodatClient, connect  # noqa: E402
from codat_nb.errors import (  # noqa: E402
    AuthenticationError,
    BadRequestError,
    CodatConnectionError,
    CodatError,
    CodatTimeoutError,
    CodatTransportError,
    IncompleteListingError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from codat_nb.models import CodatWarning, Company, Connection, DataConnectionError  # noqa: E402
from codat_nb.transport import RateLimit, RetryPolicy  # noqa: E402

__all__ = [
    "AuthenticationError",
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
    "RateLimit",
    "RateLimitError",
    "RetryPolicy",
    "Sandbox",
    "ServerError",
    "connect",
]


def __getattr__(name: str):
    """Sandbox and ConnectionManager load on first use: werkzeug and ipywidgets stay optional."""
    if name == "Sandbox":
        from codat_nb.sandbox import Sandbox

        return Sandbox
    if name == "ConnectionManager":
        from codat_nb.widgets import ConnectionManager

        return ConnectionManager
    raise AttributeError(f"module 'codat_nb' has no attribute {name!r}")
