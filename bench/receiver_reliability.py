"""Reliability figures of the webhook receiver (docs/reliability.md), on SQLite and PostgreSQL.

* A burst of ``BURST`` events (connections created in a sandbox), the receiver
  (``codat-nb listen``, its own process) killed with SIGKILL once a third of the deliveries
  were attempted, restarted on the same port; the sandbox's retries, driven by
  ``sb.advance(hours=1)``, then ``flush()``: events in the history, distinct, and equal to
  the set the sandbox delivered.
* Trouble: the same calls to two sandboxes of one seed, one with duplicates and out-of-order
  delivery at 50%: whether the two histories (``events()`` without arrival times and
  payloads, whose link URLs name each sandbox's port; ``changes()``) are equal.
* Hostile: ``HOSTILE`` each of forged (another secret), tampered (one byte of the body),
  replayed (a stored message's exact bytes, again), stale (signed six minutes ago): how many
  were recorded, and what they were answered.

    python -m bench.receiver_reliability
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import Counter
from typing import Any

import pandas as pd
import requests
from svix.webhooks import Webhook

from bench.common import table
from bench.receiver import SECRET, Listen, _free_port, backends, signed_messages
from codat_nb.history import History
from codat_nb.sandbox import Sandbox

BURST, HOSTILE = 1_000, 250
CONNECTION_EVENTS = ["connection.created", "connection.connected", "connection.disconnected",
                     "connection.reconnected", "connection.deleted"]  # fmt: skip
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def killed_mid_burst(db: str, env: dict[str, str]) -> list[str]:
    with Sandbox(seed="burst", rate_limits=False) as sb:
        port = _free_port()
        consumer = sb.webhooks.create(f"http://127.0.0.1:{port}/", CONNECTION_EVENTS)
        secret, company = sb.webhook_secret(consumer["id"]), sb.store.create_company("B")["id"]
        first = Listen(db, secret, port, env)
        burst = threading.Thread(target=lambda: [sb.store.create_connection(company, "gbol")
                                                 for _ in range(BURST)])  # fmt: skip
        burst.start()
        while len(sb.webhooks.attempts()) < BURST // 3:
            time.sleep(0.002)
        first.stop(kill=True)
        burst.join()
        sb.webhooks.flush(timeout=300)
        failed = sum(not a.succeeded for a in sb.webhooks.attempts())
        again = Listen(db, secret, port, env)
        sb.advance(hours=1)
        sb.webhooks.flush(timeout=600)
        again.stop()
        delivered = {a.event_id for a in sb.webhooks.attempts() if a.succeeded}
    with History(db) as history:
        events = history.events(event_type="connection.created")
    return [
        f"{BURST:,} events; killed after {BURST // 3} attempts; {failed:,} attempts failed",
        f"{len(events):,} rows, {events['event_id'].nunique():,} distinct",
        "equal to the sandbox's deliveries" if set(events["event_id"]) == delivered else "DIFFER",
    ]


def _trouble(sb: Sandbox, history: History) -> dict[str, pd.DataFrame]:
    """The same calls; the history they leave (starting from no events)."""
    history._db.write("forget", lambda: history._db.execute("DELETE FROM event"))
    port = _free_port()
    consumer = sb.webhooks.create(f"http://127.0.0.1:{port}/", CONNECTION_EVENTS)
    company = sb.store.create_company("T")["id"]
    from codat_nb.events import Receiver

    with Receiver(history, secret=sb.webhook_secret(consumer["id"]), port=port):
        ids = [sb.store.create_connection(company, "gbol")["id"] for _ in range(200)]
        for connection_id in ids[:150]:
            sb.store.link(company, connection_id)
        for connection_id in ids[:100]:
            sb.store.deauthorize(company, connection_id)
        for connection_id in ids[:50]:
            sb.store.link(company, connection_id)
        sb.webhooks.flush(timeout=300)
        sb.advance(hours=1)
        sb.webhooks.flush(timeout=300)
    return {"events": history.events().drop(columns=["received_at", "payload"]),
            "changes": history.changes(since="2000-01-01T00:00:00Z")}  # fmt: skip


def with_trouble(db: str) -> list[str]:
    with History(db) as history:
        with Sandbox(seed="trouble") as clean_sb:
            clean = _trouble(clean_sb, history)
        options = {"webhook_duplicate_rate": 0.5, "webhook_reorder_rate": 0.5}
        with Sandbox(seed="trouble", **options) as messy_sb:
            messy = _trouble(messy_sb, history)
            duplicates = sum(a.duplicate for a in messy_sb.webhooks.attempts())
    same = all(clean[k].equals(messy[k]) for k in clean)
    return [f"{len(clean['events']):,} events; {duplicates} duplicate deliveries, reordered",
            "the same history" if same else "DIFFERENT histories"]  # fmt: skip


def hostile(db: str, env: dict[str, str]) -> list[str]:
    listen = Listen(db, SECRET, env=env)
    answers: Counter[str] = Counter()
    with requests.Session() as session:
        stored = signed_messages(HOSTILE, "replayed")
        for body, headers in stored:
            session.post(listen.url, data=body, headers=headers, timeout=30)
        for kind in ("forged", "tampered", "replayed", "stale"):
            for body, headers in _hostile(kind, stored):
                answer = session.post(listen.url, data=body, headers=headers, timeout=30)
                answers[f"{kind} {answer.status_code}"] += 1
    listen.stop()
    with History(db) as history:
        events = history.events()
    recorded = {kind: int(events["event_id"].str.startswith(kind).sum())
                for kind in ("forged", "tampered", "stale")}  # fmt: skip
    recorded["replayed"] = int(events["event_id"].str.startswith("replayed").sum()) - HOSTILE
    return [f"{HOSTILE} each; recorded: " + ", ".join(f"{k} {v}" for k, v in recorded.items()),
            "answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))]  # fmt: skip


def _hostile(kind: str, stored: list[tuple[bytes, dict[str, str]]]) -> list[Any]:
    if kind == "replayed":
        return stored
    made = signed_messages(HOSTILE, kind)
    if kind == "forged":
        return [(b, _signed(b, h["webhook-id"], OTHER_SECRET)) for b, h in made]
    if kind == "tampered":
        return [(b.replace(b"Deauthorized", b"Linked"), h) for b, h in made]
    return [(b, _signed(b, h["webhook-id"], SECRET, age=360)) for b, h in made]


def _signed(body: bytes, message_id: str, secret: str, age: float = 0) -> dict[str, str]:
    when = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=age)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, when.to_pydatetime(), body),
    }


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    rows = [["load average (1 min) at the start", f"{os.getloadavg()[0]:.1f}", ""]]
    with backends() as places:
        for name, db, env in places:
            os.environ.update(env)
            for label, lines in (
                ("killed mid-burst", killed_mid_burst(db, env)),
                ("duplicates, out of order", with_trouble(db)),
                ("forged, tampered, replayed, stale", hostile(db, env)),
            ):
                rows.append([name, label, "; ".join(lines)])  # fmt: skip
    rows.append(["load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}", ""])
    print(table(["backend", "case", "result"], rows))


if __name__ == "__main__":
    main()
