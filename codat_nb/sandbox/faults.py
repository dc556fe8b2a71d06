"""The sandbox's knobs: injected trouble, and switches for Codat's documented rough edges.

Trouble: latency, 429 with Retry-After, 5xx, a concurrency cap, dropped connections. Rough
edges (on by default where Codat behaves so; see docs/fidelity.md): the daily quota and the
other rate limits, one-time link URLs, a company limit, the page-size cap, ignoring ``query``
on connections, error bodies without ``validation``. Webhooks: the consumer's timeout, and
duplicate, out-of-order and delayed deliveries (``webhooks/delivery.py``). Every knob can be
changed while the server runs (a client's retry logic is tested by turning faults on
mid-walk). Draws come from a seeded generator so a single-threaded request sequence meets the
same faults every run.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from codat_nb.sandbox.knobs import FLAG, FRACTION, Knob, configure, count, number, optional

DROP, RATE_LIMITED = "drop", "rate_limited"


class Faults:
    """The knobs, plus what injecting trouble needs (requests in flight, a seeded draw).

    ``Faults(seed, **options)`` takes any knob by name; each can be changed at any time.
    """

    latency_ms = Knob(
        number(minimum=0),
        0.0,
        "added latency per request, in milliseconds",
        on_change=lambda faults: faults._wake_sleepers(),
    )
    rate_limit_rate = Knob(FRACTION, 0.0, "fraction of requests answered 429 with Retry-After")
    error_rate = Knob(FRACTION, 0.0, "fraction of requests answered 500 or 503")
    drop_rate = Knob(FRACTION, 0.0, "fraction of requests whose connection is dropped unanswered")
    retry_after = Knob(count(0), 1, "the Retry-After seconds of an injected 429")
    max_concurrency = Knob(
        optional(count(1)),
        None,
        "requests in flight before the next is answered 429; none: no cap",
    )
    daily_quota = Knob(
        optional(count(1)),
        None,
        "requests per UTC day (X-Rate-Limit-*); none: Codat's 1,000 x (1 + active connected"
        " companies)",
    )
    rate_limits = Knob(
        FLAG,
        True,
        "Codat's 1,000 requests a minute per client and 10 in flight per company (429 beyond)",
    )
    company_limit = Knob(
        optional(count(0)),
        None,
        "companies the account may hold; creating one more is a 402 (a free trial's is 50)",
    )
    one_time_links = Knob(
        optional(FLAG),
        None,
        "link URLs with ?otp= (usable once, for a day); none: on with a seeded portfolio",
    )
    max_page_size = Knob(
        optional(count(1)),
        None,
        "rows served per page at most, the pageSize asked for still echoed (Codat's PagingInfo"
        " says 2000)",
    )
    ignore_query = Knob(
        FLAG, False, "list connections ignoring query (Codat's querying guide says it may)"
    )
    error_validation = Knob(
        FLAG,
        True,
        "a validation object in every error body; off: as Codat's examples, which the official"
        " SDK 0.5.0 cannot parse",
    )
    webhook_timeout_s = Knob(
        number(minimum=0.01),
        15.0,
        "real seconds a webhook consumer has to answer 2xx before the attempt failed (Codat's 15)",
    )
    webhook_duplicate_rate = Knob(
        FRACTION, 0.0, "fraction of webhook messages delivered twice (the same webhook-id)"
    )
    webhook_reorder_rate = Knob(
        FRACTION,
        0.0,
        "fraction of webhook messages held back until a later one to the consumer was sent",
    )
    webhook_delay_rate = Knob(
        FRACTION, 0.0, "fraction of webhook messages first sent webhook_delay_s after the event"
    )
    webhook_delay_s = Knob(
        number(minimum=0), 300.0, "sandbox seconds a delayed webhook message waits"
    )

    def __init__(self, seed: str, **options: Any):
        self._lock = threading.Lock()
        self._rng = random.Random(f"faults:{seed}")
        self._wake = threading.Event()
        self._in_flight = 0
        configure(self, options)

    def _wake_sleepers(self) -> None:
        """Wake requests sleeping under the old latency, so a change takes effect at once."""
        old, self._wake = self._wake, threading.Event()
        old.set()

    @property
    def in_flight(self) -> int:
        """API requests being handled right now."""
        with self._lock:
            return self._in_flight

    @contextmanager
    def admitted(self) -> Iterator[bool]:
        """Count one request in flight for the block; yields True when it is over the cap."""
        with self._lock:
            self._in_flight += 1
            cap = self.max_concurrency
            over = cap is not None and self._in_flight > cap
        try:
            yield over
        finally:
            with self._lock:
                self._in_flight -= 1

    def wait_latency(self) -> None:
        """Sleep the configured latency; returns early if latency_ms is changed meanwhile."""
        if self.latency_ms > 0:
            self._wake.wait(self.latency_ms / 1000)

    def draw(self) -> str | int | None:
        """The injected outcome for one request: DROP, RATE_LIMITED, 500, 503 or None."""
        with self._lock:
            if self.drop_rate and self._rng.random() < self.drop_rate:
                return DROP
            if self.rate_limit_rate and self._rng.random() < self.rate_limit_rate:
                return RATE_LIMITED
            if self.error_rate and self._rng.random() < self.error_rate:
                return 500 if self._rng.random() < 0.5 else 503
        return None
