"""How hard to retry, what to do after a failed attempt, and the one pause every request of a
client shares after a 429.

``next_step`` is the whole retry decision as a pure function of the attempt's ``Outcome`` and
the clock, so each rule is tested without sockets (as stripe-python's ``_should_retry``)."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from codat_nb.exceptions import NotFoundError, RateLimitError
from codat_nb.exchange import Outcome

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: How long a refused connection is retried: a server restarting answers within it, a wrong
#: URL or a sandbox that is not running is reported at once.
REFUSED_WINDOW_S = 1.0


def _positive_number(name: str, value: object, *, zero: bool = False) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value >= 0 if zero else value > 0)
    )
    if not ok:
        bound = ">= 0" if zero else "> 0"
        raise ValueError(f"RetryPolicy.{name} must be a finite number {bound}, got {value!r}")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped per wait, within one deadline per call.

    Ten retries by default: under heavy 429/5xx weather (30% and 20% of answers) one request
    still fails only about once in ten thousand, and the deadline bounds the wait.

    ``deadline`` (seconds) bounds a whole call: connecting, reading and every retry. A
    Retry-After header replaces the computed wait when it is positive (it is the server's
    instruction); one of 0, negative or in the past still waits the computed backoff.
    """

    max_retries: int = 10
    backoff: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    jitter: float = 0.5
    deadline: float = 120.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError(f"max_retries must be an int, got {type(self.max_retries).__name__}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        for name in ("backoff", "backoff_factor", "backoff_max", "deadline"):
            _positive_number(name, getattr(self, name))
        _positive_number("jitter", self.jitter, zero=True)

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        if retry_after is not None and retry_after > 0:
            return retry_after + random.uniform(0, self.jitter * min(retry_after, 1.0))
        base = min(self.backoff_max, self.backoff * self.backoff_factor ** (retry_number - 1))
        return base + random.uniform(0, self.jitter * base)


class RatePause:
    """After a 429, every request of the client waits: one backoff for a whole listing, not
    one per worker (Codat's limits are per client, so a worker alone backing off helps
    nobody)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resume_at = 0.0

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._resume_at - time.monotonic())


class Step(NamedTuple):
    """What follows a failed attempt.

    ``deleted``: a DELETE's retry found nothing after an attempt that may have applied, so it
    worked; ``refused``: nothing listens at the address; ``raise``: the error is final
    (``note`` is added to its message); ``quota``: Codat's wait outlasts the deadline;
    ``pause``: every request of the client waits ``wait`` s (a 429); ``sleep``: this request
    waits ``wait`` s and tries again.
    """

    action: Literal["deleted", "refused", "raise", "quota", "pause", "sleep"]
    wait: float = 0.0
    note: str = ""


def next_step(
    outcome: Outcome,
    *,
    method: str,
    attempt: int,
    elapsed: float,
    left: float,
    maybe_applied: bool,
    policy: RetryPolicy,
) -> Step:
    """After attempt ``attempt`` (1-based) failed with ``outcome``, ``elapsed`` s into the
    call with ``left`` s to its deadline; ``maybe_applied``: an earlier attempt may have
    acted."""
    if method == "DELETE" and maybe_applied and isinstance(outcome.error, NotFoundError):
        return Step("deleted")  # it existed (callers read first) and is gone
    if outcome.refused and (attempt > policy.max_retries or elapsed > REFUSED_WINDOW_S):
        return Step("refused")
    if not outcome.retryable:  # a final answer; after retries, say so
        return Step("raise", note=f" (on attempt {attempt}, after retries)" if attempt > 1 else "")
    if attempt > policy.max_retries:
        return Step("raise", note=f" (gave up after {attempt} attempts)")
    wait = policy.delay(attempt, outcome.retry_after)
    if outcome.refused:
        wait = min(wait, REFUSED_WINDOW_S / 4)
    if isinstance(outcome.error, RateLimitError):
        # Waiting past the deadline means the quota, not a burst: end the call.
        return Step("quota" if wait >= left else "pause", wait)
    if wait >= left:
        note = (
            f" (gave up after {attempt} attempts: the {policy.deadline:g} s deadline would "
            "pass before the next one)"
        )
        return Step("raise", note=note)
    return Step("sleep", wait)
