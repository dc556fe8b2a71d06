"""The package's import graph: no cycles (function-level imports included), leaf modules stay
leaves, and using the client never imports the sandbox's server stack."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "codat_nb"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str) -> set[str]:
    """Package modules ``name`` imports anywhere in its body (not under TYPE_CHECKING)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {target for target in found if target in MODULES and target != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def fail_on_a_cycle(graph: dict[str, set[str]], what: str) -> None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = path[path.index(name) :] + [name]
            pytest.fail(f"{what}: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph.get(name, ())):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_import_cycles():
    fail_on_a_cycle(GRAPH, "import cycle")


def place_of(name: str) -> str:
    """Where a module stands in the folder-level graph: its sub-package folder (every module of
    ``codat_nb/notebook/`` is ``codat_nb/notebook/``), or itself at the top level."""
    parts = name.split(".")
    if len(parts) > 2 or (len(parts) == 2 and MODULES[name].name == "__init__.py"):
        return "/".join(parts[:2]) + "/"
    return name


def test_no_folder_imports_what_imports_it_back():
    """A sub-package is one node: ``analysis`` importing ``notebook/display.py`` while
    ``notebook/portfolio_view.py`` imports ``analysis`` is a circle even though no module
    imports itself back. The package itself (``codat_nb``) is left out as a target: importing
    any of its modules runs it."""
    folders: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        for target in targets - {"codat_nb"}:
            if place_of(target) != place_of(name):
                folders.setdefault(place_of(name), set()).add(place_of(target))
    fail_on_a_cycle(folders, "folder-level import cycle")


@pytest.mark.parametrize("leaf", ["codat_nb._version", "codat_nb.exceptions", "codat_nb.colours"])
def test_leaf_modules_import_nothing_of_the_package(leaf):
    assert GRAPH[leaf] == set()


def test_the_graph_sees_function_level_imports():
    """Proof the walk looks inside functions: the package's lazy Sandbox import is found."""
    assert "codat_nb.sandbox" in GRAPH["codat_nb"]


def test_using_the_client_does_not_import_werkzeug_or_ipywidgets():
    code = (
        "import sys, codat_nb\n"
        "from codat_nb import query\n"
        "client = codat_nb.CodatClient('k', base_url='http://127.0.0.1:9')\n"
        "query.compile_query('status=Linked', codat_nb.wire.schema.CONNECTION)\n"
        "client.close()\n"
        "loaded = sorted(m for m in ('werkzeug', 'ipywidgets') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent, timeout=60)
