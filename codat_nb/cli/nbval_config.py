"""``codat-nb nbval-config``: print the path of the nbval sanitize rules codat_nb ships.

A notebook that uses the embedded sandbox shows the port the OS picked for it; the rules replace
it, so stored outputs compare equal on every run. Use them as
``pytest --nbval --nbval-sanitize-with="$(codat-nb nbval-config)" your.ipynb`` (with ``=``: a
path given as a separate argument would make pytest pick a parent folder as its root and
report a failing cell as ``../folder::Cell N``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SANITIZE_RULES = Path(__file__).resolve().parents[1] / "notebook" / "nbval_sanitize.cfg"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "nbval-config",
        help="print the path of codat_nb's nbval sanitize rules",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(SANITIZE_RULES)
    return 0
