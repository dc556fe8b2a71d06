"""``codat-nb snapshot --db PATH``: the daily job. List the portfolio, record it, report changes.

Credentials come from the environment as for ``codat_nb.connect()`` (``CODAT_API_KEY`` or
``CODAT_AUTH_HEADER``, ``CODAT_BASE_URL``); with none, the embedded demo sandbox is listed. Each
snapshot records where it was listed from, so a job that lost its credentials cannot slip the
demo portfolio into a real account's history (the history refuses it, exit 3).

Credentials are resolved before the history file is touched, and the file is opened before the
portfolio is listed, so a bad path costs no API calls.
What changed since the previous snapshot is printed: status changes, connections that appeared
or disappeared, and how many Linked connections did not sync. Exit codes: ``EXIT_CODES``
(``--help`` lists them).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd

EXIT_CODES = {
    0: "the snapshot was recorded (or had been already)",
    1: "recorded, and --fail-on-deauthorized found connections newly Deauthorized",
    2: "usage or configuration error (bad flags, CODAT_BASE_URL without a key)",
    3: "the history file cannot be used, or refused the snapshot (nothing recorded)",
    4: "the portfolio could not be listed from Codat (nothing recorded)",
    130: "interrupted (before recording: nothing recorded; after: said so, and "
    "--fail-on-deauthorized still exits 1)",
}

SHOWN = ["company_name", "platform_name", "from_status", "to_status", "connection_id"]
HEADINGS = {
    "status_changed": "Changed status",
    "appeared": "Appeared",
    "disappeared": "Disappeared",
}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "snapshot",
        help="record today's connection statuses in a history file and print what changed",
        description="List every connection, record the portfolio in the history file and\n"
        "print what changed since the previous snapshot. Credentials as for\n"
        "codat_nb.connect(): CODAT_API_KEY or CODAT_AUTH_HEADER, and CODAT_BASE_URL;\n"
        "with none, the embedded demo sandbox is listed.",
        epilog="exit codes:\n"
        + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db", required=True, metavar="PATH", help="the history file (created if new)"
    )
    parser.add_argument(
        "--fail-on-deauthorized",
        action="store_true",
        help="exit 1 when connections became Deauthorized since the previous snapshot "
        "(for alerting from a scheduler)",
    )
    parser.set_defaults(handler=run)


def _fail(code: int, message: str) -> int:
    print(f"codat-nb snapshot: {message}", file=sys.stderr, flush=True)
    return code


def run(args: argparse.Namespace) -> int:
    from codat_nb import connect
    from codat_nb.exceptions import CodatError
    from codat_nb.history import History, HistoryError

    try:
        client = connect()  # credentials first: a job without them touches no file
    except (TypeError, ValueError) as error:
        return _fail(2, str(error))
    summary, interrupted = None, False
    try:
        with client, History(args.db) as history:
            source = "embedded sandbox" if client.sandbox is not None else client.base_url
            try:  # strict: a company that cannot be read fails the job, not the history
                portfolio = client.connections.list_all(progress=False, strict=True)
            except CodatError as error:
                return _fail(4, f"cannot list the portfolio from {source}: {error}")
            summary = history.record(portfolio, source=source)
            print(summary, flush=True)
            if summary.previous is not None and summary.new:
                _report(history.changes(since=summary.previous, until=summary.taken_at))
    except HistoryError as error:
        return _fail(3, str(error))
    except ValueError as error:  # the history refused this snapshot (older, other source)
        return _fail(3, f"nothing recorded in {args.db}: {error}")
    except KeyboardInterrupt:
        if summary is None:
            return _fail(130, "interrupted; nothing recorded")
        interrupted = True  # recorded: say so, and still alert (the next run compares with it)
        _fail(130, f"interrupted after recording {summary.taken_at.isoformat()}")
    if summary.new and args.fail_on_deauthorized and summary.deauthorized:
        return _fail(1, f"{summary.deauthorized} connection(s) newly Deauthorized")
    return 130 if interrupted else 0


def _report(changes: pd.DataFrame) -> None:
    for kind, heading in HEADINGS.items():
        rows = changes[changes["change"] == kind]
        if len(rows):
            print(f"\n{heading} ({len(rows)}):")
            print(rows[SHOWN].to_string(index=False), flush=True)
