"""The support console as a web page: the portfolio view, served by Voila on loopback.

Voila runs a notebook (``console.ipynb``: ``page()``, one ``PortfolioView``) in a kernel per
visit and shows only its widgets. Its default page asks a CDN for Font Awesome, which fails
offline (errors in the console, no icons), so it is served with the ``codat-nb`` template
(``share/voila/templates/codat-nb``): Voila's lab page without those two links; Voila's own
bundle already carries Font Awesome's CSS and fonts. A token keeps other users of the machine
out: the page acts with the credentials the console was started with.

A cold kernel (start, imports) was most of a first screen's wait, so the console keeps one
kernel heated ahead of the next visit (Voila's ``preheat_kernel``): it has started, imported
everything and built the page's widgets, then waits for the visit (``wait_for_request``) before
listing the portfolio, so the rows are never older than the visit. The listing runs just after
the page's cell has ended: Voila sends the rest of the page (its scripts) as soon as the cell
ends, so the browser loads them while the kernel lists, and asks for the widgets' state once
the listing is done. Once a visit takes the kernel, the next one is heated after
``REFILL_DELAY_S``, so it does not compete with the page being drawn.
The URL is announced once the first kernel is heated (it says so by creating the file
``HEATED_ENV`` names), or after ``HEAT_WAIT_S`` at the latest: the first visit is then as
quick as the next ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codat_nb.notebook.portfolio_view import PortfolioView

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "console.ipynb"
DATA_DIR = HERE / "share"  # a Jupyter data directory holding voila/templates/codat-nb
TEMPLATE = "codat-nb"
#: Set (to 1) for the page's kernels when the console runs on its embedded demo sandbox:
#: they reach it by URL, like any Codat, so only the console can tell them it is the demo.
DEMO_ENV = "CODAT_NB_CONSOLE_DEMO"
#: Kernels kept heated for the next visits, and the wait before heating a used one's successor.
POOL_SIZE = 1
REFILL_DELAY_S = 5.0
#: The file a heated kernel creates when it is ready for a visit (set for the kernels).
HEATED_ENV = "CODAT_NB_CONSOLE_HEATED"
#: The longest the URL waits for the first kernel to be heated.
HEAT_WAIT_S = 120.0


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
        "--VoilaConfiguration.preheat_kernel=True",
        f"--VoilaConfiguration.default_pool_size={POOL_SIZE}",
        f"--VoilaKernelManager.fill_delay={REFILL_DELAY_S}",
        # Kernels on Unix sockets in Voila's private folder, not TCP ports any local user can
        # reach (ipykernel warns about those on every start).
        "--KernelManager.transport=ipc",
        # jupyter_server pings every 30 s and allows 90 s for the answer; tornado refuses a
        # timeout above the interval and says so on stderr at every visit: make them equal.
        "--Voila.tornado_settings=ws_ping_timeout=30000",
    ]


class _QuietTrust(logging.Filter):
    """Drops jupyter_server's "Notebook console.ipynb is not trusted" at every visit. Trust
    (a signature of this user's) only decides whether a notebook's stored HTML may show in
    JupyterLab; the console's page is ours, stored without outputs, and Voila runs it either
    way, so the warning would only alarm whoever reads the console's stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "Notebook %s is not trusted" and record.args == (NOTEBOOK.name,))


def page(page_size: int = 25) -> PortfolioView:
    """The console's page (``console.ipynb`` shows it): the portfolio view of the client
    ``codat_nb.connect()`` makes from the environment the console set up. Everything up to
    the visit is done ahead in a heated kernel; the portfolio is listed at the visit."""
    from codat_nb.client import connect
    from codat_nb.notebook.banner import DEMO_SOURCE
    from codat_nb.notebook.portfolio_view import PortfolioView

    client = connect()
    source = DEMO_SOURCE if os.environ.get(DEMO_ENV) == "1" else None
    view = PortfolioView(client, page_size=page_size, source=source, load=False)
    _wait_for_the_visit()
    _after_the_cell(view.reload)
    return view


def _after_the_cell(call: Callable[[], None]) -> None:
    """Run ``call`` once the running cell has ended (on the kernel's event loop), or now
    outside a kernel."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        call()
    else:
        loop.call_soon(call)


def _wait_for_the_visit() -> None:
    """In a heated kernel, say it is ready, then block until a visit takes it; elsewhere
    return at once."""
    from voila.utils import wait_for_request

    heated = os.environ.get(HEATED_ENV)
    if heated:
        Path(heated).touch()
    wait_for_request()


def serve(port: int, token: str, on_ready: Callable[[str], None]) -> None:
    """Run Voila until Ctrl-C or SIGTERM; ``on_ready(url)`` once it listens and the first
    kernel is heated (``HEAT_WAIT_S`` at most)."""
    paths = [str(DATA_DIR), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(paths)  # read by Voila's template lookup
    from tornado.ioloop import IOLoop, PeriodicCallback
    from voila.app import Voila

    with tempfile.TemporaryDirectory(prefix="codat-nb-console-") as folder:
        heated = Path(folder) / "heated"
        os.environ[HEATED_ENV] = str(heated)  # before Voila starts the kernel to heat
        app = Voila()
        app.initialize(voila_argv(port, token))
        app.log.addFilter(_QuietTrust())
        url = f"http://127.0.0.1:{port}/?token={token}"
        deadline = time.monotonic() + HEAT_WAIT_S

        def announce_when_heated() -> None:
            if heated.exists() or time.monotonic() > deadline:
                poll.stop()
                on_ready(url)

        poll = PeriodicCallback(announce_when_heated, 100)
        # Starts with the loop, which Voila starts only once it is listening.
        IOLoop.current().add_callback(poll.start)
        app.start()
