"""What a notebook's tab completion shows on the user-facing objects: the documented methods
and nothing of the machinery behind them (each one named in README)."""

from __future__ import annotations

import pytest

from codat_nb import CodatClient
from tests.support import ROOT

README = (ROOT / "README.md").read_text()


def public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


@pytest.fixture(scope="module")
def client():
    with CodatClient("unit-test-key", base_url="http://127.0.0.1:9") as client:
        yield client


EXPECTED = {
    "connections": {
        "list",
        "iter",
        "list_all",
        "get",
        "create",
        "create_partner_expense",
        "unlink",
        "delete",
    },
    "companies": {"list", "iter", "get", "create", "update", "replace", "delete"},
}


@pytest.mark.parametrize("api", sorted(EXPECTED))
def test_api_objects_expose_only_documented_methods(client, api):
    assert public(getattr(client, api)) == EXPECTED[api]


@pytest.mark.parametrize(("api", "method"), [(a, m) for a in EXPECTED for m in EXPECTED[a]])
def test_each_method_is_in_readme(api, method):
    assert f"client.{api}.{method}(" in README


def test_the_client_exposes_its_documented_surface(client):
    assert public(client) == {
        "base_url",
        "close",
        "companies",
        "connections",
        "max_concurrency",
        "rate_limit",
        "sandbox",
        "server_time",
        "unfinished",
    }


def test_readme_says_only_linked_connections_can_be_unlinked():
    row = next(line for line in README.splitlines() if line.startswith("| unlink-connection |"))
    assert "only `Linked` connections" in row
