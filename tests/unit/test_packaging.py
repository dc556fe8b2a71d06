"""environment.yml and pyproject.toml must name the same dependencies: conda and pip agree;
the console script must point at the command line."""

from __future__ import annotations

import importlib
import re

import pytest
import yaml

from tests.support import ROOT

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")


NAME = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def split_requirement(text: str) -> tuple[str, str]:
    """('pandas', '>=2.1') from 'pandas>=2.1', with the name normalised as PEP 503 does."""
    match = NAME.match(text)
    assert match, f"unparseable requirement: {text!r}"
    return re.sub(r"[-_.]+", "-", match.group(1)).lower(), match.group(2).replace(" ", "")


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = re.compile(r"^codat-nb\[([a-z,]+)\]$")


def expand(requirements: list[str]) -> list[str]:
    """Requirements with the project's own extras (``codat-nb[lab]``) spelled out."""
    found: list[str] = []
    for requirement in requirements:
        extras = SELF.match(requirement)
        if extras is None:
            found.append(requirement)
            continue
        for extra in extras.group(1).split(","):
            found += expand(PROJECT["optional-dependencies"][extra])
    return found


def pyproject_requirements() -> dict[str, str]:
    found = [*PROJECT["dependencies"], *expand(PROJECT["optional-dependencies"]["dev"])]
    return dict(split_requirement(r) for r in found)


def environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found: list[str] = []
    for item in env["dependencies"]:
        if isinstance(item, dict):
            found += [r for r in item["pip"] if not r.startswith("-e")]
        elif not item.startswith(("python", "pip")) or item.startswith("python-"):
            found.append(item)
    return dict(split_requirement(r) for r in found)


def test_split_requirement_normalises_names():
    assert split_requirement("Codat_Sync.For-Expenses==0.5.0") == (
        "codat-sync-for-expenses",
        "==0.5.0",
    )


def test_environment_and_pyproject_name_the_same_dependencies_and_pins():
    assert environment_requirements() == pyproject_requirements()


def test_environment_installs_the_package_itself_editable():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert "-e ." in pip_section


def test_the_console_script_runs_the_command_line():
    from codat_nb.cli import main

    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["codat-nb"]
    module, _, name = target.partition(":")
    assert getattr(importlib.import_module(module), name) is main


def test_every_data_file_the_widgets_and_console_need_is_shipped():
    """The table's front end, the console's notebook and its Voila template are read at run
    time; one missing from package-data works in a checkout and breaks in an install."""
    from fnmatch import fnmatch

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["codat_nb"]
    package = ROOT / "codat_nb"
    needed = [
        p.relative_to(package).as_posix()
        for p in (package / "notebook").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    ]
    assert needed, "no data files found"
    for path in needed:
        assert any(fnmatch(path, pattern) for pattern in patterns), path


def test_dev_includes_every_other_extra():
    """``pip install -e ".[dev]"`` (the tests) has all that any extra brings."""
    everything = {r for extra in PROJECT["optional-dependencies"].values() for r in expand(extra)}
    assert everything <= set(expand(PROJECT["optional-dependencies"]["dev"]))


def test_the_notebook_install_is_lighter_than_the_test_install():
    """README's first command installs the lab extra, not the test tools and SDKs."""
    lab = set(expand(PROJECT["optional-dependencies"]["lab"]))
    assert not {r for r in lab if r.startswith(("playwright", "codat-", "ruff", "mypy"))}
    readme = (ROOT / "README.md").read_text()
    assert 'pip install ".[lab]"' in readme.split("## Run the tests")[0]
