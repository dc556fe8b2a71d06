"""Protocol facts the client and the sandbox must agree on, stated once: paging bounds, the
query length limit, the id shape and the Authorization header."""

from __future__ import annotations

import base64
import re

#: The ``pageSize`` parameter's range (Codat's paging guide; ``PagingInfo`` says 2,000: see
#: docs/fidelity.md).
MAX_PAGE_SIZE = 5000
#: What the ``PagingInfo`` schema says instead; a client must survive a server that holds to it.
SCHEMA_MAX_PAGE_SIZE = 2000
DEFAULT_PAGE_SIZE = 100
#: ``page`` is an int32 in the document.
MAX_PAGE = 2**31 - 1
MAX_QUERY_LENGTH = 2048
#: The only id shape Codat sends (8-4-4-4-12 hex digits). ``uuid.UUID`` alone also takes URNs,
#: braces, stray hyphens and non-ASCII digits.
_HEX = "[0-9a-fA-F]"
UUID_TEXT = re.compile(f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")


def basic_auth_header(api_key: str) -> str:
    """Codat's header: ``Basic`` + base64 of the raw key (the portal shows both forms)."""
    return "Basic " + base64.b64encode(api_key.encode("utf-8")).decode("ascii")
