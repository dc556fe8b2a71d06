"""The same month, recorded in an SQLite file and a PostgreSQL database at once, gives the same
answers from both: every snapshot's summary, changes(), at(), snapshots() and the trends."""

from __future__ import annotations

import pandas as pd

from codat_nb.history import History


def test_a_month_of_time_travel_gives_equal_answers_on_both_backends(
    history_path, postgres_store, listing, demo_sandbox
):
    source = demo_sandbox.url
    with History(history_path) as lite, postgres_store.open() as pg:
        first = listing()
        assert lite.record(first, source=source) == pg.record(first, source=source)
        weeks = []
        for _ in range(4):
            did = demo_sandbox.advance(days=7)  # syncs, lost access, relinks, sign-ups, deletes
            week = listing()
            summary = lite.record(week, source=source)
            assert pg.record(week, source=source) == summary
            weeks.append((summary, did))
        start = first.attrs["server_time"]
        both = [lite, pg]

        changes = [h.changes(since=start) for h in both]
        pd.testing.assert_frame_equal(*changes)
        for summary, _ in weeks:
            pd.testing.assert_frame_equal(
                *[h.changes(since=summary.previous, until=summary.taken_at) for h in both]
            )
            pd.testing.assert_frame_equal(*[h.at(summary.taken_at) for h in both])
        pd.testing.assert_frame_equal(*[h.snapshots() for h in both])
        for by in (None, "platform_name", "integration_key", "source_type"):
            pd.testing.assert_frame_equal(*[h.status_over_time(by=by) for h in both])

    lost = sum(did.counts["lost access"] for _, did in weeks)
    moved = changes[0][changes[0]["change"] == "status_changed"]
    # A connection that lost access and then went with its company shows as disappeared.
    gone = changes[0][changes[0]["change"] == "disappeared"]
    seen = (moved["to_status"] == "Deauthorized").sum()
    assert lost > 0 and seen <= lost <= seen + (gone["from_status"] == "Linked").sum()
    assert set(changes[0]["change"]) == {"status_changed", "appeared", "disappeared", "stalled"}
