"""``codat-nb webhook-secret CONSUMER_ID --url URL``: print a sandbox webhook consumer's secret.

Codat's API never returns a consumer's signing secret (its Portal shows it); a receiver in
another process than the sandbox needs it, so the sandbox serves it on its own authenticated
route (``GET /sandbox/webhooks/{id}/secret``) and this prints it alone on stdout, for
``export CODAT_WEBHOOK_SECRET="$(codat-nb webhook-secret ID --url URL)"``. The API key is read
from the environment, never a flag (``CODAT_NB_SANDBOX_API_KEY``, else ``CODAT_API_KEY`` or
``CODAT_AUTH_HEADER``; with none, the sandbox's default key), the URL from ``--url`` or
``CODAT_BASE_URL``. Exit codes: 0 printed, 1 the sandbox refused or was not reached, 2 usage.
"""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import urlsplit

import requests

from codat_nb.cli.messages import Messages
from codat_nb.wire.protocol import UUID_TEXT, basic_auth_header

#: Where the key may come from, in the order looked at (the first two hold the key itself).
KEY_VARIABLES = ("CODAT_NB_SANDBOX_API_KEY", "CODAT_API_KEY")
HEADER_VARIABLE = "CODAT_AUTH_HEADER"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "webhook-secret",
        help="print a sandbox webhook consumer's signing secret (whsec_...)",
        description="Print a sandbox webhook consumer's signing secret, alone on stdout. The key"
        f" comes from ${KEY_VARIABLES[0]}, ${KEY_VARIABLES[1]} or ${HEADER_VARIABLE} (else the"
        " sandbox's default key).",
    )
    parser.add_argument("consumer_id", metavar="CONSUMER_ID", help="the consumer's id (a UUID)")
    parser.add_argument("--url", default=None, help="the sandbox's URL (default: $CODAT_BASE_URL)")
    parser.set_defaults(handler=run)


_fail = Messages("webhook-secret").fail


def run(args: argparse.Namespace) -> int:
    from codat_nb.sandbox import DEFAULT_API_KEY

    url = (args.url or os.environ.get("CODAT_BASE_URL") or "").rstrip("/")
    if not url:
        return _fail(2, "give the sandbox's URL: --url http://127.0.0.1:8765 (or CODAT_BASE_URL)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _fail(
            2, f"the sandbox's URL must be http(s)://HOST:PORT (e.g. http://127.0.0.1:8765), "
            f"not {url!r}"
        )  # fmt: skip
    if not UUID_TEXT.fullmatch(args.consumer_id):
        return _fail(2, f"CONSUMER_ID must be a UUID, got {args.consumer_id!r}")
    key = next((os.environ[name] for name in KEY_VARIABLES if os.environ.get(name)), None)
    header = os.environ.get(HEADER_VARIABLE) if key is None else None
    auth = header or basic_auth_header(key or DEFAULT_API_KEY)
    where = f"{url}/sandbox/webhooks/{args.consumer_id.lower()}/secret"
    try:
        answer = requests.get(where, headers={"Authorization": auth}, timeout=30)
    except requests.ConnectionError:
        return _fail(1, f"cannot reach {url}: nothing answers there (is codat-nb sandbox running?)")
    except requests.RequestException as exc:
        return _fail(1, f"cannot reach {url}: {type(exc).__name__}")
    if answer.status_code == 404:
        return _fail(1, f"{url} has no webhook consumer {args.consumer_id} (is it a sandbox?)")
    if answer.status_code != 200:
        return _fail(1, f"{url} answered {answer.status_code}: {_error(answer)}")
    try:
        secret = answer.json()["secret"]
    except (ValueError, KeyError, TypeError):
        return _fail(1, f"{url} answered without a secret (is it a codat-nb sandbox?)")
    print(secret, flush=True)
    return 0


def _error(answer: requests.Response) -> str:
    try:
        return str(answer.json().get("error", ""))[:200]
    except ValueError:
        return answer.text[:200]
