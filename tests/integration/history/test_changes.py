"""changes(): status changes, appearances, disappearances and stalled syncs between snapshots,
checked against an independent pandas comparison of the frames that were recorded."""

from __future__ import annotations

import pandas as pd
import pytest

CHANGE_COLUMNS = [
    "company_id",
    "company_name",
    "connection_id",
    "platform_name",
    "change",
    "from_status",
    "to_status",
    "from_at",
    "to_at",
    "last_sync",
    "latest_error",
    "at",  # when it happened, where a webhook event says (test_event_changes.py)
    "seen_by",
    "event_id",
]


def expected_changes(before: pd.DataFrame, after: pd.DataFrame) -> set[tuple]:
    """(connection id, change, from status, to status) by comparing two listings directly."""
    b = before.set_index("id")
    a = after.set_index("id")
    found = set()
    for cid in a.index.difference(b.index):
        found.add((cid, "appeared", None, a.at[cid, "status"]))
    for cid in b.index.difference(a.index):
        found.add((cid, "disappeared", b.at[cid, "status"], None))
    for cid in a.index.intersection(b.index):
        old, new = b.at[cid, "status"], a.at[cid, "status"]
        if old != new:
            found.add((cid, "status_changed", old, new))
        elif new == "Linked":
            old_sync, new_sync = b.at[cid, "last_sync"], a.at[cid, "last_sync"]
            if pd.isna(new_sync) or (pd.notna(old_sync) and new_sync <= old_sync):
                found.add((cid, "stalled", old, new))
    return found


def as_set(changes: pd.DataFrame) -> set[tuple]:
    return {
        (r.connection_id, r.change, None if pd.isna(r.from_status) else r.from_status,
         None if pd.isna(r.to_status) else r.to_status)
        for r in changes.itertuples()
    }  # fmt: skip


@pytest.fixture
def three_snapshots(history, listing, next_day, demo_sandbox, client):
    """Three daily snapshots with every kind of change between them."""
    store = demo_sandbox.store
    first = listing()
    history.record(first)
    linked = first[first["status"] == "Linked"]
    pending = first[first["status"] == "PendingAuth"].iloc[0]
    lost, unlinked, deleted = (linked.iloc[i] for i in range(3))
    store.deauthorize(lost["company_id"], lost["id"])
    store.link(pending["company_id"], pending["id"])
    client.connections.unlink(unlinked["company_id"], unlinked["id"])
    client.connections.delete(deleted["company_id"], deleted["id"])
    created = client.connections.create(lost["company_id"], "gbol")
    next_day()
    second = listing()
    # One Linked connection synced since the first snapshot: it is not stalled.
    synced = second.index[second["id"] == linked.iloc[3]["id"]][0]
    second.loc[synced, "last_sync"] = second.attrs["server_time"]
    history.record(second)
    store.link(lost["company_id"], lost["id"])  # the customer re-authorised
    next_day()
    third = listing()
    history.record(third)
    return {
        "frames": (first, second, third),
        "lost": lost["id"],
        "created": created.id,
        "deleted": deleted["id"],
        "synced": second.at[synced, "id"],
    }


def test_changes_match_a_direct_comparison_of_the_listings(history, three_snapshots):
    first, second, third = three_snapshots["frames"]

    changes = history.changes(since=first.attrs["server_time"])

    pairs = changes.groupby("to_at", observed=True)
    assert sorted(pairs.groups) == [second.attrs["server_time"], third.attrs["server_time"]]
    assert as_set(pairs.get_group(second.attrs["server_time"])) == expected_changes(first, second)
    assert as_set(pairs.get_group(third.attrs["server_time"])) == expected_changes(second, third)
    kinds = set(changes["change"])
    assert kinds == {"status_changed", "appeared", "disappeared", "stalled"}


def test_every_step_of_a_connection_is_shown_not_only_the_end_points(history, three_snapshots):
    first, second, third = three_snapshots["frames"]

    steps = history.changes(since=first.attrs["server_time"])
    steps = steps[steps["connection_id"] == three_snapshots["lost"]]

    assert steps[["from_status", "to_status"]].astype(str).values.tolist() == [
        ["Linked", "Deauthorized"],
        ["Deauthorized", "Linked"],
    ]
    assert steps["from_at"].tolist() == [first.attrs["server_time"], second.attrs["server_time"]]
    assert steps["to_at"].tolist() == [second.attrs["server_time"], third.attrs["server_time"]]
    assert "revoked access" in steps["latest_error"].iloc[0]


def test_appeared_disappeared_and_synced_connections(history, three_snapshots):
    first, second, _ = three_snapshots["frames"]

    changes = history.changes(since=first.attrs["server_time"], until=second.attrs["server_time"])
    by_id = changes.set_index("connection_id")

    assert by_id.loc[three_snapshots["created"], "change"] == "appeared"
    assert pd.isna(by_id.loc[three_snapshots["created"], "from_status"])
    assert by_id.loc[three_snapshots["deleted"], "change"] == "disappeared"
    assert pd.isna(by_id.loc[three_snapshots["deleted"], "to_status"])
    assert three_snapshots["synced"] not in by_id.index
    stalled = changes[changes["change"] == "stalled"]
    assert len(stalled) > 100 and (stalled["to_status"] == "Linked").all()


def test_since_and_until_select_the_pairs_by_their_later_snapshot(history, three_snapshots):
    first, second, third = three_snapshots["frames"]
    middle = second.attrs["server_time"]

    assert set(history.changes(since=middle)["to_at"]) == {third.attrs["server_time"]}
    assert set(history.changes(since=first.attrs["server_time"], until=middle)["to_at"]) == {middle}
    just_before = middle - pd.Timedelta(seconds=1)
    assert set(history.changes(since=just_before, until=middle)["to_at"]) == {middle}


def test_the_counts_of_snapshots_agree_with_changes(history, three_snapshots):
    first = three_snapshots["frames"][0]
    changes = history.changes(since=first.attrs["server_time"])
    counted = changes.groupby(["to_at", "change"], observed=False).size().unstack("change")

    table = history.snapshots().set_index("taken_at").iloc[1:]

    for kind in ("appeared", "disappeared", "status_changed", "stalled"):
        assert table[kind].tolist() == counted[kind].tolist()
    assert table["status_changed"].tolist() == [3, 1]


def test_an_empty_result_keeps_its_columns_and_dtypes(history, three_snapshots):
    first, _, third = three_snapshots["frames"]
    full = history.changes(since=first.attrs["server_time"])

    empty = history.changes(since=third.attrs["server_time"])

    assert empty.empty
    assert list(empty.columns) == CHANGE_COLUMNS
    assert empty.dtypes.astype(str).tolist()[:4] == full.dtypes.astype(str).tolist()[:4]
    assert (empty.dtypes.iloc[4:] == full.dtypes.iloc[4:]).all()


def test_no_snapshot_yet_means_no_changes(history):
    changes = history.changes(since="2026-01-01T00:00:00Z")

    assert changes.empty and list(changes.columns) == CHANGE_COLUMNS
    assert str(changes["to_at"].dtype) == "datetime64[us, UTC]"


def test_until_before_since_is_refused(history):
    with pytest.raises(ValueError, match="until .* is before since"):
        history.changes(since="2026-11-02T00:00:00Z", until="2026-11-01T00:00:00Z")


def test_a_month_of_time_travel_matches_a_direct_comparison(history, listing, demo_sandbox):
    """Weekly snapshots while the sandbox lets weeks pass (syncs, lost access, customers
    linking, sign-ups and deletions): each week's changes are exactly the listings' differences,
    and the status changes are what the sandbox says it did."""
    before = listing()
    history.record(before)
    for _ in range(4):
        did = demo_sandbox.advance(days=7)
        after = listing()
        summary = history.record(after)

        week = history.changes(since=summary.previous, until=summary.taken_at)

        assert as_set(week) == expected_changes(before, after)
        moved = week[week["change"] == "status_changed"]
        # A connection that changed and then went with its company shows as disappeared.
        gone = week[week["change"] == "disappeared"]
        lost, linked = ((moved["to_status"] == s).sum() for s in ("Deauthorized", "Linked"))
        assert lost <= did.counts["lost access"] <= lost + (gone["from_status"] == "Linked").sum()
        assert (
            linked <= did.counts["linked"] <= linked + (gone["from_status"] == "PendingAuth").sum()
        )
        before = after
    assert len(history.snapshots()) == 5


def test_recorded_counts_connections_newly_deauthorized(history, listing, next_day, demo_sandbox):
    """The count an alert is raised on: changes() into Deauthorized, and only those new in
    this snapshot (re-recording the same time says the same; the next day, none)."""
    first = listing()
    assert history.record(first).deauthorized == 0  # no previous snapshot to compare with
    linked = first[first["status"] == "Linked"]
    for _, row in linked.iloc[:2].iterrows():
        demo_sandbox.store.deauthorize(row["company_id"], row["id"])
    next_day()
    second = listing()

    summary = history.record(second)
    again = history.record(second)
    next_day()
    later = history.record(listing())

    changes = history.changes(since=first.attrs["server_time"], until=summary.taken_at)
    assert summary.deauthorized == (changes["to_status"] == "Deauthorized").sum() == 2
    assert (again.new, again.deauthorized) == (False, 2)
    assert later.deauthorized == 0  # still Deauthorized, but not newly
