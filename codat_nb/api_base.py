"""What the user-facing API objects (``client.connections``, ``client.companies``) share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from codat_nb.arguments import ListingArgs
from codat_nb.wire.schema import Schema

if TYPE_CHECKING:
    from codat_nb.listing import Listings
    from codat_nb.transport import Transport


class API:
    """An API object over the client's transport, its listings (``client.unfinished``) and
    its ``max_concurrency``; only documented methods are public."""

    #: What this API lists.
    _schema: ClassVar[Schema]

    def __init__(self, transport: Transport, listings: Listings, max_concurrency: int) -> None:
        self._transport = transport
        self._listings = listings
        self._max_concurrency = max_concurrency

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._transport.base_url}>"

    def _args(self, *given: Any) -> ListingArgs:
        """A listing's arguments as the user gave them (``ListingArgs.check``'s order after
        ``max_concurrency``), checked before anything is sent."""
        return ListingArgs.check(self._schema, self._max_concurrency, *given)
