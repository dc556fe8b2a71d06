"""The runtime install, as a new user gets it: build the wheel, install it into a fresh venv
(no extras, nothing of this checkout on the path), then run the quickstart headless (checked
against its stored outputs by nbval, as the tests do) and the console (its page must render).

    python tools/check_wheel.py      # exit 0 when both work; .ci/run runs it

A plain install once served the console as "500: Internal Server Error" (no Python kernel).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "notebooks" / "01_quickstart.ipynb"


def run(*argv: str | Path, cwd: Path, timeout: float = 900) -> None:
    print("+", " ".join(str(a) for a in argv), flush=True)
    subprocess.run([str(a) for a in argv], cwd=cwd, check=True, timeout=timeout, env=_env())


def _env() -> dict[str, str]:
    """No Codat credentials (the embedded sandbox), nothing of this checkout importable."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("CODAT_", "PYTHONPATH", "VIRTUAL"))
    }


def build(work: Path) -> Path:
    run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", ROOT, cwd=work
    )
    (wheel,) = (work / "dist").glob("codat_nb-*.whl")
    return wheel


def install(work: Path, wheel: Path) -> Path:
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=work)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=work)
    return venv / "bin"


def quickstart(work: Path, bin_dir: Path) -> None:
    """The quickstart, executed by the installed package, compared with its stored outputs."""
    shutil.copy(QUICKSTART, work / QUICKSTART.name)
    rules = subprocess.run(
        [bin_dir / "codat-nb", "nbval-config"], capture_output=True, text=True, check=True
    ).stdout.strip()
    run(
        bin_dir / "pytest",
        "-p",
        "no:cacheprovider",
        "--nbval",
        f"--nbval-sanitize-with={rules}",
        QUICKSTART.name,
        cwd=work,
    )


def console(work: Path, bin_dir: Path) -> None:
    """``codat-nb console`` on the demo sandbox: the page it prints must render (HTTP 200,
    the console's own markup), not a 500."""
    process = subprocess.Popen(
        [bin_dir / "codat-nb", "console", "--port", "0"],
        cwd=work,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _wait_for_url(process)
        page = requests.get(url, timeout=300)
        print(f"GET {url.split('?')[0]} -> {page.status_code} ({len(page.text)} characters)")
        if page.status_code != 200 or "codat-nb" not in page.text:
            raise SystemExit(f"the console's page did not render:\n{page.text[:2000]}")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_url(process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 300
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise SystemExit(f"codat-nb console exited with {process.returncode}")
        print("console:", line.rstrip(), flush=True)
        found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
        if found:
            return found.group(1)
    raise SystemExit("codat-nb console printed no URL within 300 s")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="codat-nb-wheel-") as tmp:
        work = Path(tmp)
        bin_dir = install(work, build(work))
        quickstart(work, bin_dir)
        console(work, bin_dir)
    print("wheel check: the runtime install runs the quickstart and the console")


if __name__ == "__main__":
    main()
