"""Re-execute the notebooks top to bottom on the embedded sandbox and save them, clean.

The stored outputs are what ``pytest`` (nbval, output comparison on) checks the code against, so
run this after a change that alters what a notebook shows, then review the diff:

    python tools/execute_notebooks.py                      # every notebooks/*.ipynb
    python tools/execute_notebooks.py notebooks/01_quickstart.ipynb

Each notebook runs in a fresh ``python3`` kernel with ``notebooks/`` as its working directory,
this checkout's ``codat_nb`` first on its path, and without Codat credentials in the
environment, so outputs always come from the seeded demo sandbox, never from a live account.
Saved notebooks carry no execution timings, no widget state and no machine-specific metadata,
so re-running on another machine gives a small, honest diff.
A notebook that raises, or that writes to stderr, is reported and not saved.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: Unset for the kernels: connect() would use the CODAT_* ones to reach a live account (stored
#: outputs must come from the sandbox), and MPLBACKEND would replace the inline charts.
UNSET_FOR_KERNELS = ("CODAT_API_KEY", "CODAT_AUTH_HEADER", "CODAT_BASE_URL", "MPLBACKEND")
#: Cell metadata written by nbclient or JupyterLab extensions that records when a cell ran.
TIMING_KEYS = ("execution", "ExecuteTime")
TIMEOUT_SECONDS = 120


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop timings, widget state and interpreter details; keep the python3 kernelspec."""
    nb.metadata = nbformat.from_dict(
        {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    )
    for cell in nb.cells:
        for key in TIMING_KEYS:
            cell.metadata.pop(key, None)
    return nb


def stderr_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Cells that wrote to stderr: nbval compares those too, so they must not vary (or appear)."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                found.append(f"cell {index}: {output['text'].strip()[:300]}")
    return found


def execute(path: Path) -> float:
    """Run one notebook in place; the seconds it took. Raises on a failing cell or stderr."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=TIMEOUT_SECONDS,
        record_timing=False,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    problems = stderr_outputs(nb)
    if problems:
        raise RuntimeError(f"{path.name} wrote to stderr:\n  " + "\n  ".join(problems))
    nbformat.validate(clean(nb))
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    for name in UNSET_FOR_KERNELS:  # the kernels inherit this process's environment
        os.environ.pop(name, None)
    # The kernels import this checkout's codat_nb, as pytest's do, whatever the editable
    # install points at (another clone or worktree would record its outputs, not these).
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    failed = 0
    for path in paths:
        try:
            seconds = execute(path.resolve())
        except (CellExecutionError, RuntimeError, TimeoutError) as exc:
            failed += 1
            print(f"FAILED {path}: {exc}", file=sys.stderr)
            continue
        print(f"executed {path} in {seconds:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
