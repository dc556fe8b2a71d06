"""Benchmark: the webhook receiver (``codat-nb listen``) storing events, SQLite and PostgreSQL.

* Throughput: ``EVENTS`` signed messages (svix, signed before the clock starts) sent by
  ``SENDERS`` threads over keep-alive connections to ``codat-nb listen`` in its own process;
  events verified, stored and answered per second, first request to last answer, every answer
  checked 200 and the rows counted afterwards.
* Latency: a demo sandbox in this process changes connection statuses at ``RATE`` a second
  (deauthorize, then link again), its webhooks going to ``codat-nb listen``; for each event,
  from the status change's return to the moment the receiver printed the event's line (it
  prints after the commit), p50 and p99.

PostgreSQL is a server of its own (``tests/postgres.py``, durable: ``fsync`` and
``synchronous_commit`` on) over TCP on 127.0.0.1; SQLite a file in a temporary directory. The
load average is printed beside the figures.

    python -m bench.receiver [--repeats 3]
"""

from __future__ import annotations

import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from svix.webhooks import Webhook

from bench.common import main_with_repeats, table
from codat_nb.history import History
from codat_nb.sandbox import Sandbox
from tests.postgres import PostgresServer

EVENTS, SENDERS, RATE, CHANGES = 3_000, 8, 100, 1_000
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROOT = Path(__file__).resolve().parents[1]


class Listen:
    """``codat-nb listen`` in its own process; ``lines`` get (stdout line, arrival time)."""

    def __init__(self, db: str, secret: str, port: int = 0, env: dict[str, str] | None = None):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "codat_nb", "listen", "--db", db, "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "CODAT_WEBHOOK_SECRET": secret,
                 **(env or {})},
        )  # fmt: skip
        self.lines: queue.Queue[tuple[str, float]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first, _ = self.lines.get(timeout=120)
        self.url = first.rsplit(" ", 1)[1]
        self.lines.get(timeout=60)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((line.rstrip("\n"), time.time()))

    def stop(self, kill: bool = False) -> None:
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.process.communicate(timeout=120)


def signed_messages(count: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` connection.disconnected messages, signed now."""
    webhook, now = Webhook(SECRET), datetime.now(timezone.utc)
    made = []
    for n in range(count):
        body = json.dumps({
            "id": f"{tag}-{n:08d}", "eventType": "connection.disconnected",
            "generatedDate": "2026-11-02T10:00:00.000Z",
            "payload": {"referenceCompany": {"id": "c1", "name": "Acme"},
                        "connection": {"id": f"k{n}", "status": "Deauthorized"}},
        }).encode()  # fmt: skip
        message_id = f"msg_{tag}_{n}"
        made.append((body, {
            "webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook.sign(message_id, now, body),
            "content-type": "application/json",
        }))  # fmt: skip
    return made


def throughput(db: str, env: dict[str, str], tag: str) -> float:
    """Events per second verified, stored and answered."""
    messages = signed_messages(EVENTS, tag)
    listen = Listen(db, SECRET, env=env)
    statuses: list[int] = []

    def send(share: list[tuple[bytes, dict[str, str]]]) -> None:
        with requests.Session() as session:
            statuses.extend(session.post(listen.url, data=b, headers=h, timeout=30).status_code
                            for b, h in share)  # fmt: skip

    threads = [threading.Thread(target=send, args=(messages[i::SENDERS],)) for i in range(SENDERS)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - t0
    listen.stop()
    os.environ.update(env)  # PostgreSQL's password, for reading here as the command did
    with History(db) as history:
        stored = history.events(company_id="c1")
    assert statuses == [200] * EVENTS, sorted(set(statuses))
    assert stored["event_id"].str.startswith(tag).sum() == EVENTS
    return EVENTS / seconds


def latency(db: str, env: dict[str, str], tag: str) -> tuple[float, float]:
    """p50, p99 ms from a sandbox status change to its event's line (stored) at RATE/s (a
    sandbox seeded with ``tag``: a repeat's events are new to the history)."""
    with Sandbox(seed=tag) as sb:
        listing = [(c, k) for c in sb.store.company_ids()
                   for k in (r["id"] for r in sb.store.connections_wire(c)
                             if r["status"] == "Linked")]  # fmt: skip
        port = _free_port()
        consumer = sb.webhooks.create(
            f"http://127.0.0.1:{port}/", ["connection.disconnected", "connection.reconnected"]
        )
        listen = Listen(db, sb.webhook_secret(consumer["id"]), port, env)
        changed: list[float] = []
        start = time.perf_counter()
        for n in range(CHANGES):
            time.sleep(max(0.0, start + n / RATE - time.perf_counter()))
            company, connection = listing[(n // 2) % len(listing)]
            (sb.store.deauthorize if n % 2 == 0 else sb.store.link)(company, connection)
            changed.append(time.time())
        sb.webhooks.flush(timeout=300)
        order = [a.event_id for a in sb.webhooks.attempts() if a.succeeded]
        arrived = {}
        while len(arrived) < CHANGES:
            line, at = listen.lines.get(timeout=60)
            arrived[line.rsplit("event=", 1)[1]] = at
        listen.stop()
    delays = sorted((arrived[event] - changed[n]) * 1000 for n, event in enumerate(order))
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def backends() -> Iterator[list[tuple[str, str, dict[str, str]]]]:
    """(name, --db, environment) of an SQLite file and a PostgreSQL database over loopback."""
    import psycopg

    with tempfile.TemporaryDirectory() as folder, PostgresServer(durable=True) as server:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench_events")
        url = server.url("bench_events").replace(f":{server.password}@", "@")
        yield [("SQLite", str(Path(folder) / "events.sqlite"), {}),
               ("PostgreSQL", url, {"PGPASSWORD": server.password})]  # fmt: skip


def run(repeats: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"load average (1 min) at the start": [os.getloadavg()[0]]}
    with backends() as places:
        for n in range(repeats):
            for name, db, env in places:
                found.setdefault(f"{name}: events/s stored, {SENDERS} senders", []).append(
                    throughput(db, env, f"run{n}"))  # fmt: skip
                p50, p99 = latency(db, env, f"latency-{n}")
                found.setdefault(f"{name}: status change to row, p50 (ms) at {RATE}/s",
                                 []).append(p50)  # fmt: skip
                found.setdefault(f"{name}: status change to row, p99 (ms) at {RATE}/s",
                                 []).append(p99)  # fmt: skip
    found["load average (1 min) at the end"] = [os.getloadavg()[0]]
    return found


def report(found: dict[str, Any]) -> str:
    rows = [[name, f"{statistics.median(values):,.1f} ({', '.join(f'{v:,.0f}' for v in values)})"]
            for name, values in found.items()]  # fmt: skip
    return table(["measure", "median (each repeat)"], rows)


if __name__ == "__main__":
    main_with_repeats(__doc__, run, report, 3)
