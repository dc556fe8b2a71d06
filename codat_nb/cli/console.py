"""``codat-nb console``: the support console as a web page on this machine, until Ctrl-C.

Credentials are read as ``codat_nb.connect()`` reads them (``CODAT_API_KEY`` or
``CODAT_AUTH_HEADER``, with ``CODAT_BASE_URL``; none: an embedded demo sandbox, which this
process keeps running for every visit of the page). They are checked with one request before
anything is served, so bad credentials, an unreachable Codat or a busy port are one clear line
and exit code 2, not a page full of errors.
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import socket
from typing import Any

from codat_nb.cli.messages import Messages
from codat_nb.cli.sandbox import _port
from codat_nb.exceptions import AuthenticationError, CodatError, PermissionDeniedError

DEFAULT_PORT = 8866


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "console",
        help="serve the support console as a web page (on 127.0.0.1)",
        description="Serve the support console (portfolio view and connection manager) as a "
        "web page on 127.0.0.1, with the credentials codat_nb.connect() reads.",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}); 0 picks a free one",
    )
    parser.set_defaults(handler=run)


_messages = Messages("console")


def _fail(message: str) -> int:
    """Every failure of the console command is a usage or configuration error (exit 2)."""
    return _messages.fail(2, message)


def _free(port: int) -> int | None:
    """``port`` (or a free one for 0) if it can be bound on 127.0.0.1 now, else None."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return None
            raise
        bound: int = sock.getsockname()[1]
        return bound


def kernel_problem(specs: Any = None) -> str | None:
    """Why the page could not run (Voila runs it in a Python kernel), or None. ``specs``: a
    ``jupyter_client`` KernelSpecManager (the default finds what this install has)."""
    from jupyter_client.kernelspec import KernelSpecManager

    found = (specs or KernelSpecManager()).get_all_specs().values()
    if any(spec["spec"].get("language", "").lower() == "python" for spec in found):
        return None
    return (
        "no Jupyter kernel for Python is installed here, so the page could not run; "
        "install one with: pip install ipykernel"
    )


def _check(client: Any) -> str | None:
    """Why the credentials cannot be used (one cheap request), or None when they can."""
    try:
        client.companies.list(page_size=1, limit=1, progress=False)
    except (AuthenticationError, PermissionDeniedError) as exc:
        return (
            f"{client.base_url} refused the credentials ({exc.status_code}: {exc.message}; "
            f"correlationId {exc.correlation_id}); check CODAT_API_KEY or CODAT_AUTH_HEADER"
        )
    except CodatError as exc:
        return f"cannot use {client.base_url}: {type(exc).__name__}: {exc}"
    return None


def run(args: argparse.Namespace) -> int:
    import codat_nb
    from codat_nb.notebook.console import DEMO_ENV, serve

    missing = kernel_problem()
    if missing is not None:
        return _fail(missing)
    port = _free(args.port)
    if port is None:
        return _fail(
            f"port {args.port} on 127.0.0.1 is in use (another console?); "
            "pass --port with another number, or --port 0 for a free one"
        )
    try:
        client = codat_nb.connect()
    except ValueError as exc:
        return _fail(str(exc))
    with client:
        problem = _check(client)
        if problem is not None:
            return _fail(problem)
        sandbox = getattr(client, "sandbox", None)
        os.environ.pop(DEMO_ENV, None)
        if sandbox is not None:  # the page's kernels use this process's sandbox
            os.environ.pop("CODAT_API_KEY", None)
            os.environ["CODAT_AUTH_HEADER"] = sandbox.auth_header
            os.environ["CODAT_BASE_URL"] = sandbox.url
            os.environ[DEMO_ENV] = "1"  # the page says it is the demo, not a Codat by URL
        token = secrets.token_urlsafe(24)

        def ready(url: str) -> None:
            print(f"Support console at {url}", flush=True)
            print("Press Ctrl-C to stop.", flush=True)

        try:
            serve(port, token, ready)
        except SystemExit as exc:  # Voila exits when it cannot listen after all
            if exc.code:
                return _fail(f"could not listen on 127.0.0.1:{port} (taken meanwhile?)")
        except KeyboardInterrupt:
            pass
    print("Console stopped.", flush=True)
    return 0
