"""Reliability figures for docs/reliability.md: listings in rough weather, and under churn.

1. Weather: 10,000 connections of one company, default client, while the sandbox answers 30% of
   requests 429 (Retry-After 1) and 20% 500/503. Counts completed listings and their times.
2. Churn: a company of 300 connections listed with pages of 50 while another thread deletes a
   connection and creates one, again and again. Every state the company passes through is
   recorded; each listing must equal one of them or raise (IncompleteListingError). A result
   that is neither is a silent wrong answer, the thing that must never happen.
3. The issue's exact case: one already-fetched row deleted and one created while the walk is on
   page 2 (page size 50, 300 rows), five times.

    python -m bench.reliability [--weather-runs 20] [--churn-runs 30]
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
            "warned": any("page boundary" in str(w.message) for w in caught),
        }


def issue_case(runs: int = 5) -> dict[str, Any]:
    return {"runs": runs, "results": [_one_case() for _ in range(runs)]}


def report(w: dict[str, Any], c: dict[str, Any], case: dict[str, Any]) -> str:
    times = w["times"]
    lines = [
        f"1. Weather: {len(times)} of {w['runs']} listings of 10,000 rows completed "
        f"(failures: {w['failures'] or 'none'}); time median {statistics.median(times):.1f} s, "
        f"max {max(times):.1f} s; requests per listing {min(w['requests'])}-"
        f"{max(w['requests'])} (3 without faults: 2 pages and 1 boundary check).",
        f"2. Churn: {c['runs']} listings while rows were deleted and created: "
        + ", ".join(f"{v} {k}" for k, v in c["outcomes"].items())
        + f"; {c['relisted']} walk(s) repeated with a warning.",
        f"3. The issue's case: {sum(r['correct'] for r in case['results'])} of {case['runs']} "
        f"listings returned exactly the current rows; {sum(r['warned'] for r in case['results'])}"
        " noticed the moved boundary and walked again.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weather-runs", type=int, default=20)
    parser.add_argument("--churn-runs", type=int, default=30)
    args = parser.parse_args()
    print(report(weather(args.weather_runs), churn(args.churn_runs), issue_case()))


if __name__ == "__main__":
    main()
