"""A history's tables, recognised by their mark and upgraded by version, on either database.

Opening refuses, with a message naming the history and the problem, anything that is not a
codat-nb history this code can read: another application's database, or one written by a
newer codat-nb. An empty database (a new or empty SQLite file, a PostgreSQL database or schema
without tables) becomes a history; an older one is upgraded in one transaction, under the
write lock, by the first user who may write it.

Tables (times are integer microseconds since the Unix epoch, UTC; JSON columns are text):

* ``snapshot``: one row per recorded listing, with its counts, its changes since the previous
  snapshot and its ``source`` (where it was listed from, NULL if not said; since version 2).
* ``company``, ``connection``: every company id and (company, connection id) ever seen.
* ``state``: a connection's listed values (all columns but its ids, status and ``last_sync``),
  stored once per change and shared by every snapshot in which they did not change;
  ``fingerprint`` is a 64-bit hash of them that decides whether they changed. Repeated text is
  an id into ``text``, and ``link`` the id of the link URL's template (``interning``).
* ``text``: every repeated text value once (since version 2).
* ``member``: which connections a snapshot holds: state, status and ``last_sync``, the values
  that move daily. About 25 bytes per connection per snapshot in SQLite.
* ``status``: status names by code (documented ones first; a new one Codat sends is added).
* ``tally``: connections per status, platform and source type per snapshot, for trends.
* ``change``: what changed between a snapshot and the one before it (``kind`` is a position in
  ``queries.CHANGE_KINDS``), found once when the snapshot is recorded (since version 3).
* ``event``: Codat's webhook events as the receiver stored them, once per ``webhook-id`` and
  event id, with the company, connection and status they are about (``event_log``; since
  version 4). ``id`` is the order they were stored in.

SQLite marks a history with ``PRAGMA application_id`` and ``user_version``; PostgreSQL with the
one-row table ``codat_nb_history`` (``application_id``, ``version``). In PostgreSQL integers
are ``BIGINT``, text sorts byte by byte (``COLLATE "C"``, as SQLite sorts) and the
``REFERENCES`` are left out: SQLite does not enforce them either, and keys are assigned by the
one writer holding the lock.
"""

from __future__ import annotations

import pandas as pd

from codat_nb.history import changes
from codat_nb.history.backend import Database, HistoryError, Identity
from codat_nb.history.encoding import STATE_COLUMNS, without_one_time_password
from codat_nb.history.interning import STORED_STATE_COLUMNS, state_values
from codat_nb.wire.schema import CONNECTION_STATUSES

#: The schema version this code writes.
SCHEMA_VERSION = 4

_SCHEMA_V1 = """
CREATE TABLE snapshot (
    id {key},
    taken_at {int} NOT NULL UNIQUE,
    connections {int} NOT NULL,
    companies {int} NOT NULL,
    appeared {int} NOT NULL,
    disappeared {int} NOT NULL,
    status_changed {int} NOT NULL,
    stalled {int} NOT NULL
);
CREATE TABLE company (
    id {key},
    company_id {text} NOT NULL UNIQUE
);
CREATE TABLE connection (
    id {key},
    company {int} NOT NULL REFERENCES company (id),
    connection_id {text} NOT NULL,
    UNIQUE (company, connection_id)
);
CREATE TABLE status (
    id {key},
    name {text} NOT NULL UNIQUE
);
CREATE TABLE state (
    id {key},
    connection {int} NOT NULL REFERENCES connection (id),
    fingerprint {int} NOT NULL,
    company_name {text},
    platform_name {text},
    integration_key {text},
    source_type {text},
    created {int},
    error_count {int} NOT NULL,
    latest_error {text},
    link_url {text},
    integration_id {text},
    source_id {text},
    data_connection_errors {text},
    connection_info {text}
);
CREATE TABLE member (
    snapshot {int} NOT NULL REFERENCES snapshot (id),
    connection {int} NOT NULL REFERENCES connection (id),
    state {int} NOT NULL REFERENCES state (id),
    status {int} NOT NULL REFERENCES status (id),
    last_sync {int},
    PRIMARY KEY (snapshot, connection)
){without_rowid};
CREATE TABLE tally (
    snapshot {int} NOT NULL REFERENCES snapshot (id),
    status {text} NOT NULL,
    platform_name {text},
    integration_key {text},
    source_type {text},
    connections {int} NOT NULL
);
CREATE INDEX tally_snapshot ON tally (snapshot);
"""


def _create_v1(db: Database) -> None:
    for statement in filter(str.strip, _SCHEMA_V1.split(";")):
        db.execute(db.dialect.ddl(statement))
    db.insert("status", ("id", "name"), list(enumerate(CONNECTION_STATUSES)))


_STATE_V2 = """
CREATE TABLE state_v2 (
    id {key},
    connection {int} NOT NULL REFERENCES connection (id),
    fingerprint {int} NOT NULL,
    company_name {int} REFERENCES text (id),
    platform_name {int} REFERENCES text (id),
    integration_key {int} REFERENCES text (id),
    source_type {int} REFERENCES text (id),
    integration_id {int} REFERENCES text (id),
    latest_error {int} REFERENCES text (id),
    created {int},
    error_count {int} NOT NULL,
    link {int} REFERENCES text (id),
    link_url {text},
    source_id {text},
    data_connection_errors {text},
    connection_info {text}
)
"""


def _upgrade_to_v2(db: Database) -> None:
    """Version 2: each snapshot says where it was listed from, so a daily job that lost its
    credentials (and fell back to the embedded sandbox) cannot mix two portfolios in one file;
    and a state's repeated text is stored once (``interning``): rows about a third the size."""
    db.execute(db.dialect.ddl("ALTER TABLE snapshot ADD COLUMN source {text}"))
    db.execute(db.dialect.ddl("CREATE TABLE text (id {key}, value {text} NOT NULL UNIQUE)"))
    db.execute(db.dialect.ddl(_STATE_V2))
    rows = db.rows(
        f"SELECT s.id, s.connection, s.fingerprint, co.company_id, c.connection_id, "
        f"{', '.join(f's.{column}' for column in STATE_COLUMNS)} FROM state AS s "
        "JOIN connection AS c ON c.id = s.connection JOIN company AS co ON co.id = c.company"
    )
    columns = ["key", "connection", "fingerprint", "company_id", "id", *STATE_COLUMNS]
    old = pd.DataFrame(rows, columns=columns, dtype=object)
    # Version 1 kept one-time passwords in link URLs: useless later, and a credential.
    old["link_url"] = [without_one_time_password(url) for url in old["link_url"]]
    new = state_values(db, old)
    keys = [old[c].tolist() for c in ("key", "connection", "fingerprint")]
    names = ("id", "connection", "fingerprint", *STORED_STATE_COLUMNS)
    db.insert("state_v2", names, zip(*keys, *new.values(), strict=True))
    # The order SQLite documents for changing a table: new one, copy, drop old, rename.
    db.execute("DROP TABLE state")
    db.execute("ALTER TABLE state_v2 RENAME TO state")


_CHANGE_V3 = """
CREATE TABLE change (
    snapshot {int} NOT NULL REFERENCES snapshot (id),
    kind {int} NOT NULL,
    connection {int} NOT NULL REFERENCES connection (id),
    from_status {int} REFERENCES status (id),
    to_status {int} REFERENCES status (id),
    state {int} NOT NULL REFERENCES state (id),
    last_sync {int},
    PRIMARY KEY (snapshot, kind, connection)
){without_rowid}
"""


def _upgrade_to_v3(db: Database) -> None:
    """Version 3: what changed between consecutive snapshots is stored when the later one is
    recorded, so ``changes()`` over a month reads rows instead of comparing 30 pairs of
    snapshots member by member (3.3x the listing's time at 100,000 connections, before)."""
    db.execute(db.dialect.ddl(_CHANGE_V3))
    ids = [snapshot for (snapshot,) in db.rows("SELECT id FROM snapshot ORDER BY taken_at")]
    linked = changes.linked_status(db)
    for previous, current in zip(ids, ids[1:], strict=False):
        before, after = changes.members(db, previous), changes.members(db, current)
        changes.store_changes(db, current, changes.found(before, after, linked))


_EVENT_V4 = """
CREATE TABLE event (
    id {key},
    message_id {text} NOT NULL UNIQUE,
    event_id {text} NOT NULL UNIQUE,
    event_type {text} NOT NULL,
    generated_at {int} NOT NULL,
    received_at {int} NOT NULL,
    company_id {text},
    company_name {text},
    connection_id {text},
    status {text},
    platform_name {text},
    integration_key {text},
    source_type {text},
    body {text} NOT NULL
);
CREATE INDEX event_generated ON event (generated_at);
CREATE INDEX event_connection ON event (connection_id, generated_at)
"""


def _upgrade_to_v4(db: Database) -> None:
    """Version 4: Codat's webhook events (``codat-nb listen``), so ``changes()`` can say when a
    change happened, not only between which snapshots."""
    for statement in filter(str.strip, _EVENT_V4.split(";")):
        db.execute(db.dialect.ddl(statement))


#: ``MIGRATIONS[n]`` turns a version ``n - 1`` history into version ``n`` (0 is a new one).
MIGRATIONS = {1: _create_v1, 2: _upgrade_to_v2, 3: _upgrade_to_v3, 4: _upgrade_to_v4}


def _refuse_foreign_or_newer(db: Database, identity: Identity) -> None:
    if not identity.ours:
        found = (
            f"tables: {', '.join(identity.tables)}" if identity.tables else identity.foreign_mark
        )
        raise HistoryError(
            f"{db.location} is {db.kind} but not a codat-nb history ({found}); {db.foreign_hint}"
        )
    if identity.version > SCHEMA_VERSION:
        raise HistoryError(
            f"{db.location} was written by a newer codat-nb (history schema version "
            f"{identity.version}; this version reads up to {SCHEMA_VERSION}): upgrade codat-nb "
            "to use it"
        )


def _upgrade(db: Database) -> None:
    """Bring a new or older history to SCHEMA_VERSION, checking it again under the lock."""
    identity = db.identity()
    if not identity.fresh:
        _refuse_foreign_or_newer(db, identity)
    for step in range(identity.version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[step](db)
    db.mark(SCHEMA_VERSION)


def prepare(db: Database) -> None:
    """Check that ``db`` holds a current codat-nb history, creating or upgrading it if it may."""
    identity = db.read("read", db.identity)
    if not identity.fresh:
        _refuse_foreign_or_newer(db, identity)
    if identity.version == SCHEMA_VERSION:
        return
    doing = "create a history in" if identity.fresh else "upgrade"
    if db.read_only:
        state = (
            "holds no history yet" if identity.fresh else f"is a version-{identity.version} history"
        )
        raise HistoryError(
            f"cannot {doing} {db.location}: it {state}, and {db.who_may_only_read()}; the daily "
            "job (a user who may write it) creates or upgrades it when it next records"
        )
    if identity.fresh:
        with db.translated(doing):
            db.before_create()
    db.write(doing, lambda: _upgrade(db))
