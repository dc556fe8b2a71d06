"""docs/fidelity.md: every row names at least one test, and every test it names exists."""

from __future__ import annotations

import re

from tests.support import ROOT

FIDELITY = ROOT / "docs" / "fidelity.md"
REFERENCE = re.compile(r"`([\w/]+\.py)::(test_\w+)`")


def rows() -> list[list[str]]:
    """The table rows (not headers nor separators), as lists of cells."""
    found = []
    for line in FIDELITY.read_text().splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells[0] != "behaviour":
            found.append(cells)
    return found


def test_every_row_names_a_test_and_each_exists():
    table = rows()
    assert len(table) > 30
    for cells in table:
        assert len(cells) == 4, cells
        references = REFERENCE.findall(cells[3])
        assert references, f"no test for {cells[0]!r}"
        for path, name in references:
            candidates = [ROOT / "tests" / "integration" / path, ROOT / "tests" / path]
            source = next((p for p in candidates if p.is_file()), None)
            assert source is not None, f"{path} (row {cells[0]!r}) does not exist"
            assert re.search(rf"^def {name}\(", source.read_text(), re.M), f"{path}::{name}"
