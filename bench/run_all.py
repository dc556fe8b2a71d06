"""Run every benchmark and print the results as Markdown (paste into docs/benchmarks.md).

    python -m bench.run_all [--quick] [--out FILE]

``--quick`` uses fewer repeats (a smoke run); the documented figures use the defaults.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import concurrency, history, history_first, listing, portfolio, scale, throughput
from bench.common import machine, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    parser.add_argument("--out", help="also write the Markdown to this file")
    args = parser.parse_args()
    repeats = 3 if args.quick else 9
    started = time.perf_counter()
    sections = [
        "## Machine\n\n" + table(["", ""], [[k, v] for k, v in machine().items()]),
        "## 1. 10,000 connections into a DataFrame\n\n" + listing.report(listing.run(repeats)),
        "### 1b. The same with the sandbox in the benchmark's own process (no SDK)\n\n"
        + listing.report(listing.run(repeats, in_process=True, with_sdk=False)),
        "## 2. 20 pages with 50 ms latency: concurrent vs sequential\n\n"
        + concurrency.report(concurrency.run(max(3, repeats // 2))),
        "## 3. 100,000 connections: time and peak memory\n\n"
        + scale.report(scale.run(3 if not args.quick else 1)),
        "## 4. Sandbox throughput and one request's cost\n\n"
        + throughput.report(throughput.run(3 if not args.quick else 1)),
        "## 5. Status history: 100,000 connections x 30 daily snapshots, SQLite and PostgreSQL\n\n"
        + history.report(history.run(3 if not args.quick else 1)),
        "### 5b. The first snapshot on PostgreSQL: indexes kept or built after\n\n"
        + history_first.report(history_first.run(5 if not args.quick else 1)),
        "## 6. The whole portfolio: embedded vs per-company vs a bare loop\n\n"
        + portfolio.report(portfolio.run(5 if not args.quick else 3)),
    ]
    elapsed = time.perf_counter() - started
    text = (
        "\n\n".join(sections)
        + f"\n\n(whole run: {elapsed:.0f} s; command: python -m bench.run_all)\n"
    )
    print(text)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
