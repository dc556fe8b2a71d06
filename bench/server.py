"""A sandbox in a child process, so the benchmarked client and the server do not share a GIL.

That is how users meet Codat: the server is another machine. In one process the server's
threads compete with the client's for the interpreter lock and every figure measures both.
The child is started with ``spawn`` (never fork a process that already runs threads) and is
driven over a pipe: set fault knobs, read the request counter, stop.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

#: Benchmarks hammer one sandbox on purpose: without Codat's rate limits and daily quota.
UNLIMITED = {"rate_limits": False, "daily_quota": 10**9}


@dataclass(frozen=True)
class Endpoint:
    """What a client needs: the URL, the Authorization header, the scale companies' ids."""

    url: str
    auth_header: str
    company_ids: tuple[str, ...]


def _serve(
    conn: Any, company_sizes: tuple[int, ...], seed: str | None, portfolio: tuple[int, int] | None
) -> None:
    from codat_nb.sandbox import Sandbox

    with Sandbox(seed=seed, **UNLIMITED) as sb:
        ids = tuple(sb.load_scale(n, company_name=f"Scale {n} Ltd") for n in company_sizes)
        if portfolio is not None:
            ids += tuple(sb.load_portfolio(*portfolio))
        conn.send(Endpoint(sb.url, sb.auth_header, ids))
        while True:
            command, argument = conn.recv()
            if command == "stop":
                break
            if command == "faults":
                for name, value in argument.items():
                    setattr(sb.faults, name, value)
                conn.send(None)
            elif command == "request_count":
                conn.send(sb.store.request_count)


class RemoteSandbox:
    """``with RemoteSandbox((10_000,)) as rs: rs.endpoint.url ...`` - a sandbox in a child.

    ``seed="demo"`` loads the demo portfolio; ``portfolio=(companies, per_company)`` adds that
    many companies of that many connections each."""

    def __init__(
        self,
        company_sizes: tuple[int, ...] = (),
        *,
        seed: str | None = None,
        portfolio: tuple[int, int] | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child_conn, company_sizes, seed, portfolio),
            name="bench-sandbox",
            daemon=True,
        )
        self._process.start()
        deadline = time.monotonic() + 120
        while not self._conn.poll(0.1):
            if not self._process.is_alive():
                raise RuntimeError(
                    f"the benchmark sandbox exited with code {self._process.exitcode} on start"
                )
            if time.monotonic() > deadline:
                self._process.kill()
                raise RuntimeError("the benchmark sandbox did not start within 120 s")
        self.endpoint: Endpoint = self._conn.recv()

    def set_faults(self, **knobs: Any) -> None:
        self._conn.send(("faults", knobs))
        self._conn.recv()

    def request_count(self) -> int:
        self._conn.send(("request_count", None))
        return self._conn.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send(("stop", None))
            self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class LocalSandbox:
    """The same interface over an in-process Sandbox (to show what sharing the GIL costs)."""

    def __init__(self, company_sizes: tuple[int, ...]) -> None:
        from codat_nb.sandbox import Sandbox

        self._sb = Sandbox(seed=None, **UNLIMITED)
        ids = tuple(self._sb.load_scale(n, company_name=f"Scale {n} Ltd") for n in company_sizes)
        self.endpoint = Endpoint(self._sb.url, self._sb.auth_header, ids)

    def set_faults(self, **knobs: Any) -> None:
        for name, value in knobs.items():
            setattr(self._sb.faults, name, value)

    def request_count(self) -> int:
        return self._sb.store.request_count

    def stop(self) -> None:
        self._sb.stop()

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
