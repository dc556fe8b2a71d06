"""``codat-nb snapshot --db PATH_OR_URL``: the daily job. List the portfolio, record it, report.

Credentials come from the environment as for ``codat_nb.connect()`` (``CODAT_API_KEY`` or
``CODAT_AUTH_HEADER``, ``CODAT_BASE_URL``); with none, the embedded demo sandbox is listed. Each
snapshot records where it was listed from, so a job that lost its credentials cannot slip the
demo portfolio into a real account's history (the history refuses it, exit 3).

Order: credentials, then the history (opened and checked for damage), then the listing, so a
bad path, a damaged file or an unreachable database costs no API calls. Once the snapshot is
committed, nothing that fails afterwards (the report, closing, a commit that stored the
snapshot but reported an error) turns it into "nothing recorded": the next run compares with
this snapshot, so an alert not raised now would never be raised. ``EXIT_CODES`` (``--help``
lists them) say exactly what was recorded.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from codat_nb.cli.messages import PASSWORD_IN_DB, Messages, exit_codes_epilog, password_in

if TYPE_CHECKING:
    from codat_nb.client import CodatClient
    from codat_nb.history import History, Recorded

EXIT_CODES = {
    0: "the snapshot was recorded (or had been already), and nothing failed",
    1: "recorded, and --fail-on-deauthorized found connections newly Deauthorized "
    "(whatever failed after recording: stderr says)",
    2: "usage or configuration error (bad flags, CODAT_BASE_URL without a key, a password in --db)",
    3: "the history cannot be used (damaged, locked, not permitted, unreachable) or refused the "
    "snapshot: nothing recorded (unless stderr says it is not known: recording again is safe)",
    4: "the portfolio could not be listed from Codat (nothing recorded)",
    5: "recorded, but something failed after the snapshot was stored (stderr says what); "
    "no alert was due",
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
        help="record today's connection statuses in a history and print what changed",
        description="List every connection, record the portfolio in the history and print\n"
        "what changed since the previous snapshot. Credentials as for\n"
        "codat_nb.connect(): CODAT_API_KEY or CODAT_AUTH_HEADER, and CODAT_BASE_URL;\n"
        "with none, the embedded demo sandbox is listed. A PostgreSQL password goes in\n"
        "PGPASSWORD or ~/.pgpass, never in --db (the process list would show it).",
        epilog=exit_codes_epilog(EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db",
        required=True,
        metavar="PATH_OR_URL",
        help="the history: an SQLite file (created if new) or postgresql://user@host:port/db",
    )
    parser.add_argument(
        "--fail-on-deauthorized",
        action="store_true",
        help="exit 1 when connections became Deauthorized since the previous snapshot "
        "(for alerting from a scheduler)",
    )
    parser.add_argument(
        "--demo-days",
        type=_days,
        default=0,
        metavar="N",
        help="embedded demo sandbox only: record a snapshot, then move the demo's clock on a "
        "day (customers link, lose access, sign up) and record again, N times: a demo history "
        "with something to show (the same N gives the same history)",
    )
    parser.set_defaults(handler=run)


def _days(text: str) -> int:
    """``--demo-days``: a whole number of days, 0 to 366 (argparse names the flag if not)."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 0 <= days <= 366:
        raise argparse.ArgumentTypeError(f"{days} is not between 0 and 366")
    return days


_messages = Messages("snapshot")
_say, _fail = _messages.say, _messages.fail


@dataclass
class _Job:
    """What happened so far: once ``summary`` is set, the snapshot is recorded."""

    db: str
    days: int = 0  # --demo-days: the demo's clock moved on this many times, a snapshot each
    summary: Recorded | None = None  # the last snapshot recorded
    first_day: str = ""  # the first snapshot's day
    deauthorized: int = 0  # connections newly Deauthorized in the snapshots recorded now
    uncertain: bool = False  # the commit failed and could not be checked
    failed: list[str] = field(default_factory=list)  # what failed after recording
    interrupted: bool = False

    def keep(self, summary: Recorded) -> None:
        """Note a snapshot recorded (or that may be), and its alert."""
        self.first_day = self.first_day or summary.taken_at.date().isoformat()
        self.summary = summary
        self.deauthorized += summary.deauthorized if summary.new else 0


def run(args: argparse.Namespace) -> int:
    from codat_nb import connect

    if password_in(args.db):
        return _fail(2, PASSWORD_IN_DB)
    try:
        client = connect()  # credentials first: a job without them touches no history
    except (TypeError, ValueError) as error:
        return _fail(2, str(error))
    if args.demo_days and client.sandbox is None:
        client.close()
        return _fail(
            2, f"--demo-days moves the embedded demo sandbox's clock, but this job lists "
            f"{client.base_url} (CODAT_* credentials are set): unset them for a demo history"
        )  # fmt: skip
    job = _Job(args.db, days=args.demo_days)
    try:
        with client:
            code = _record(client, job)
        if code is not None:
            return code
    except KeyboardInterrupt:
        if job.summary is None:
            return _fail(130, "interrupted; nothing recorded")
        job.interrupted = True
    except Exception as error:  # recorded: say what failed, and keep the alert
        if job.summary is None:
            raise
        job.failed.append(f"{type(error).__name__}: {error}")
    return _conclude(job, args.fail_on_deauthorized)


def _record(client: CodatClient, job: _Job) -> int | None:
    """Open and check the history, then list, record and report (each demo day with
    ``--demo-days``); an exit code if nothing was recorded, None once something was (the
    report may still fail: the caller notes that)."""
    from codat_nb.history import History, HistoryError

    try:
        history = History(job.db)
        history.check()  # damage is found before the listing is spent, and before writing
    except HistoryError as error:
        return _fail(3, str(error))
    with history:
        for day in range(job.days + 1):
            if day:
                assert client.sandbox is not None  # --demo-days: checked in run()
                client.sandbox.advance(days=1)
            code = _record_once(client, history, job)
            if code is not None and job.summary is not None:  # a later demo day failed
                job.failed.append(f"day {day} of the demo was not recorded (exit {code})")
                return None
            if code is not None or job.uncertain:
                return code
        if job.days:
            assert job.summary is not None
            print(
                f"\n{job.days + 1} daily snapshots of the demo in {history.location}; see "
                f"what changed with History({job.db!r}).changes(since={job.first_day!r})"
                ".query(\"change != 'stalled'\")",
                flush=True,
            )
    return None


def _record_once(client: CodatClient, history: History, job: _Job) -> int | None:
    """List and record one snapshot, print it (with what changed, unless a demo history is
    being built: one line a day); an exit code if nothing was recorded."""
    from codat_nb.exceptions import CodatError
    from codat_nb.history import HistoryError, RecordingUncertain

    source = "embedded sandbox" if client.sandbox is not None else client.base_url
    try:  # strict: a company that cannot be read fails the job, not the history
        portfolio = client.connections.list_all(progress=False, strict=True)
    except CodatError as error:
        return _fail(4, f"cannot list the portfolio from {source}: {error}")
    try:
        with warnings.catch_warnings():  # a warning of the record is reported below
            warnings.simplefilter("ignore", RuntimeWarning)
            summary = history.record(portfolio, source=source)
    except RecordingUncertain as error:
        job.keep(error.summary)
        job.uncertain = True
        _say(str(error))
        return None
    except HistoryError as error:
        return _fail(3, str(error))
    except ValueError as error:  # the history refused this snapshot (older, other source)
        return _fail(3, f"nothing recorded in {history.location}: {error}")
    job.keep(summary)
    if summary.warning:
        job.failed.append(summary.warning)
    print(summary, flush=True)
    if not job.days and summary.previous is not None and summary.new:
        _report(history.changes(since=summary.previous, until=summary.taken_at))
    return None


def _conclude(job: _Job, alerting: bool) -> int:
    """The exit code once the snapshot is recorded (or may be): the alert comes first."""
    summary = job.summary
    assert summary is not None
    when = summary.taken_at.isoformat()
    for failure in job.failed:
        _say(f"recorded {when}, but then: {failure}")
    if job.interrupted:
        _say(f"interrupted after recording {when}")
    if alerting and job.deauthorized:
        return _fail(1, f"{job.deauthorized} connection(s) newly Deauthorized")
    if job.uncertain:
        return 3
    if job.interrupted:
        return 130
    return 5 if job.failed else 0


def _report(changes: pd.DataFrame) -> None:
    for kind, heading in HEADINGS.items():
        rows = changes[changes["change"] == kind]
        if len(rows):
            print(f"\n{heading} ({len(rows)}):")
            print(rows[SHOWN].to_string(index=False), flush=True)
