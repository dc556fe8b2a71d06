"""Several writers on one history (processes, as on several machines), writers killed in the
middle of a snapshot, and readers while a writer writes: on both backends.

A writer process is ``codat_nb.history.History.record`` in a child Python; where it must stop
inside its transaction (holding the write lock, rows written but not committed), the last step
of the write (``writer._tally``) is made to wait for the test.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from codat_nb.history import HistoryError
from tests.support import ROOT

WRITER = r"""
import os, sys
import pandas as pd
from codat_nb.history import History, writer

portfolio = pd.read_pickle(sys.argv[1])
at, pause = sys.argv[2], sys.argv[3]
tally = writer._tally


def paused(*args):
    print("inside", flush=True)  # rows written, not committed, the write lock held
    if pause == "until-told":
        sys.stdin.readline()
    elif pause == "for-ever":
        sys.stdin.read()
    tally(*args)


if pause != "none":
    writer._tally = paused
if pause == "none":
    sys.stdin.readline()  # start when told, so two writers start together
with History(os.environ["HISTORY_TARGET"]) as history:
    summary = history.record(portfolio, at=at)
print("new" if summary.new else "already", flush=True)
"""


class Writer:
    """A writer process recording ``portfolio`` at ``at`` (``pause``: none, until-told,
    for-ever)."""

    def __init__(self, store, path, portfolio: pd.DataFrame, at, pause: str) -> None:
        portfolio.to_pickle(path)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HISTORY_TARGET": store.target}
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), pd.Timestamp(at).isoformat(), pause],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env,
        )  # fmt: skip

    def wait_inside(self) -> None:
        line = self.process.stdout.readline().strip()
        assert line == "inside", line + self.process.stderr.read()

    def tell(self) -> None:
        self.process.stdin.write("\n")
        self.process.stdin.flush()

    def result(self) -> str:
        out, err = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, err
        return out.split()[-1]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()


@pytest.fixture
def writers(tmp_path, store):
    """``writers(portfolio, at, pause)``: start a writer process; all killed at the end."""
    started: list[Writer] = []

    def start(portfolio: pd.DataFrame, at, pause: str = "none") -> Writer:
        started.append(Writer(store, tmp_path / f"{len(started)}.pkl", portfolio, at, pause))
        return started[-1]

    yield start
    for writer in started:
        writer.stop()


@pytest.fixture
def day_one(history, listing):
    """One snapshot recorded; the next day's time and portfolio (nothing recorded for it)."""
    first = listing()
    history.record(first)
    return first, first.attrs["server_time"] + pd.Timedelta(days=1)


def test_a_second_writer_waits_then_gives_up_and_readers_are_never_blocked(
    store, history, day_one, writers
):
    portfolio, tomorrow = day_one
    before = store.contents()
    holder = writers(portfolio, tomorrow, "until-told")
    holder.wait_inside()

    with store.open(timeout=0.3) as impatient:
        started = time.monotonic()
        with pytest.raises(HistoryError, match=r"cannot record a snapshot in .*another process "
                           r"is writing to it \(the write lock stayed busy"):  # fmt: skip
            impatient.record(portfolio, at=tomorrow)
        waited = time.monotonic() - started
        assert len(impatient.snapshots()) == 1  # a reader does not wait, and sees no half
        assert len(history.at(tomorrow)) == len(portfolio)
    assert store.contents() == before
    holder.tell()
    assert holder.result() == "new"
    assert history.snapshots()["taken_at"].tolist()[-1] == tomorrow
    assert 0.3 <= waited < 10


def test_a_waiting_writer_goes_on_when_the_lock_is_free(store, history, day_one, writers):
    portfolio, tomorrow = day_one
    holder = writers(portfolio, tomorrow, "until-told")
    holder.wait_inside()
    later = tomorrow + pd.Timedelta(days=1)
    patient = writers(portfolio, later)
    patient.tell()
    time.sleep(0.5)  # it is waiting for the lock now

    holder.tell()

    assert (holder.result(), patient.result()) == ("new", "new")
    assert history.snapshots()["taken_at"].tolist()[1:] == [tomorrow, later]


def test_two_writer_processes_recording_the_same_snapshot_write_it_once(
    store, history, day_one, writers
):
    portfolio, tomorrow = day_one
    pair = [writers(portfolio, tomorrow) for _ in range(2)]
    for writer in pair:
        writer.tell()

    assert sorted(writer.result() for writer in pair) == ["already", "new"]
    table = history.snapshots()
    assert table["connections"].tolist() == [len(portfolio)] * 2
    assert table["status_changed"].tolist() == [0, 0]


def test_two_writers_of_different_days_never_interleave(history, day_one, writers, listing):
    """Whichever gets the lock first: the later day first means the earlier is refused as
    older; otherwise both are recorded in order. Never a mixture."""
    portfolio, tomorrow = day_one
    later = tomorrow + pd.Timedelta(days=1)
    earlier_writer, later_writer = writers(portfolio, tomorrow), writers(portfolio, later)
    for writer in (later_writer, earlier_writer):
        writer.tell()

    outcomes = []
    for writer in (earlier_writer, later_writer):
        out, err = writer.process.communicate(timeout=120)
        outcomes.append("older" if "older than the latest one" in err else out.split()[-1])

    times = history.snapshots()["taken_at"].tolist()
    assert (outcomes, times[1:]) in [
        (["new", "new"], [tomorrow, later]),
        (["older", "new"], [later]),
    ]
    for when in times:
        assert len(history.at(when)) == len(portfolio)


def test_a_killed_writer_leaves_nothing_half_written(store, history, day_one, writers):
    portfolio, tomorrow = day_one
    before = store.contents()
    doomed = writers(portfolio, tomorrow, "for-ever")
    doomed.wait_inside()

    doomed.kill()

    assert store.contents() == before
    assert len(history.snapshots()) == 1
    with store.open(timeout=30) as next_writer:  # the lock went with the dead writer
        assert next_writer.record(portfolio, at=tomorrow).new
    assert len(history.snapshots()) == 2


def test_writers_killed_at_random_moments_leave_all_or_nothing(
    store, history, day_one, writers, listing, demo_sandbox, as_stored
):
    """SIGKILL at seeded random moments from the writer's start to past its commit: each time
    the history holds the whole snapshot or none of it, and the next writer goes on."""
    portfolio, tomorrow = day_one
    demo_sandbox.advance(days=1)  # syncs, lost access, sign-ups: a snapshot with changes
    moved = listing()
    rng = random.Random(19)
    for n in range(4):
        at = tomorrow + pd.Timedelta(days=n)
        writer = writers(moved, at)
        writer.tell()
        time.sleep(rng.uniform(0.2, 3.0))
        writer.kill()
        times = history.snapshots()["taken_at"].tolist()
        if at in times:
            pd.testing.assert_frame_equal(history.at(at), as_stored(moved))
    with store.open(timeout=30) as next_writer:
        last = next_writer.record(moved, at=tomorrow + pd.Timedelta(days=9))
    assert last.new and last.connections == len(moved)
    counted = history.snapshots().set_index("taken_at")["status_changed"]
    changed = history.changes(since=counted.index[0])
    changed = changed[changed["change"] == "status_changed"].groupby("to_at").size()
    assert counted.iloc[1:].tolist() == changed.reindex(counted.index[1:], fill_value=0).tolist()
