"""How a history keeps link URLs: without one-time passwords, and as exact templates."""

from __future__ import annotations

import pytest

from codat_nb.history.encoding import without_one_time_password
from codat_nb.history.interning import expand, link_template

COMPANY, CONNECTION = "c0ffee00-0000-4000-8000-000000000001", "0b5e55ed-0000-4000-8000-000000000002"
CODAT = f"https://link-api.codat.io/companies/{COMPANY}/connections/{CONNECTION}/start"


@pytest.mark.parametrize(
    "url, kept",
    [
        (f"{CODAT}?otp=AAAAAADK437Z", CODAT),
        (f"{CODAT}?a=1&otp=X&b=2", f"{CODAT}?a=1&b=2"),
        ("https://link.codat.io/company/x?link.otp=Q#step", "https://link.codat.io/company/x#step"),
        (f"{CODAT}?notp=1&otp=", f"{CODAT}?notp=1"),
        ("https://example.com/otp=1/start", "https://example.com/otp=1/start"),  # no query
        (CODAT, CODAT),
        (None, None),
    ],
)
def test_one_time_passwords_are_dropped_and_nothing_else(url, kept):
    assert without_one_time_password(url) == kept


def test_a_codat_link_becomes_a_template_shared_by_every_connection():
    template = link_template(CODAT, COMPANY, CONNECTION)

    assert (
        template
        == "https://link-api.codat.io/companies/<company_id>/connections/<connection_id>/start"
    )
    assert expand(template, COMPANY, CONNECTION) == CODAT


@pytest.mark.parametrize(
    "url",
    [
        f"https://example.com/<company_id>/{CONNECTION}",  # a placeholder already in it
        f"https://example.com/{COMPANY}/<connection_id>",
    ],
)
def test_a_url_with_no_exact_template_is_kept_as_it_is(url):
    assert link_template(url, COMPANY, CONNECTION) is None


def test_a_url_without_the_ids_is_its_own_template():
    assert link_template("https://example.com/start", COMPANY, CONNECTION) == (
        "https://example.com/start"
    )
