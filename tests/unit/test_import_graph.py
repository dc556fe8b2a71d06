"""The package's import graph: no cycles at any level (function-level and TYPE_CHECKING imports
included, between modules and between folders), leaf modules stay leaves, and using the client
never imports the sandbox's server stack."""

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


def imports_of(name: str, type_checking: bool = True) -> set[str]:
    """Package modules ``name`` imports anywhere in its body (``type_checking``: those under
    ``if TYPE_CHECKING:`` too, which a circle of types makes as real as one of code)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped: set[ast.AST] = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= set(ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if node in skipped:
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


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as the path that closes it), or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name) :] + [name]
        if name in done:
            return None
        for target in sorted(graph.get(name, ())):
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def unit_of(name: str) -> str:
    """The unit a module belongs to at folder level: a subpackage as a whole
    (``codat_nb.sandbox.store`` -> ``codat_nb.sandbox``); a module at the top of the package
    stands for itself."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or MODULES[name].name == "__init__.py" else name


def folder_graph() -> dict[str, set[str]]:
    """Which unit imports which (imports inside one subpackage left out)."""
    graph: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        source = unit_of(name)
        graph.setdefault(source, set()).update(unit_of(t) for t in targets if unit_of(t) != source)
    return graph


def test_no_import_cycles_between_modules():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycles_between_folders():
    cycle = find_cycle(folder_graph())
    assert cycle is None, "folder import cycle: " + " -> ".join(cycle or [])


def test_the_folder_graph_sees_a_module_reaching_into_a_subpackage():
    assert "codat_nb.sandbox" in folder_graph()["codat_nb.client"]
    assert "codat_nb.query" in folder_graph()["codat_nb.sandbox"]


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_type_checking_imports():
    """Proof TYPE_CHECKING imports count: the API base names the transport only for types."""
    assert "codat_nb.transport" in GRAPH["codat_nb.api_base"]
    assert "codat_nb.transport" not in imports_of("codat_nb.api_base", type_checking=False)


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
