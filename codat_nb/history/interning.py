"""Text stored once, so a ``state`` row is mostly small integers.

Values that repeat across connections (company and platform names, integration keys and ids,
error messages) are ids into the ``text`` table. A link URL embeds its company's and its
connection's ids (``.../companies/<id>/connections/<id>/start``): with those replaced by
placeholders, every connection of an API shares one template. A URL that would not come back
exactly from its template is kept as it is (``state.link_url``). Readers expand templates in
SQL with ``replace()``, which replaces as ``str.replace`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from codat_nb.history.backend import Database
from codat_nb.history.encoding import JSON_COLUMNS, sql_values

INTERNED = (
    "company_name",
    "platform_name",
    "integration_key",
    "source_type",
    "integration_id",
    "latest_error",
)
#: ``state``'s columns after ``id``, ``connection`` and ``fingerprint``, as stored.
STORED_STATE_COLUMNS = (
    *INTERNED,
    "created",
    "error_count",
    "link",  # text id of the link URL's template
    "link_url",  # the URL itself, when it has no exact template
    "source_id",
    *JSON_COLUMNS,
)
COMPANY_PLACEHOLDER, CONNECTION_PLACEHOLDER = "<company_id>", "<connection_id>"


def expand(template: str, company_id: str, connection_id: str) -> str:
    return template.replace(COMPANY_PLACEHOLDER, company_id).replace(
        CONNECTION_PLACEHOLDER, connection_id
    )


def link_template(url: str, company_id: str, connection_id: str) -> str | None:
    """``url`` with the ids as placeholders, or None if that would not give ``url`` back."""
    template = url.replace(connection_id, CONNECTION_PLACEHOLDER).replace(
        company_id, COMPANY_PLACEHOLDER
    )
    return template if expand(template, company_id, connection_id) == url else None


def _templates(
    urls: list[str | None], company_ids: list[str], connection_ids: list[str]
) -> list[str | None]:
    """Each URL's template. Most share one, so the previous row's is tried first: if it expands
    to the URL, it is that URL's template by construction (half the work of making one)."""
    templates: list[str | None] = []
    last = None
    for url, company_id, connection_id in zip(urls, company_ids, connection_ids, strict=True):
        if url is not None and (last is None or expand(last, company_id, connection_id) != url):
            last = link_template(url, company_id, connection_id)
        templates.append(None if url is None else last)
    return templates


def text_ids(db: Database, values: pd.Series | Sequence[str | None]) -> list[int | None]:
    """The ``text`` id of each value (a missing one is None); values not stored yet are added.
    A Series is factorized as it is (a category column by its codes)."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, found = pd.factorize(series)
    uniques: list[Any] = list(found)
    known: dict[str, int] = dict(db.matching("text", "value", uniques, ("id",)))
    new = [value for value in uniques if value not in known]
    first = db.value("SELECT coalesce(max(id), 0) + 1 FROM text")
    added = [(first + n, value) for n, value in enumerate(new)]
    db.insert("text", ("id", "value"), added)
    known.update((value, key) for key, value in added)
    ids = np.array([known[value] for value in uniques] + [None], dtype=object)[codes]
    keys: list[int | None] = ids.tolist()  # code -1 (a missing value) picks the None at the end
    return keys


def state_values(db: Database, rows: pd.DataFrame) -> dict[str, list[Any]]:
    """``STORED_STATE_COLUMNS`` for ``rows`` (stored values with ``company_id`` and ``id``)."""
    out = {column: text_ids(db, rows[column]) for column in INTERNED}
    urls = sql_values(rows["link_url"])
    templates = _templates(urls, rows["company_id"].tolist(), rows["id"].tolist())
    out["link"] = text_ids(db, templates)
    out["link_url"] = [url if t is None else None for url, t in zip(urls, templates, strict=True)]
    for column in ("created", "error_count", "source_id", *JSON_COLUMNS):
        out[column] = sql_values(rows[column])
    return {column: out[column] for column in STORED_STATE_COLUMNS}
