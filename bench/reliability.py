"""Reliability figures for docs/reliability.md: listings in rough weather, and under churn.

1. Weather: 10,000 connections of one company, default client, while the sandbox answers 30% of
   requests 429 (Retry-After 1) and 20% 500/503. Counts completed listings and their times.
2. Churn: a company of 300 connections listed with pages of 50 while another thread deletes a
   connection and creates one, again and again. Every state the company passes through is
   recorded; each listing must equal one of them or raise (IncompleteListingError). A result
   that is neither is a silent wrong answer, the thing that must never happen.
3. The issue's exact case: one already-fetched row deleted and one created while the walk is on
   page 2 (page size 50, 300 rows), five times.
4. Crafted sequences (issue 21), 100 rows in pages of 50, changes made between two reads:
   a. the review's four changes, by platformName: after page 1 a row of page 1 deleted and one
      created past the boundary; after page 2 the row that slid onto page 1 deleted and one
      created before the boundary (before: 10 of 10 silently wrong);
   b. a row changing place, by status: after page 1 a Linked row of page 1 deleted, a
      PendingAuth row linked (it moves before the boundary), one created (after it). What the
      default check cannot see (README); consistency="verified" walks until two walks agree.

    python -m bench.reliability [--weather-runs 20] [--churn-runs 30] [--crafted-runs 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
import warnings
from typing import Any

import requests

import codat_nb
from codat_nb.sandbox import Sandbox


def _ids(sb: Sandbox, company: str) -> tuple[str, ...]:
    return tuple(row["id"] for row in sb.store.connections_wire(company))


def weather(runs: int) -> dict[str, Any]:
    with Sandbox(seed=None) as sb:
        company = sb.load_scale(10_000)
        truth = list(_ids(sb, company))
        sb.faults.rate_limit_rate, sb.faults.retry_after, sb.faults.error_rate = 0.3, 1, 0.2
        client = codat_nb.CodatClient(auth_header=sb.auth_header, base_url=sb.url)
        times, failures, requests = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            try:
                frame = client.connections.list(company, progress=False)
            except codat_nb.CodatError as exc:
                failures.append(type(exc).__name__)
                continue
            times.append(time.perf_counter() - started)
            requests.append(frame.attrs["requests"])
            if list(frame["id"]) != truth:
                failures.append("wrong rows")
    return {"runs": runs, "times": times, "failures": failures, "requests": requests}


def _churner(sb: Sandbox, company: str, states: set, stop: threading.Event, rng: Any) -> None:
    """Delete a connection and create one, again and again, recording each state passed."""
    while not stop.is_set():
        sb.store.delete_connection(company, rng.choice(_ids(sb, company)))
        sb.store.create_connection(company, "qhyg")
        states.add(_ids(sb, company))
        time.sleep(rng.uniform(0.005, 0.05))


def churn(runs: int) -> dict[str, Any]:
    outcomes = {"consistent": 0, "raised": 0, "silently wrong": 0}
    relisted = 0
    rng = random.Random("churn")
    with Sandbox(seed=None) as sb:
        company = sb.store.create_company("Churn Ltd")["id"]
        for _ in range(300):
            sb.store.create_connection(company, "gbol")
        client = codat_nb.CodatClient(auth_header=sb.auth_header, base_url=sb.url)
        for _ in range(runs):
            states = {_ids(sb, company)}
            stop = threading.Event()
            thread = threading.Thread(target=_churner, args=(sb, company, states, stop, rng))
            thread.start()
            got = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    got = tuple(client.connections.list(company, page_size=50)["id"])
                except codat_nb.IncompleteListingError:
                    pass
                finally:
                    stop.set()
                    thread.join()
            relisted += sum("listed again" in str(w.message) for w in caught)
            states.add(_ids(sb, company))
            if got is None:
                outcomes["raised"] += 1
            elif got in states:
                outcomes["consistent"] += 1
            else:
                outcomes["silently wrong"] += 1
    return {"runs": runs, "outcomes": outcomes, "relisted": relisted}


def _one_case() -> dict[str, bool]:
    with Sandbox(seed=None) as sb:
        company = sb.store.create_company("Case Ltd")["id"]
        for _ in range(300):
            sb.store.create_connection(company, "gbol")
        first_page = _ids(sb, company)[:50]
        answered: list[Any] = []

        def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
            answered.append(response)
            if len(answered) == 1:  # page 1 answered: delete a row of it, create another
                sb.store.delete_connection(company, first_page[10])
                sb.store.create_connection(company, "qhyg")

        session = requests.Session()
        session.hooks["response"].append(on_response)
        client = codat_nb.CodatClient(auth_header=sb.auth_header, base_url=sb.url, session=session)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = client.connections.list(company, page_size=50, concurrency=1)
        return {
            "correct": list(frame["id"]) == list(_ids(sb, company)),
            "warned": any("listed again" in str(w.message) for w in caught),
        }


def issue_case(runs: int = 5) -> dict[str, Any]:
    return {"runs": runs, "results": [_one_case() for _ in range(runs)]}


def _ordered(sb: Sandbox, company: str, order_by: str) -> list[str]:
    rows = sb.store.page_connections(company, 1, 10**6, None, order_by).results
    return [row["id"] for row in rows]


def _four_changes(sb: Sandbox, company: str, answered: int) -> None:
    """The review's sequence, by platformName (Dynamics sorts first, Zoho last)."""
    order = _ordered(sb, company, "platformName")
    if answered == 1:
        sb.store.delete_connection(company, order[10])
        sb.store.create_connection(company, "rwuv")
    elif answered == 2:
        sb.store.delete_connection(company, order[49])
        sb.store.create_connection(company, "trji")


def _swap(sb: Sandbox, company: str, answered: int) -> None:
    """A row changing place, by status: D deleted, R linked, one created."""
    if answered != 1:
        return
    order = _ordered(sb, company, "status")
    pending = sorted(order[60:])
    sb.store.delete_connection(company, order[5])
    sb.store.link(company, next(c for c in pending if c < order[49]))
    sb.store.create_connection(company, "qhyg")


def _crafted_once(change: Any, order_by: str, linked: int, consistency: str) -> str:
    """One listing under a crafted sequence: "right", "noticed and right", "raised" or
    "silently wrong"."""
    with Sandbox(seed=None) as sb:
        company = sb.store.create_company("Crafted Ltd")["id"]
        for n in range(100):
            row = sb.store.create_connection(company, "qhyg")
            if n < linked:
                sb.store.link(company, row["id"])
        answered: list[Any] = []

        def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
            if "/connections" in response.url:
                answered.append(response)
                change(sb, company, len(answered))

        session = requests.Session()
        session.hooks["response"].append(on_response)
        client = codat_nb.CodatClient(auth_header=sb.auth_header, base_url=sb.url, session=session)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = client.connections.list(
                    company, order_by=order_by, page_size=50, consistency=consistency
                )
            except codat_nb.IncompleteListingError:
                return "raised"
        if list(frame["id"]) != _ordered(sb, company, order_by):
            return "silently wrong" if not caught else "wrong, with a warning"
        return "noticed and right" if caught else "right"


def crafted(runs: int) -> dict[str, dict[str, int]]:
    cases = {
        "a. four changes (default)": (_four_changes, "platformName", 0, "checked"),
        "b. a row changing place (default)": (_swap, "status", 60, "checked"),
        "b. a row changing place (verified)": (_swap, "status", 60, "verified"),
    }
    results: dict[str, dict[str, int]] = {}
    for name, case in cases.items():
        outcomes = [_crafted_once(*case) for _ in range(runs)]
        results[name] = {outcome: outcomes.count(outcome) for outcome in sorted(set(outcomes))}
    return results


def report(w: dict[str, Any], c: dict[str, Any], case: dict[str, Any], made: dict[str, Any]) -> str:
    times = w["times"]
    lines = [
        f"1. Weather: {len(times)} of {w['runs']} listings of 10,000 rows completed "
        f"(failures: {w['failures'] or 'none'}); time median {statistics.median(times):.1f} s, "
        f"max {max(times):.1f} s; requests per listing {min(w['requests'])}-"
        f"{max(w['requests'])} (3 without faults: pages 1 of 5,000, 2 of 4,999, 3 of 4,998).",
        f"2. Churn: {c['runs']} listings while rows were deleted and created: "
        + ", ".join(f"{v} {k}" for k, v in c["outcomes"].items())
        + f"; {c['relisted']} walk(s) repeated with a warning.",
        f"3. The issue's case: {sum(r['correct'] for r in case['results'])} of {case['runs']} "
        f"listings returned exactly the current rows; {sum(r['warned'] for r in case['results'])}"
        " noticed the moved boundary and walked again.",
    ]
    lines += [
        f"4{name[0]}. {name[3:]}: " + ", ".join(f"{n} {what}" for what, n in outcomes.items())
        for name, outcomes in made.items()
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weather-runs", type=int, default=20)
    parser.add_argument("--churn-runs", type=int, default=30)
    parser.add_argument("--crafted-runs", type=int, default=10)
    args = parser.parse_args()
    made = crafted(args.crafted_runs)
    print(report(weather(args.weather_runs), churn(args.churn_runs), issue_case(), made))


if __name__ == "__main__":
    main()
