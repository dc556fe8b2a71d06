"""What webhook events add to ``changes()``: when each change happened, the changes no snapshot
has seen yet, and where a snapshot contradicts what the events said.

A connection event (``connection.created``, ``.connected``, ``.disconnected``,
``.reconnected``, ``.deleted``) is a change of one connection at the event's ``generatedDate``.
A snapshot change and an event are one change when they are of the same connection and kind,
the event falls between the two snapshots, and (for a status change) both end in the same
status: the row keeps the snapshot's values and gains the event's time (``at``) and id, and
``seen_by`` is ``both``. An event no snapshot change accounts for is a row of its own
(``seen_by`` ``event``: a step between two snapshots, or one after the latest snapshot), its
``from_status`` the status before it (the previous event, or the latest earlier snapshot).

Times: a snapshot's is when its listing ended, to the second (the server's ``Date``), so an
event stamped at a snapshot's time is taken as after it: it belongs between that snapshot and
the next.

Snapshots stay the truth: events can be missed (a receiver down longer than Codat retries), so
a snapshot's status is never replaced by an event's; ``disagreements`` lists the connections
whose snapshot status differs from what their last event before it said.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from codat_nb.history.backend import Database
from codat_nb.history.changes import CHANGE_COLUMNS, CHANGE_KINDS
from codat_nb.history.encoding import category, from_micros

#: The kind of change each connection event is.
EVENT_KINDS = {
    "connection.created": "appeared",
    "connection.deleted": "disappeared",
    "connection.connected": "status_changed",
    "connection.disconnected": "status_changed",
    "connection.reconnected": "status_changed",
}
#: The status before an event, where its type says it (Codat's event-types page).
_IMPLIED_FROM = {"connection.connected": "PendingAuth", "connection.disconnected": "Linked"}
SEEN_BY = ("snapshot", "event", "both")
MERGED_COLUMNS = (*CHANGE_COLUMNS, "at", "seen_by", "event_id")
DISAGREEMENT_COLUMNS = (
    "company_id", "company_name", "connection_id", "taken_at", "snapshot_status",
    "event_status", "event_type", "event_id", "event_at",
)  # fmt: skip
_EVENT_FIELDS = ("event_id", "event_type", "at", "company_id", "company_name", "connection_id",
                 "status", "platform_name")  # fmt: skip
_KEY = ["company_id", "connection_id"]
_TIMES = ("from_at", "to_at", "last_sync", "at")
_NAT = int(np.iinfo(np.int64).min)
_BATCH = 500


def connection_events(db: Database, until: int | None) -> pd.DataFrame:
    """Every connection event generated up to ``until`` (µs; None: all), oldest first, with
    ``after`` (the connection's status once it happened, None once deleted) and ``before``
    (the previous event's ``after``, NaN for a connection's first event)."""
    types = list(EVENT_KINDS)
    rows = db.rows(
        "SELECT event_id, event_type, generated_at, company_id, company_name, connection_id, "
        f"status, platform_name FROM event WHERE event_type IN ({', '.join('?' * len(types))}) "
        "AND connection_id IS NOT NULL AND company_id IS NOT NULL"
        + ("" if until is None else " AND generated_at <= ?")
        + " ORDER BY generated_at, event_id",
        [*types, *([] if until is None else [until])],
    )
    events = pd.DataFrame(rows, columns=list(_EVENT_FIELDS), dtype=object)
    events["at"] = events["at"].astype(np.int64)
    events["kind"] = events["event_type"].map(EVENT_KINDS)
    events["after"] = events["status"].where(events["kind"] != "disappeared", None)
    previous = events.groupby(_KEY, sort=False)["after"].shift(1)
    events["first"] = events.groupby(_KEY, sort=False).cumcount() == 0
    events["before"] = previous.where(~events["first"], None)
    events["before_at"] = events.groupby(_KEY, sort=False)["at"].shift(1)
    found: pd.DataFrame = events
    return found


def snapshot_times(db: Database) -> tuple[np.ndarray, np.ndarray]:
    """(ids, taken_at) of every snapshot, oldest first."""
    rows = db.rows("SELECT id, taken_at FROM snapshot ORDER BY taken_at")
    table = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return table[:, 0], table[:, 1]


def statuses_in(db: Database, wanted: pd.DataFrame) -> dict[tuple[int, str, str], str | None]:
    """The status of each (``snapshot``, ``company_id``, ``connection_id``) row of ``wanted``
    as that snapshot listed it (absent from the result: not listed)."""
    if wanted.empty:
        return {}
    company_ids = sorted(set(wanted["company_id"]))
    companies = {
        cid: key for cid, key in db.matching("company", "company_id", company_ids, ("id",))
    }
    found = db.matching(
        "connection", "company", sorted(companies.values()), ("connection_id", "id")
    )
    ids = {key: name for key, name in ((k, cid) for cid, k in companies.items())}
    pair_of = {int(key): (ids[company], connection) for company, connection, key in found}
    key_of = {pair: key for key, pair in pair_of.items()}
    names = dict(db.rows("SELECT id, name FROM status"))
    result: dict[tuple[int, str, str], str | None] = {}
    for snapshot, group in wanted.groupby("snapshot"):
        pairs = zip(group["company_id"], group["connection_id"], strict=True)
        keys = sorted({key_of[pair] for pair in pairs if pair in key_of})
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            marks = ", ".join("?" * len(batch))
            listed = db.rows(
                "SELECT connection, status FROM member "
                f"WHERE snapshot = ? AND connection IN ({marks})",
                [int(str(snapshot)), *batch],
            )
            for key, status in listed:
                company_id, connection_id = pair_of[int(key)]
                result[(int(str(snapshot)), company_id, connection_id)] = names.get(status)
    return result


def _from_status(
    db: Database, events: pd.DataFrame, ids: np.ndarray, times: np.ndarray
) -> list[Any]:
    """The status before each event: the previous event's, unless a snapshot was taken since
    (then that snapshot's), else what the event's type implies."""
    position = np.searchsorted(times, events["at"].to_numpy(dtype=np.int64), side="right") - 1
    snapshot_at = np.concatenate([[-1], times])[position + 1]  # -1: no snapshot before
    before_at = events["before_at"].fillna(-1).to_numpy(dtype=np.int64)
    use_snapshot = (position >= 0) & (snapshot_at > before_at)
    wanted = events.loc[use_snapshot, _KEY].assign(snapshot=ids[position[use_snapshot]])
    listed = statuses_in(db, wanted)
    result: list[Any] = []
    columns = ("kind", "company_id", "connection_id", "first", "before", "event_type")
    for n, (kind, company_id, connection_id, first, before, event_type) in enumerate(
        zip(*(events[c].tolist() for c in columns), strict=True)
    ):
        if kind == "appeared":
            result.append(None)
        elif use_snapshot[n]:
            result.append(listed.get((int(ids[position[n]]), company_id, connection_id)))
        elif not first:
            result.append(before)
        else:
            result.append(_IMPLIED_FROM.get(event_type))
    return result


def _matched(snapshot_rows: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """(row, event position) pairs: each snapshot change and the latest event that is it."""
    left = snapshot_rows[[*_KEY, "change", "to_status", "from_at", "to_at"]].assign(
        row=np.arange(len(snapshot_rows)), change=snapshot_rows["change"].astype(str),
        to_status=snapshot_rows["to_status"].astype(object))  # fmt: skip
    right = events[[*_KEY, "kind", "after", "at"]].assign(position=np.arange(len(events)))
    pairs = left.merge(right, left_on=[*_KEY, "change"], right_on=[*_KEY, "kind"])
    at = from_micros(pairs["at"].to_numpy(dtype=np.int64)).to_numpy()
    inside = (at >= pairs["from_at"].to_numpy()) & (at < pairs["to_at"].to_numpy())
    same_end = (pairs["change"] != "status_changed") | (
        pairs["to_status"].astype(str) == pairs["after"].astype(str)
    )
    found = pairs[inside & same_end.to_numpy()].sort_values("at")
    found = found.drop_duplicates("row", keep="last").drop_duplicates("position")
    latest: pd.DataFrame = found[["row", "position"]]
    return latest


def merge(db: Database, snapshot_rows: pd.DataFrame, since: int, until: int | None) -> pd.DataFrame:
    """``changes()``'s rows: the snapshot changes (``changes.changes``) with the events merged
    in, as the module's docstring says; sorted by when it happened (``at``, else ``to_at``)."""
    events = connection_events(db, until)
    rows = snapshot_rows.reset_index(drop=True).assign(seen_by="snapshot", event_id=None)
    rows["at"] = from_micros(np.full(len(rows), _NAT))
    if events.empty:
        return _finish(rows)
    ids, times = snapshot_times(db)
    events["from_status"] = _from_status(db, events, ids, times)
    matched = _matched(snapshot_rows, events)
    row, position = matched["row"].to_numpy(), matched["position"].to_numpy()
    at = rows["at"].array.asi8.copy()
    at[row] = events["at"].to_numpy(dtype=np.int64)[position]
    rows["at"] = from_micros(at)
    rows.loc[row, "seen_by"] = "both"
    rows.loc[row, "event_id"] = events["event_id"].to_numpy()[position]
    alone = np.ones(len(events), dtype=bool)
    alone[matched["position"].to_numpy()] = False
    alone &= events["at"].to_numpy() >= since
    only = events[alone]
    return _finish(pd.concat([rows, _event_rows(only, times)], ignore_index=True))


def _event_rows(events: pd.DataFrame, times: np.ndarray) -> pd.DataFrame:
    """Events no snapshot change accounts for, as change rows between the snapshots around."""
    at = events["at"].to_numpy(dtype=np.int64)
    position = np.searchsorted(times, at, side="right")
    padded = np.concatenate([[_NAT], times, [_NAT]])  # no snapshot before / after: NaT
    rows = {name: events[column].to_numpy() for name, column in (
        ("company_id", "company_id"), ("company_name", "company_name"),
        ("connection_id", "connection_id"), ("platform_name", "platform_name"),
        ("change", "kind"), ("from_status", "from_status"), ("to_status", "after"),
        ("event_id", "event_id"))}  # fmt: skip
    found: pd.DataFrame = pd.DataFrame(rows).assign(latest_error=None, seen_by="event")
    for name, values in (("from_at", padded[position]), ("to_at", padded[position + 1]),
                         ("last_sync", np.full(len(at), _NAT)), ("at", at)):  # fmt: skip
        found[name] = from_micros(values).array  # tz-aware, so concat keeps the dtype
    return found


def _finish(rows: pd.DataFrame) -> pd.DataFrame:
    """One frame with ``changes()``'s dtypes, sorted."""
    when = rows["at"].where(rows["at"].notna(), rows["to_at"])
    order = rows.assign(_when=when).sort_values(
        ["_when", "change", "company_name", "company_id", "connection_id"],
        na_position="first", kind="stable",
    ).index  # fmt: skip
    rows = rows.loc[order].reset_index(drop=True)
    statuses = category(
        "status", [*rows["from_status"].astype(object), *rows["to_status"].astype(object)]
    )
    data = {
        "company_id": pd.Series(rows["company_id"].tolist(), dtype="str"),
        "company_name": pd.Series(rows["company_name"].tolist(), dtype="str"),
        "connection_id": pd.Series(rows["connection_id"].tolist(), dtype="str"),
        "platform_name": category("platform_name", rows["platform_name"].astype(object).tolist()),
        "change": pd.Series(pd.Categorical(rows["change"].astype(str), categories=CHANGE_KINDS)),
        "from_status": statuses.iloc[: len(rows)].reset_index(drop=True),
        "to_status": statuses.iloc[len(rows) :].reset_index(drop=True),
        # as they are: to_numpy() would make a Timestamp object of each (1.2 s for a month)
        **{c: rows[c].astype("datetime64[us, UTC]") for c in _TIMES},
        "latest_error": pd.Series(rows["latest_error"].tolist(), dtype="str"),
        "seen_by": pd.Series(pd.Categorical(rows["seen_by"], categories=SEEN_BY)),
        "event_id": pd.Series(rows["event_id"].tolist(), dtype="str"),
    }  # fmt: skip
    merged: pd.DataFrame = pd.DataFrame(data, columns=list(MERGED_COLUMNS))
    return merged


def disagreements(db: Database, since: int, until: int | None) -> pd.DataFrame:
    """Where a snapshot taken in (since, until] first contradicts what the events before it
    implied: the connection's status in that snapshot differs from the status its last event
    left it in, and the snapshot before agreed (or came before that event). A missed event, or
    one the listing did not see yet; reported once, where the two part. One row per
    connection and snapshot (``DISAGREEMENT_COLUMNS``); a status None: not listed / deleted."""
    ids, times = snapshot_times(db)
    chosen = np.flatnonzero((times > since) & (times <= (until if until is not None else
                                                            times.max(initial=0))))  # fmt: skip
    events = connection_events(db, int(times[chosen].max()) if len(chosen) else None)
    if events.empty or not len(chosen):
        return _disagreement_frame(pd.DataFrame(columns=list(DISAGREEMENT_COLUMNS)))
    implied = _implied(events, times, chosen)
    later = implied[implied["snap"] > 0]
    wanted = pd.concat([implied.assign(snapshot=ids[implied["snap"]]),
                        later.assign(snapshot=ids[later["snap"] - 1])])  # fmt: skip
    listed = statuses_in(db, wanted)
    rows = []
    for row in implied.to_dict("records"):
        snap, pair = int(row["snap"]), (str(row["company_id"]), str(row["connection_id"]))
        actual = listed.get((int(ids[snap]), *pair))
        if actual == row["after"]:
            continue
        before = listed.get((int(ids[snap - 1]), *pair)) if snap > 0 else None
        if snap == 0 or row["at"] >= times[snap - 1] or before == row["after"]:
            rows.append({**row, "snapshot_status": actual, "taken_at": times[snap]})
    found = pd.DataFrame(rows, columns=[*implied.columns, "snapshot_status", "taken_at"])
    found = found.assign(
        taken_at=from_micros(found["taken_at"].to_numpy(dtype=np.int64)).to_numpy(),
        event_at=from_micros(found["at"].to_numpy(dtype=np.int64)).to_numpy(),
        event_status=found["after"],
    )
    return _disagreement_frame(found)


def _implied(events: pd.DataFrame, times: np.ndarray, chosen: np.ndarray) -> pd.DataFrame:
    """For each chosen snapshot (``snap``: its position in ``times``) and each connection with
    an event before it, that last event (an event at a snapshot's time counts as after it)."""
    columns = ["company_id", "company_name", "connection_id", "event_type", "event_id", "at",
               "after"]  # fmt: skip
    parts = []
    for _, timeline in events.groupby(_KEY, sort=False):
        last = np.searchsorted(timeline["at"].to_numpy(dtype=np.int64), times[chosen], "left") - 1
        present = last >= 0
        picked = timeline.iloc[last[present]][columns].assign(snap=chosen[present])
        parts.append(picked)
    found: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return found


def _disagreement_frame(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.sort_values(["taken_at", "company_id", "connection_id"], kind="stable")
    statuses = category("status", [*rows["snapshot_status"], *rows["event_status"]])
    data = {
        **{c: pd.Series(rows[c].tolist(), dtype="str")
           for c in ("company_id", "company_name", "connection_id", "event_type", "event_id")},
        "taken_at": pd.Series(rows["taken_at"].to_numpy(), dtype="datetime64[us, UTC]"),
        "event_at": pd.Series(rows["event_at"].to_numpy(), dtype="datetime64[us, UTC]"),
        "snapshot_status": statuses.iloc[: len(rows)].reset_index(drop=True),
        "event_status": statuses.iloc[len(rows) :].reset_index(drop=True),
    }  # fmt: skip
    found: pd.DataFrame = pd.DataFrame(data, columns=list(DISAGREEMENT_COLUMNS))
    return found
