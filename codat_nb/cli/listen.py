"""``codat-nb listen --db PATH_OR_URL``: receive Codat's webhooks and store each event once.

The endpoint's signing secret comes from ``CODAT_WEBHOOK_SECRET`` only (a flag would show it
in the process list), is checked before anything is opened, never printed, and removed from
the environment the ``--on-event`` command gets. The first line on stdout is the URL to
register as the webhook consumer's; then one line per stored event. Refusals, duplicates and
failures go to stderr, one line each. SIGTERM or Ctrl-C stops it after storing what it
accepted.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import threading
from typing import Any

from codat_nb.cli.messages import PASSWORD_IN_DB, Messages, exit_codes_epilog, password_in
from codat_nb.cli.sandbox import _port, is_loopback

SECRET_ENV = "CODAT_WEBHOOK_SECRET"
DEFAULT_PORT = 8080
EXIT_CODES = {
    0: "stopped (SIGTERM or Ctrl-C) after storing every event it had accepted",
    2: "usage or configuration error (no or malformed CODAT_WEBHOOK_SECRET, a password in "
    "--db, the address cannot be listened on)",
    3: "the history cannot be used (damaged, locked, not permitted, unreachable)",
}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "listen",
        help="receive Codat's webhooks, verify them and store each event in a history",
        description="Receive Codat's webhooks (connection, company and rate-limit events),\n"
        "verify each signature with svix, store every event once in the history and print\n"
        "one line per event. The endpoint's signing secret (whsec_...) is read from\n"
        f"{SECRET_ENV}, never from a flag. A PostgreSQL password goes in PGPASSWORD or\n"
        "~/.pgpass, never in --db.",
        epilog=exit_codes_epilog(EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db", required=True, metavar="PATH_OR_URL",
        help="the history: an SQLite file (created if new) or postgresql://user@host:port/db",
    )  # fmt: skip
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)",
    )  # fmt: skip
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; put a TLS proxy in front for Codat)",
    )  # fmt: skip
    parser.add_argument(
        "--on-event", metavar="COMMAND",
        help="run COMMAND (through /bin/sh) for each stored event, the event's JSON on its "
        "stdin; its failures are reported on stderr and never delay an answer",
    )  # fmt: skip
    parser.set_defaults(handler=run)


_messages = Messages("listen")
_say, _fail = _messages.say, _messages.fail


def _line(event: Any) -> None:
    print(event.line(), flush=True)


def run(args: argparse.Namespace) -> int:
    from codat_nb.events import CommandHook, Receiver, check_secret
    from codat_nb.history import HistoryError

    secret = os.environ.pop(SECRET_ENV, "")  # children (--on-event) never see it
    if not secret:
        return _fail(2, f"set {SECRET_ENV} to the endpoint's signing secret (whsec_...)")
    if password_in(args.db):
        return _fail(2, PASSWORD_IN_DB)
    try:
        checked = check_secret(secret)
    except ValueError as error:
        return _fail(2, f"{SECRET_ENV}: {error}")
    hook = CommandHook(args.on_event, _say) if args.on_event else None
    try:
        receiver = Receiver(args.db, secret=checked, host=args.host, port=args.port,
                            on_event=[_line, *([hook] if hook else [])], report=_say)  # fmt: skip
    except (HistoryError, OSError) as error:
        if hook is not None:
            hook.close()
        if isinstance(error, HistoryError):
            return _fail(3, str(error))
        hint = " (try --port 0 for a free port)" if error.errno == errno.EADDRINUSE else ""
        return _fail(2, f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
                     + hint)  # fmt: skip
    return _serve(receiver, hook, args.host)


def _serve(receiver: Any, hook: Any, host: str) -> int:
    if not is_loopback(host):
        _say(f"warning: {host!r} is not a loopback address: other machines can reach this "
             "receiver (every message is still verified)")  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print(f"Listening for Codat webhooks at {receiver.url}", flush=True)
        print(f"Storing events in {receiver.history.location}. Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
        if hook is not None:
            hook.close()
    counts = receiver.counts
    _say(f"stopped: {counts.stored} stored, {counts.duplicates} duplicates, "
         f"{counts.rejected} refused, {counts.failed} not stored (answered 503)")  # fmt: skip
    return 0
