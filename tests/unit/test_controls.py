"""The helpers both panels build their controls with: filter options, own-change guard, search."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from codat_nb.notebook.controls import (
    ALL,
    OwnChanges,
    companies_text,
    describe_error,
    matching_companies,
    replace_options,
    sentence,
    status_html,
)


def test_new_options_keep_the_value_while_it_is_offered():
    dropdown = widgets.Dropdown(options=[ALL, "Linked", "Unlinked"], value="Unlinked")
    replace_options(dropdown, [ALL, "Linked", "Unlinked", "Frozen"])
    assert dropdown.value == "Unlinked" and "Frozen" in dropdown.options
    replace_options(dropdown, [ALL, "Linked"])
    assert dropdown.value == ALL


def test_the_same_options_again_change_nothing():
    dropdown = widgets.Dropdown(options=[ALL, "Linked"], value="Linked")
    changes: list[object] = []
    dropdown.observe(changes.append, names=["options", "value", "index"])
    replace_options(dropdown, (ALL, "Linked"))
    assert changes == []


def test_own_changes_stay_active_until_the_outermost_hold_ends():
    own = OwnChanges()
    assert not own.active
    with own.hold():
        with own.hold():
            assert own.active
        assert own.active
    assert not own.active


def test_company_search_matches_name_or_id_in_any_case_and_survives_missing_names():
    frame = pd.DataFrame(
        {
            "company_id": ["a1b2", "c3d4", "e5f6"],
            "company_name": ["Acme Trading", None, "Bakery"],
        }
    )
    assert list(matching_companies(frame, "  acme ")["company_id"]) == ["a1b2"]
    assert list(matching_companies(frame, "C3D")["company_id"]) == ["c3d4"]
    assert matching_companies(frame, "") is frame
    assert matching_companies(frame, "no such company").empty


def test_status_lines_escape_what_the_network_sent():
    line = status_html(describe_error(ValueError("bad <id> & more")), "error")
    assert 'class="codat-nb-status-error"' in line and "#b71c1c" in line
    assert "ValueError: bad &lt;id&gt; &amp; more" in line


def test_a_sentence_ends_with_one_full_stop_and_companies_are_counted():
    assert sentence("2 connections of Acme Ltd") == "2 connections of Acme Ltd."
    assert sentence("2 connections of Zephyr Florists Inc.") == (
        "2 connections of Zephyr Florists Inc."
    )
    assert companies_text(1) == "1 company" and companies_text(1280) == "1,280 companies"
