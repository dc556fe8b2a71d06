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


def test_choices_and_contradictions_are_stated_with_their_sources():
    """Issue 21, item 10: the one-time-link default cites both lines of the hosted-link guide,
    the partner expense shape is marked as the sandbox's own, and every query-language choice
    is listed with what survives the other answer."""
    text = FIDELITY.read_text()
    links = next(cells for cells in rows() if cells[0] == "one-time links")
    assert "line 88" in links[1] and "line 125" in links[1] and "default is on" in links[2]
    partner = next(cells for cells in rows() if cells[0] == "partner expense")
    assert "`dfxm`" in partner[2] and "**the sandbox's own choice**" in partner[2]
    section = text.split("### The query language: the sandbox's choices")[1].split("\n## ")[0]
    for choice in (
        "case of `=`",
        "case of `~`",
        "property names",
        "`&&`",
        "without a zone",
        "nulls",
    ):
        assert choice in section, choice
    samples = text.split("## Codat's own samples")[1]
    assert "test_codat_docs_samples.py" in samples
