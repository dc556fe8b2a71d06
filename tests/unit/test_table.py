"""DataTable's kernel side: pages rendered on demand, a selection that outlives reloads."""

from __future__ import annotations

import pytest

from codat_nb.notebook.table import DataTable


def table_of(n: int, page_size: int = 3) -> tuple[DataTable, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []

    def render(start: int, stop: int) -> list[list[str]]:
        calls.append((start, stop))
        return [[f"cell {i}"] for i in range(start, stop)]

    table = DataTable(["Name"], page_size=page_size)
    table.set_rows([f"r{i}" for i in range(n)], render)
    return table, calls


def test_only_the_page_on_screen_is_rendered():
    table, calls = table_of(10_000, page_size=25)
    assert calls == [(0, 25)]
    assert table.total == 10_000 and len(table.rows) == 25
    assert table.rows[0] == {"id": "r0", "cells": ["cell 0"]}
    table.page = 399
    assert calls[-1] == (9975, 10_000)


def test_select_shows_the_page_of_the_first_and_makes_it_active():
    table, _ = table_of(10)
    table.select(["r7", "r1", "missing"])
    assert table.selected == ["r7", "r1"] and table.active == "r7"
    assert table.page == 2 and [r["id"] for r in table.rows] == ["r6", "r7", "r8"]


def test_a_reload_keeps_the_rows_still_there_and_a_page_that_still_exists():
    table, _ = table_of(10)
    table.select(["r2", "r9"])
    table.page = 3
    table.set_rows(["r0", "r1", "r2"], lambda a, b: [["x"]] * (b - a))
    assert table.selected == ["r2"] and table.active == "r2"
    assert table.page == 0 and [r["id"] for r in table.rows] == ["r0", "r1", "r2"]
    table.set_rows(["r2"], lambda a, b: [["x"]] * (b - a), keep_selection=False)
    assert table.selected == [] and table.active is None


def test_a_bad_page_size_is_refused_and_the_repr_is_deterministic():
    with pytest.raises(ValueError, match="page_size"):
        DataTable(["Name"], page_size=0)
    table, _ = table_of(4)
    assert repr(table) == "DataTable(rows=4, selected=0)"


def test_the_front_end_ships_inside_the_package():
    table = DataTable(["Name"])
    assert "export default" in table._esm and "codat-nb-row" in table._esm
    assert ".codat-nb-datatable" in table._css
