"""Recording list_all() frames from a real sandbox in a real SQLite file or PostgreSQL database,
and reading them."""

from __future__ import annotations

import pandas as pd
import pytest

from codat_nb import frames
from codat_nb.history import History, Recorded
from tests.support import client_for

PORTFOLIO_COLUMNS = ["company_id", "company_name", *frames.CONNECTION_COLUMNS]


def test_a_snapshot_reads_back_exactly_as_listed(history, listing, as_stored):
    portfolio = listing()

    summary = history.record(portfolio)

    back = history.at(portfolio.attrs["server_time"])
    pd.testing.assert_frame_equal(back, as_stored(portfolio))
    assert list(back.columns) == PORTFOLIO_COLUMNS
    assert str(back["created"].dtype) == "datetime64[us, UTC]"
    assert isinstance(back["status"].dtype, pd.CategoricalDtype)
    assert back.attrs["server_time"] == portfolio.attrs["server_time"]
    assert isinstance(summary, Recorded) and summary.new
    assert (summary.connections, summary.previous) == (len(portfolio), None)
    assert summary.companies == portfolio["company_id"].nunique()
    assert "the first snapshot" in str(summary)


def test_at_defaults_to_the_server_time_of_the_listing(history, listing, demo_sandbox):
    portfolio = listing()

    summary = history.record(portfolio)

    assert summary.taken_at == pd.Timestamp(demo_sandbox.clock.now())
    assert history.snapshots()["taken_at"].tolist() == [portfolio.attrs["server_time"]]


def test_an_explicit_at_wins_and_may_be_any_zone(history, listing):
    portfolio = listing()

    summary = history.record(portfolio, at="2026-11-01T10:00:00+01:00")

    assert summary.taken_at == pd.Timestamp("2026-11-01T09:00:00Z")


def test_recording_the_same_time_twice_changes_nothing(history, store, listing):
    portfolio = listing()
    history.record(portfolio)
    before = store.contents()

    again = history.record(portfolio.iloc[:10])

    assert not again.new and again.connections == len(portfolio)
    assert "already recorded" in str(again)
    assert store.contents() == before


def test_each_snapshot_reads_back_as_it_was(history, listing, next_day, demo_sandbox, as_stored):
    first = listing()
    history.record(first)
    target = first[first["status"] == "Linked"].iloc[0]
    demo_sandbox.store.deauthorize(target["company_id"], target["id"])
    next_day()
    second = listing()
    history.record(second)

    pd.testing.assert_frame_equal(history.at(first.attrs["server_time"]), as_stored(first))
    pd.testing.assert_frame_equal(history.at(second.attrs["server_time"]), as_stored(second))
    between = first.attrs["server_time"] + pd.Timedelta(hours=12)
    pd.testing.assert_frame_equal(history.at(between), as_stored(first))
    now = history.at(second.attrs["server_time"] + pd.Timedelta(days=30))
    row = now[now["id"] == target["id"]].iloc[0]
    assert (row["status"], row["error_count"]) == ("Deauthorized", target["error_count"] + 1)


def test_a_history_survives_closing_and_reopening(store, listing, as_stored):
    portfolio = listing()
    with History(store.target) as history:
        history.record(portfolio)

    with History(store.target) as reopened:
        expected = as_stored(portfolio)
        pd.testing.assert_frame_equal(reopened.at(portfolio.attrs["server_time"]), expected)
        assert len(reopened.snapshots()) == 1


def test_an_empty_portfolio_is_a_snapshot_with_the_same_columns(history, sandbox):
    with client_for(sandbox) as client:
        empty = client.connections.list_all(progress=False)

    summary = history.record(empty)

    back = history.at(empty.attrs["server_time"])
    assert (summary.connections, summary.companies, len(back)) == (0, 0, 0)
    pd.testing.assert_frame_equal(back, empty)
    assert history.status_over_time().loc[summary.taken_at].tolist() == [0, 0, 0, 0]


def test_values_this_version_does_not_know_are_kept(history, listing, as_stored):
    portfolio = listing().head(3).copy()
    for column in ("status", "platform_name"):
        portfolio[column] = portfolio[column].cat.add_categories(["Frozen"])
    portfolio.loc[0, ["status", "platform_name"]] = "Frozen"
    portfolio.at[1, "connection_info"] = {"note": "ünïcode ✓", "nested": [1, None, True]}
    portfolio.at[2, "link_url"] = "https://example.com/<company_id>/" + portfolio.at[2, "id"]

    history.record(portfolio)

    back = history.at(portfolio.attrs["server_time"])
    pd.testing.assert_frame_equal(back, as_stored(portfolio))
    assert back.loc[0, "status"] == "Frozen" and back.loc[0, "platform_name"] == "Frozen"
    assert list(back["status"].cat.categories)[-1] == "Frozen"
    assert back.at[1, "connection_info"] == {"note": "ünïcode ✓", "nested": [1, None, True]}


def test_at_before_the_first_snapshot_says_where_history_starts(history, listing):
    with pytest.raises(ValueError, match="history is empty"):
        history.at("2026-11-01T09:00:00Z")
    portfolio = listing()
    history.record(portfolio)

    with pytest.raises(ValueError, match=r"no snapshot at or before 2026-10-31.*first is at"):
        history.at("2026-10-31T00:00:00Z")


def test_snapshots_lists_times_and_counts_oldest_first(history, listing, next_day):
    assert list(history.snapshots().columns) == [
        "taken_at",
        "connections",
        "companies",
        "appeared",
        "disappeared",
        "status_changed",
        "stalled",
        "source",
    ]
    first = listing()
    next_day()
    second = listing()
    history.record(first)
    history.record(second)

    table = history.snapshots()

    assert table["taken_at"].tolist() == [first.attrs["server_time"], second.attrs["server_time"]]
    assert table["connections"].tolist() == [len(first), len(second)]
    assert str(table["taken_at"].dtype) == "datetime64[us, UTC]"
    assert (table.dtypes.iloc[1:-1] == "int64").all()
    assert table["source"].isna().all()  # not said


def test_one_time_passwords_are_not_kept_and_are_not_changes(history, store, listing, next_day):
    """Every listing shows each link URL with a fresh ?otp= (usable once, within a day): the
    history keeps the URL without it, so an unchanged connection stays one stored state."""
    first = listing()
    next_day()
    second = listing()
    assert first["link_url"].str.contains(r"\?otp=").all()
    assert (first["link_url"] != second["link_url"]).all()

    history.record(first)
    history.record(second)

    states = store.rows("SELECT count(*) FROM state")[0][0]
    texts = [value for (value,) in store.rows("SELECT value FROM text")]
    assert states == len(first)  # the second snapshot reused every state
    assert not any("otp=" in value for value in texts)
    back = history.at(second.attrs["server_time"])
    assert (
        back["link_url"].tolist()
        == second["link_url"].str.replace(r"\?otp=.*$", "", regex=True).tolist()
    )
    assert history.snapshots()["status_changed"].tolist() == [0, 0]
