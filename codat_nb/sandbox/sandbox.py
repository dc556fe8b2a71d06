"""``Sandbox``: the parts of a local Codat put together and served.

A clock, the knobs, the one-time links, the store with its portfolio, the webhooks, the app,
and the HTTP server that serves it; the one place that knows how they fit, so each part stays
ignorant of the others.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from codat_nb.sandbox.app import SandboxApp
from codat_nb.sandbox.clock import DEFAULT_START, Clock
from codat_nb.sandbox.evolution import Changes, advance
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.knobs import knobs, refuse_unknown
from codat_nb.sandbox.links import OneTimeLinks
from codat_nb.sandbox.seed import demo_portfolio, scale_company, scale_portfolio
from codat_nb.sandbox.server import DEFAULT_READ_TIMEOUT, ThreadedServer
from codat_nb.sandbox.store import Store
from codat_nb.sandbox.webhooks import Webhooks
from codat_nb.sandbox.webhooks.api import WebhookApi
from codat_nb.wire.protocol import basic_auth_header

DEFAULT_API_KEY = "sandbox-api-key-0001"


class Sandbox:
    """A running sandbox. ``seed=None`` starts empty, ``"demo"`` loads the demo portfolio.

    It binds ``host`` (a free port by default), loads the portfolio and serves before the
    constructor returns, so ``sb.url`` is usable at once. ``read_timeout`` is the seconds a client
    may take to send a whole request (an idle keep-alive connection closes after it).
    ``options`` are the knobs by name (``latency_ms``, ``rate_limits``, ``one_time_links``, ...:
    see ``help(Faults)`` and docs/fidelity.md), also settable while it runs as
    ``sb.faults.<name>``. ``sb.webhooks`` sends Codat's webhooks to the consumers registered
    (``webhooks/hub.py``); ``sb.webhook_secret(id)`` is a consumer's signing secret.
    """

    def __init__(
        self,
        seed: str | None = "demo",
        *,
        api_key: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        start: datetime = DEFAULT_START,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        **options: Any,
    ):
        own = [name for name in inspect.signature(Sandbox).parameters if name != "options"]
        refuse_unknown("Sandbox()", options, [*own, *knobs(Faults)])
        if seed is not None and not isinstance(seed, str):
            raise TypeError(f"seed must be a string or None, got {seed!r}")
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise ValueError("api_key must be a non-empty string")
        if isinstance(read_timeout, bool) or not isinstance(read_timeout, (int, float)):
            raise TypeError(f"read_timeout must be a number of seconds, got {read_timeout!r}")
        if not 0 < read_timeout < float("inf"):
            raise ValueError(f"read_timeout must be positive and finite, got {read_timeout!r}")
        self.seed = seed
        self.api_key = api_key or DEFAULT_API_KEY
        self.auth_header = basic_auth_header(self.api_key)
        self.clock = Clock(start)
        id_seed = seed if seed is not None else ""
        if options.get("one_time_links") is None:  # a realistic account has them on
            options["one_time_links"] = seed is not None
        self.faults = Faults(id_seed, **options)
        self._server = ThreadedServer(
            host,
            port,
            now=self.clock.now,
            error_body=lambda status, message: self._app.error_body(status, message),
            read_timeout=lambda: float(read_timeout),
        )
        self.url, self.port = self._server.url, self._server.port
        try:
            links = OneTimeLinks(id_seed, self.clock, lambda: bool(self.faults.one_time_links))
            self.store = Store(self.url, self.clock, id_seed, links)
            if seed is not None:
                demo_portfolio(self.store, seed)
            self.webhooks = Webhooks(self.store, self.faults, id_seed, self._notice_the_day)
            self._app = SandboxApp(
                self.store, self.faults, self.api_key, id_seed, WebhookApi(self.webhooks)
            )
            self._app.limits.on_quota = self.webhooks.quota_changed
            self._server.start(self._app)
        except BaseException:
            self._server.stop()
            raise

    @property
    def unexpected_errors(self) -> list[str]:
        """Tracebacks of requests that hit the catch-all 500 (should always be empty); the
        first 20 only, however many there were."""
        return self._app.unexpected_errors

    def advance(self, *, days: float = 0, hours: float = 0) -> Changes:
        """Move the sandbox clock on and let the portfolio change as a real one would meanwhile
        (syncs, lost access, customers linking, sign-ups and deletions: ``evolution``). The
        same seed and the same calls give the same result."""
        for name, value in (("days", days), ("hours", hours)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not 0 <= value < float("inf"):
                raise ValueError(f"{name} must be zero or more, got {value!r}")
        changes = advance(self.store, self.seed or "", timedelta(days=days, hours=hours))
        self._notice_the_day()
        self.webhooks.wake()  # retries that fell due meanwhile go now
        return changes

    def webhook_secret(self, consumer_id: str) -> str:
        """A webhook consumer's signing secret (``whsec_...``; Codat's API does not return it,
        its Portal shows it): what a receiver verifies the consumer's messages with."""
        return self.webhooks.secret(consumer_id)

    def _notice_the_day(self) -> None:
        """Let the rate limits see the clock's day (a reached quota's reset is then sent)."""
        self._app.limits.roll_over(self.faults.daily_quota)

    def expire_account(self) -> None:
        """Expire the account: every API request answers Codat's 402 "Payment Required"."""
        self.store.expire_account()

    def load_scale(self, connections: int = 100_000, company_name: str = "Scale Test Ltd") -> str:
        """Add one company with ``connections`` connections (for paging benchmarks); its id."""
        return scale_company(self.store, connections, company_name)

    def load_portfolio(
        self, companies: int = 10_000, connections_per_company: int = 5
    ) -> list[str]:
        """Add many companies with a few connections each (for portfolio benchmarks); ids."""
        return scale_portfolio(self.store, companies, connections_per_company)

    def stop(self) -> None:
        """Stop serving and delivering webhooks, close open connections and free the port;
        safe to call twice."""
        self.webhooks.stop()
        self._server.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._server.stopped else "running"
        return f"Sandbox(url={self.url!r}, seed={self.seed!r}, {state})"
