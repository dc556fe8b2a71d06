"""The committed notebooks are clean: no secrets, no machine traces, outputs nbval can compare.

nbval (in pytest's addopts) re-runs the notebooks and compares outputs; these checks cover what
it does not: what is *stored* (credentials, personal paths, timings, progress bars, stderr) and
that the escape hatches (ignored outputs, sanitize rules) stay as narrow as the issue allows.
Each check is also run on a deliberately dirty notebook, so none of them can pass vacuously.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import shlex
import sys
import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.support import ROOT
from nbval.plugin import get_sanitize_patterns

from codat_nb.client import EMBEDDED_SANDBOX_NOTICE
from codat_nb.sandbox import DEFAULT_API_KEY
from codat_nb.wire.protocol import basic_auth_header


NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SANITIZE_FILE = ROOT / "codat_nb" / "notebook" / "nbval_sanitize.cfg"  # shipped with the package
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGES = ("image/png", "image/jpeg", "image/svg+xml")

SANDBOX_SECRETS = (
    DEFAULT_API_KEY,
    basic_auth_header(DEFAULT_API_KEY),
    base64.b64encode(DEFAULT_API_KEY.encode()).decode(),
)
SECRET_PATTERNS = (
    re.compile(r"Basic\s+[A-Za-z0-9+/]{8,}={0,2}"),  # an Authorization header value
    re.compile(r"Authorization['\"]?\s*[:=]\s*['\"]?\S", re.IGNORECASE),
    re.compile(r"""(api_key|auth_header|CODAT_API_KEY|CODAT_AUTH_HEADER)['"]?\s*[=:]\s*['"]\w"""),
)
PERSONAL_PATH = re.compile(r"(/home/|/Users/|/root/|[A-Za-z]:\\+Users|/tmp/)")
VOLATILE_REPR = re.compile(r"<(matplotlib\.|Axes|AxesSubplot)| at 0x[0-9a-f]{6,}")
PROGRESS_BAR = re.compile(r"\d+%\|| \d+(\.\d+)?(it|s/it|companies|company|pages)/s\]")
TIMING_KEYS = ("execution", "ExecuteTime")


def _texts(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(where, text) for every source, output text and metadata block; images excluded."""
    texts = [("notebook metadata", json.dumps(nb.metadata))]
    for index, cell in enumerate(nb.cells):
        texts.append((f"cell {index} source", cell.source))
        texts.append((f"cell {index} metadata", json.dumps(cell.metadata)))
        for output in cell.get("outputs", []):
            if "text" in output:
                texts.append((f"cell {index} {output.get('name', 'stream')}", output["text"]))
            for mimetype, value in output.get("data", {}).items():
                if mimetype not in IMAGES:
                    text = value if isinstance(value, str) else json.dumps(value)
                    texts.append((f"cell {index} {mimetype}", text))
            if output.get("output_type") == "error":
                texts.append((f"cell {index} error", "\n".join(output.get("traceback", []))))
    return texts


def secret_problems(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for where, text in _texts(nb):
        found += [f"{where}: the sandbox's credential" for s in SANDBOX_SECRETS if s in text]
        found += [f"{where}: looks like a credential" for p in SECRET_PATTERNS if p.search(text)]
    return found


def metadata_problems(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    kernelspec = nb.metadata.get("kernelspec", {})
    if kernelspec.get("name") != "python3" or kernelspec.get("language") != "python":
        found.append(f"kernelspec is {kernelspec!r}, not python3")
    extra = sorted(set(nb.metadata) - {"kernelspec", "language_info"})
    if extra:
        found.append(f"notebook metadata has {extra} (e.g. saved widget state)")
    if "version" in nb.metadata.get("language_info", {}):
        found.append("language_info records the interpreter version")
    for index, cell in enumerate(nb.cells):
        found += [f"cell {index}: timing metadata {k!r}" for k in TIMING_KEYS if k in cell.metadata]
    found += [f"{where}: personal path" for where, text in _texts(nb) if PERSONAL_PATH.search(text)]
    return found


def execution_problems(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    counts = [c.execution_count for _, c in code]
    if counts != list(range(1, len(code) + 1)):
        found.append(f"execution counts {counts} are not 1..{len(code)}: not run top to bottom")
    for index, cell in code:
        for output in cell.outputs:
            kind = output.output_type
            if kind == "error":
                found.append(f"cell {index}: stored error {output.get('ename')}")
            if kind == "stream" and output.name == "stderr":
                found.append(f"cell {index}: stderr output {output.text[:80]!r}")
            if kind == "execute_result" and output.execution_count != cell.execution_count:
                found.append(f"cell {index}: result count differs from the cell's")
    return found


def comparison_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Outputs nbval could not compare stably, and escape hatches wider than the issue allows."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = {t.lower() for t in cell.metadata.get("tags", [])}
        if "NBVAL_SKIP" in cell.source or "nbval-skip" in tags:
            found.append(f"cell {index}: skipped by nbval")
        widget_only = bool(cell.outputs) and all(
            WIDGET_VIEW in o.get("data", {}) for o in cell.outputs
        )
        if ("NBVAL_IGNORE_OUTPUT" in cell.source or "nbval-ignore-output" in tags) and not (
            widget_only
        ):
            found.append(f"cell {index}: output ignored although it is not a widget view")
        for output in cell.outputs:
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/plain" not in data:
                found.append(f"cell {index}: widget view without a text/plain repr to compare")
            text = data.get("text/plain", "") + output.get("text", "")
            if VOLATILE_REPR.search(text):
                found.append(f"cell {index}: object repr that varies run to run {text[:60]!r}")
            if PROGRESS_BAR.search(text):
                found.append(f"cell {index}: progress bar in the output")
    return found


CHECKS = (secret_problems, metadata_problems, execution_problems, comparison_problems)


def test_the_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_connection_status_analysis.ipynb",
        "03_manage_connections.ipynb",
        "04_status_history.ipynb",
        "05_live_events.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_notebook_is_clean(path: Path, check) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert check(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_were_recorded_on_the_embedded_sandbox(path: Path) -> None:
    """Stored outputs must come from the seeded sandbox, never from someone's live account."""
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "codat_nb.connect()" in first.source
    assert [o.text.strip() for o in first.outputs if o.output_type == "stream"] == [
        EMBEDDED_SANDBOX_NOTICE
    ]


def _dirty_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "myenv", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.7"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {}},
    }
    leaky = nbformat.v4.new_code_cell(f'client = codat_nb.connect(api_key="{DEFAULT_API_KEY}")')
    leaky.execution_count = 2
    leaky.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    leaky.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful\n"),
        nbformat.v4.new_output(
            "execute_result",
            {"text/plain": "{'Authorization': 'Basic c2VjcmV0LWtleQ=='} /home/alice/nb"},
            execution_count=1,
        ),
    ]
    ignored = nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nsummary\n# NBVAL_SKIP")
    ignored.execution_count = None
    ignored.outputs = [
        nbformat.v4.new_output("display_data", {WIDGET_VIEW: {"model_id": "x"}}),
        nbformat.v4.new_output("execute_result", {"text/plain": "<Axes: title={'center': 'x'}>"}),
        nbformat.v4.new_output("stream", name="stdout", text="companies: 40%|####    | 2/5"),
        nbformat.v4.new_output("error", ename="KeyError", evalue="x", traceback=[]),
    ]
    nb.cells = [leaky, ignored]
    return nb


def test_each_check_finds_what_it_looks_for() -> None:
    nb = _dirty_notebook()
    found = {check.__name__: " | ".join(check(nb)) for check in CHECKS}
    assert "the sandbox's credential" in found["secret_problems"]
    assert "looks like a credential" in found["secret_problems"]
    for expected in ("not python3", "widget state", "interpreter version", "timing", "personal"):
        assert expected in found["metadata_problems"]
    for expected in ("not run top to bottom", "stored error", "stderr", "result count"):
        assert expected in found["execution_problems"]
    for expected in ("skipped", "not a widget view", "without a text/plain", "varies", "progress"):
        assert expected in found["comparison_problems"]


def test_tools_clean_strips_what_the_checks_forbid() -> None:
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", ROOT / "tools" / "execute_notebooks.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    nb = _dirty_notebook()
    tool.clean(nb)
    assert metadata_problems(nb) == ["cell 0 text/plain: personal path"]  # outputs untouched
    assert tool.stderr_outputs(nb) == ["cell 0: UserWarning: careful"]


def _sanitize_rules() -> list[tuple[str, str]]:
    return get_sanitize_patterns(SANITIZE_FILE.read_text())


def test_sanitize_rules_are_each_justified_and_used() -> None:
    lines = SANITIZE_FILE.read_text().splitlines()
    rule_lines = [i for i, line in enumerate(lines) if line.startswith("regex: ")]
    assert len(rule_lines) == len(_sanitize_rules()) >= 1  # every rule parses as nbval reads it
    for i in rule_lines:
        assert i > 0 and lines[i - 1].startswith("# "), f"rule on line {i + 1} has no comment"
    addopts = re.search(r"^addopts = (\".*\")$", (ROOT / "pyproject.toml").read_text(), re.M)
    options = shlex.split(json.loads(addopts.group(1)))
    assert "--nbval" in options and "--nbval-lax" not in options
    configured = options[options.index("--nbval-sanitize-with") + 1]
    assert configured == "codat_nb/notebook/nbval_sanitize.cfg"


def test_users_find_the_shipped_rules_with_one_command() -> None:
    """``codat-nb nbval-config`` prints the rules' path, for a user's own notebooks."""
    done = subprocess.run(
        [sys.executable, "-m", "codat_nb", "nbval-config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT.parent,
    )
    assert Path(done.stdout.strip()).read_text() == SANITIZE_FILE.read_text()


def test_sanitize_normalises_only_the_sandbox_port() -> None:
    def sanitize(text: str) -> str:
        for regex, replacement in _sanitize_rules():
            text = re.sub(regex, replacement, text)
        return text

    path = "/companies/c194f8ed-85a0-4042-ad26-1fc26d17fdc3/connections"
    assert sanitize(f"http://127.0.0.1:41234{path}") == sanitize(f"http://127.0.0.1:5{path}")
    untouched = f"https://api.codat.io{path} 2026-11-01 09:00:01+00:00 correlationId 3c134ab0"
    assert sanitize(untouched) == untouched


def _notebook(path: Path, code: str, stored: str) -> None:
    cell = nbformat.v4.new_code_cell(code, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)


def test_readmes_recipe_names_the_notebook_that_failed(tmp_path: Path) -> None:
    """README's command for a user's own notebooks, run as written in a folder of their own:
    with two notebooks, the failing one is named (not ``../folder::Cell 0``)."""
    readme = (ROOT / "README.md").read_text()
    recipe = re.search(r"`(pytest --nbval [^`]*) your\.ipynb`", readme).group(1)
    _notebook(tmp_path / "good.ipynb", "print(1)", "1\n")
    _notebook(tmp_path / "bad.ipynb", "print(2)", "3\n")
    done = subprocess.run(
        ["bash", "-c", f"{recipe} -p no:cacheprovider good.ipynb bad.ipynb"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout
    assert "FAILED bad.ipynb::Cell 0" in done.stdout
