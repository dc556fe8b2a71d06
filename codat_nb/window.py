"""A window of reads asked for ahead of their use: at most ``workers`` at a time on a thread
pool, handed back in the order asked. With one worker nothing is asked ahead (strictly lazy)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

from codat_nb.listing import Page
from codat_nb.page_plan import Probe, Read


class Shown(NamedTuple):
    """A probe's answer: its reads' rows, in order; ``short``: how many rows a read that came
    back shorter than asked held (None: none did)."""

    rows: list[Any]
    short: int | None


Task = Read | Probe


class Window:
    """Reads asked for ahead of their use, at most ``workers`` at a time, handed back in the
    order asked. With one worker nothing is asked ahead: each read is made when it is due."""

    def __init__(self, workers: int, read: Callable[[Read], Page], probe: Callable[[Probe], Shown]):
        self.workers, self._read, self._probe = max(workers, 1), read, probe
        self.executor = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codat_nb-page")
            if workers > 1
            else None
        )
        self.pending: deque[tuple[Task, Future[Page | Shown]]] = deque()

    def _run(self, task: Task) -> Page | Shown:
        return self._read(task) if isinstance(task, Read) else self._probe(task)

    def fill(self, tasks: Callable[[], Task | None]) -> None:
        while len(self.pending) < self.workers:
            task = tasks()
            if task is None:
                return
            if self.executor is not None:
                future = self.executor.submit(self._run, task)
            else:
                future = Future()
                future.set_result(self._run(task))
            self.pending.append((task, future))

    def next(self) -> tuple[Task, Page | Shown] | None:
        if not self.pending:
            return None
        task, future = self.pending.popleft()
        return task, future.result()

    def close(self) -> None:
        # On KeyboardInterrupt or an error: drop queued reads; those in flight finish (and are
        # kept for resume()) but retry no more.
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
