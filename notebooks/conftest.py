"""nbval setup for the notebooks: the stored outputs come from the seeded embedded sandbox.

The sanitize file's path in pytest's addopts is made independent of the working directory, and
each notebook's kernel starts without Codat credentials (so a developer's live key can never
make the test suite create or delete connections in a real account) and with inline charts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Unset for the kernels, as in tools/execute_notebooks.py: connect() would use the CODAT_*
#: ones to reach a live account, and MPLBACKEND would replace the inline charts stored.
UNSET_FOR_KERNELS = ("CODAT_API_KEY", "CODAT_AUTH_HEADER", "CODAT_BASE_URL", "MPLBACKEND")


def pytest_configure(config: pytest.Config) -> None:
    sanitize = config.getoption("nbval_sanitize_with", default=None)
    if sanitize and not Path(sanitize).is_absolute() and not Path(sanitize).exists():
        config.option.nbval_sanitize_with = str(config.rootpath / sanitize)
    # A first matplotlib import on a fresh machine prints "building the font cache" to stderr,
    # which nbval would compare; build the cache here, outside the notebooks.
    import matplotlib.font_manager  # noqa: F401


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """The kernel starts while the notebook's first cell is set up; it inherits os.environ."""
    saved = {name: os.environ.pop(name) for name in UNSET_FOR_KERNELS if name in os.environ}
    saved_path = os.environ.get("PYTHONPATH")
    # The kernel imports this checkout's codat_nb, as the tests do (pyproject's pythonpath).
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(item.config.rootpath), saved_path])
    )
    try:
        yield
    finally:
        os.environ.update(saved)
        if saved_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_path
