"""Command line: ``python -m codat_nb sandbox ...`` (subcommands so more can be added later)."""

from __future__ import annotations

import argparse
import errno
import math
import signal
import sys
import threading
from collections.abc import Sequence


def _sandbox(args: argparse.Namespace) -> int:
    from codat_nb.sandbox import Sandbox

    try:
        sb = Sandbox(
            seed=None if args.seed.lower() == "none" else args.seed,
            port=args.port,
            host=args.host,
            latency_ms=args.latency_ms,
            error_rate=args.fail_rate,
            rate_limit_rate=args.rate_limit_rate,
            api_key=args.api_key,
        )
    except OSError as exc:
        hint = " (try --port 0 for a free port)" if exc.errno == errno.EADDRINUSE else ""
        print(
            f"codat-nb sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
            + hint,
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"Codat sandbox serving at {sb.url}  (seed: {args.seed})")
    print(f"API key:              {sb.api_key}")
    print(f"Authorization header: {sb.auth_header}")
    print(f"Try: curl -H 'Authorization: {sb.auth_header}' '{sb.url}/companies?pageSize=5'")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    print("Sandbox stopped.", flush=True)
    return 0


# Argument types check what Sandbox would refuse, so a bad flag is a usage line, not a traceback.
def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _milliseconds(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def _api_key(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codat-nb", description="Tools for Codat's Sync for Expenses (v1) Connections API."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sandbox = commands.add_parser(
        "sandbox",
        help="run the local Codat sandbox until Ctrl-C",
        description="Serve a local, stateful Codat sandbox until Ctrl-C.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    sandbox.add_argument("--port", type=_port, default=8765, help="port; 0 picks a free one")
    sandbox.add_argument("--seed", default="demo", help="'demo' (default), any string, or 'none'")
    sandbox.add_argument(
        "--latency-ms", type=_milliseconds, default=0, help="added latency per request"
    )
    sandbox.add_argument(
        "--fail-rate", type=_fraction, default=0.0, help="fraction answered 500/503"
    )
    sandbox.add_argument(
        "--rate-limit-rate", type=_fraction, default=0.0, help="fraction answered 429"
    )
    sandbox.add_argument(
        "--api-key", type=_api_key, default=None, help="API key to accept (default: fixed)"
    )
    sandbox.set_defaults(handler=_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
