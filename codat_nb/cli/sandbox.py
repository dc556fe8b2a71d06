"""``codat-nb sandbox``: serve a local Codat sandbox until Ctrl-C (or SIGTERM).

The fault flags are made from the knobs ``Faults`` declares, named as in Python (``--error-rate``
sets ``error_rate``) and checked by the knobs' own code, so a bad value is a usage error (exit 2)
naming the flag, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import signal
import socket
import sys
import threading
from typing import Any

from codat_nb.sandbox import DEFAULT_API_KEY, Sandbox
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.knobs import Knob, knobs

API_KEY_ENV = "CODAT_NB_SANDBOX_API_KEY"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "sandbox",
        help="run the local Codat sandbox until Ctrl-C",
        description="Serve a local, stateful Codat sandbox until Ctrl-C.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface (default 127.0.0.1, this machine only)"
    )
    parser.add_argument(
        "--port", type=_port, default=8765, help="port (default 8765); 0 picks a free one"
    )
    parser.add_argument("--seed", default="demo", help="'demo' (default), any string, or 'none'")
    parser.add_argument(
        "--api-key",
        type=_api_key,
        default=None,
        help=f"the API key clients must send (default: ${API_KEY_ENV} if set, else"
        f" {DEFAULT_API_KEY}); prefer ${API_KEY_ENV}: it keeps the key out of the process list",
    )
    faults = parser.add_argument_group(
        "knobs",
        "Injected trouble and Codat's rough edges (docs/fidelity.md); in Python, the Sandbox"
        " options of the same names.",
    )
    add_knob_flags(faults, Faults)
    faults.add_argument(
        "--fail-rate",
        dest="error_rate",
        type=_argument_type(Faults.error_rate),
        default=Faults.error_rate.default,
        metavar=Faults.error_rate.kind.metavar,
        help="the same as --error-rate (its older name)",
    )
    parser.set_defaults(handler=run)


def add_knob_flags(parser: Any, owner: type) -> None:
    """One flag per knob of ``owner``: ``--latency-ms`` for ``latency_ms``, ``--x``/``--no-x``
    for an on/off knob, each defaulting to the knob's default."""
    for name, knob in knobs(owner).items():
        flag = "--" + name.replace("_", "-")
        shown = "none" if knob.default is None else knob.default
        help = f"{knob.help} (default: {shown})".replace("%", "%%")  # argparse formats help
        if knob.kind.parse is None:
            action = argparse.BooleanOptionalAction
            parser.add_argument(flag, dest=name, action=action, default=knob.default, help=help)
        else:
            parser.add_argument(
                flag,
                dest=name,
                type=_argument_type(knob),
                default=knob.default,
                metavar=knob.kind.metavar,
                help=help,
            )


def _argument_type(knob: Knob) -> Any:
    def convert(text: str) -> Any:
        try:
            return knob.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def _api_key(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def run(args: argparse.Namespace) -> int:
    key_from_env = args.api_key is None and bool(os.environ.get(API_KEY_ENV))
    api_key = os.environ[API_KEY_ENV] if key_from_env else args.api_key
    try:
        sb = Sandbox(
            seed=None if args.seed.lower() == "none" else args.seed,
            port=args.port,
            host=args.host,
            api_key=api_key,
            **{name: getattr(args, name) for name in knobs(Faults)},
        )
    except OSError as exc:
        hint = " (try --port 0 for a free port)" if exc.errno == errno.EADDRINUSE else ""
        print(
            f"codat-nb sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
            + hint,
            file=sys.stderr,
        )
        return 2
    if not is_loopback(args.host):
        print(
            f"codat-nb sandbox: warning: {args.host!r} is not a loopback address, so other"
            " machines can reach this sandbox; --host 127.0.0.1 keeps it on this one.",
            file=sys.stderr,
            flush=True,
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:  # from the first line printed: Ctrl-C may come as soon as the banner is seen
        _banner(sb, args.seed, key_from_env)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    print("Sandbox stopped.", flush=True)
    return 0


def _banner(sb: Any, seed: str, key_from_env: bool) -> None:
    """Where it serves, how to authenticate (the key itself only when it was not from the
    environment), and a curl line to try."""
    print(f"Codat sandbox serving at {sb.url}  (seed: {seed})")
    if key_from_env:  # a key kept out of the process list stays out of logs and scrollback
        print(f"API key:              from ${API_KEY_ENV} (not shown)")
        print("Authorization header: Basic, then the key in base64 (not shown)")
        encoded = f"$(printf %s \"${API_KEY_ENV}\" | base64 | tr -d '\\n')"
        print(f"Try: curl -H \"Authorization: Basic {encoded}\" '{sb.url}/companies?pageSize=5'")
    else:
        print(f"API key:              {sb.api_key}")
        print(f"Authorization header: {sb.auth_header}")
        print(f"Try: curl -H 'Authorization: {sb.auth_header}' '{sb.url}/companies?pageSize=5'")
    print("Press Ctrl-C to stop.", flush=True)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback one (127.0.0.0/8, ::1)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return all(ipaddress.ip_address(address).is_loopback for address in addresses)
