"""The support console as a web page: the portfolio view, served by Voila on loopback.

Voila runs a notebook (``console.ipynb``: one ``PortfolioView``) in a fresh kernel per visit
and shows only its widgets. Its default page asks a CDN for Font Awesome, which fails offline
(errors in the console, no icons), so it is served with the ``codat-nb`` template
(``share/voila/templates/codat-nb``): Voila's lab page without those two links; Voila's own
bundle already carries Font Awesome's CSS and fonts. A token keeps other users of the machine
out: the page acts with the credentials the console was started with.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "console.ipynb"
DATA_DIR = HERE / "share"  # a Jupyter data directory holding voila/templates/codat-nb
TEMPLATE = "codat-nb"


def voila_argv(port: int, token: str) -> list[str]:
    """Voila's command line for the console on 127.0.0.1:``port``, nowhere else."""
    return [
        str(NOTEBOOK),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",  # a taken port must show, not move the console elsewhere
        f"--Voila.token={token}",
        f"--template={TEMPLATE}",
        "--theme=light",
        "--Voila.log_level=WARN",
    ]


def serve(port: int, token: str, on_ready: Callable[[str], None]) -> None:
    """Run Voila until Ctrl-C or SIGTERM; ``on_ready(url)`` once it listens."""
    paths = [str(DATA_DIR), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(paths)  # read by Voila's template lookup
    from tornado.ioloop import IOLoop
    from voila.app import Voila

    app = Voila()
    app.initialize(voila_argv(port, token))
    # Runs once the loop starts, which Voila does only after it is listening.
    IOLoop.current().add_callback(on_ready, f"http://127.0.0.1:{port}/?token={token}")
    app.start()
