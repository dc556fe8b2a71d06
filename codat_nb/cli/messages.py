"""What the commands share: messages on stderr named by the command (a scheduler's mail then
says which job spoke), and the check that keeps a database password off the process list."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

#: Why ``--db`` may not carry a password, and where it goes instead.
PASSWORD_IN_DB = (
    "--db holds a password, which the process list would show: give it in PGPASSWORD or "
    "~/.pgpass (PostgreSQL's client reads both), not in the URL"
)


class Messages:
    """``codat-nb COMMAND: ...`` lines on stderr."""

    def __init__(self, command: str) -> None:
        self.prefix = f"codat-nb {command}: "

    def say(self, message: str) -> None:
        print(self.prefix + message, file=sys.stderr, flush=True)

    def fail(self, code: int, message: str) -> int:
        """Say ``message`` and return ``code``, the command's exit code."""
        self.say(message)
        return code


def password_in(db: str) -> bool:
    """Whether a PostgreSQL URL carries a password (the process list would show it)."""
    if not db.startswith(("postgresql://", "postgres://")):
        return False
    parts = urlsplit(db)
    return parts.password is not None or "password" in parse_qs(parts.query)


def exit_codes_epilog(codes: Mapping[int, str], width: int = 79) -> str:
    """``--help``'s list of exit codes, each meaning wrapped under its code."""
    lines = ["exit codes:"]
    for code, meaning in codes.items():
        lines += textwrap.wrap(
            meaning, width, initial_indent=f"  {code:>3}  ", subsequent_indent=" " * 7
        )
    return "\n".join(lines)
