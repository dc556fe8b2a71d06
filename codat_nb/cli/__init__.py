"""The ``codat-nb`` command line (also ``python -m codat_nb``): one module per subcommand.

Each module named in ``SUBCOMMANDS`` has ``register(commands)``, which adds its subparser and
sets ``handler`` to a function that runs the command and returns the exit code. Adding a
subcommand is one module and its name here.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

SUBCOMMANDS = (
    "sandbox",
    "console",
    "nbval-config",
    "snapshot",
    "webhook-secret",
    "listen",
)  # modules of codat_nb.cli, in the order --help lists them


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codat-nb", description="Tools for Codat's Sync for Expenses (v1) Connections API."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"codat_nb.cli.{name.replace('-', '_')}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code
