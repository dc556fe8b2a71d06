"""``get``, ``iter`` and ``list`` accept and refuse exactly the same wire shapes (one gate,
``wire.rows``), served by a hostile server that sends each shape."""

from __future__ import annotations

import warnings

import pytest

import codat_nb
from tests.hostile import MISSING, Answer, connection, hostile, page

COMPANY = "7f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f"

SHAPES = {
    # name: (changes to a valid connection, accepted?)
    "valid": ({}, True),
    "lastSync empty string": ({"lastSync": ""}, True),
    "lastSync null": ({"lastSync": None}, True),
    "lastSync missing": ({"lastSync": MISSING}, True),
    "lastSync with offset": ({"lastSync": "2022-10-27T10:22:43-05:00"}, True),
    "lastSync unqualified": ({"lastSync": "2022-10-27T10:22:43"}, True),
    "lastSync not a date": ({"lastSync": "yesterday"}, False),
    "lastSync a number": ({"lastSync": 1666866163}, False),
    "created missing": ({"created": MISSING}, False),
    "created empty string": ({"created": ""}, False),
    "created null": ({"created": None}, False),
    "id missing": ({"id": MISSING}, False),
    "id a number": ({"id": 123}, False),
    "status a number": ({"status": 5}, False),
    "status unknown": ({"status": "Zombie"}, True),
    "integrationKey missing": ({"integrationKey": MISSING}, True),
    "extra property": ({"somethingNew": {"x": 1}}, True),
    "errors null": ({"dataConnectionErrors": None}, True),
    "errors empty": ({"dataConnectionErrors": []}, True),
    "errors valid": (
        {"dataConnectionErrors": [{"statusCode": "401", "erroredOnUtc": "2022-10-27T10:22:43Z"}]},
        True,
    ),
    "errors item bad date": ({"dataConnectionErrors": [{"erroredOnUtc": "garbage"}]}, False),
    "errors not a list": ({"dataConnectionErrors": "oops"}, False),
    "errors item not an object": ({"dataConnectionErrors": ["oops"]}, False),
    "connectionInfo object": ({"connectionInfo": {"a": 1}}, True),
    "connectionInfo string": ({"connectionInfo": "x"}, False),
}


def outcome(call):
    """'ok' or the CodatError's class name (anything else is a bug and propagates)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", codat_nb.CodatWarning)
        try:
            call()
        except codat_nb.CodatError as exc:
            assert "Codat sent an invalid" in str(exc), str(exc)
            return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("name", SHAPES)
def test_get_iter_and_list_agree_on_every_shape(name):
    changes, accepted = SHAPES[name]
    row = connection(**changes)

    def answer(asked):
        if asked.path.endswith("/connections"):
            return Answer(body=page([row]))
        return Answer(body=row)

    with hostile(answer) as server, codat_nb.CodatClient("k", base_url=server.url) as client:
        conn_id = "00000000-0000-4000-8000-000000000001"
        results = {
            "get": outcome(lambda: client.connections.get(COMPANY, conn_id)),
            "iter": outcome(lambda: list(client.connections.iter(COMPANY))),
            "list": outcome(lambda: client.connections.list(COMPANY)),
        }
    assert len(set(results.values())) == 1, results
    assert (results["get"] == "ok") == accepted, results


def test_what_is_accepted_reads_the_same_everywhere():
    row = connection(lastSync="", status="Zombie")

    def answer(asked):
        return Answer(body=page([row]) if asked.path.endswith("/connections") else row)

    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", codat_nb.CodatWarning)
        got = client.connections.get(COMPANY, row["id"])
        (walked,) = client.connections.iter(COMPANY)
        frame = client.connections.list(COMPANY)
    assert got == walked
    assert got.last_sync is None and frame["last_sync"].isna().all()
    assert got.status == "Zombie" and frame["status"][0] == "Zombie"


def company_row(**changes):
    row = {"id": COMPANY, "name": "Acme Ltd", "redirect": "https://link.codat.io/company/x"}
    row.update(changes)
    return {k: v for k, v in row.items() if v is not MISSING}


COMPANY_SHAPES = {
    "valid": ({}, True),
    "tags with a number": ({"tags": {"a": 1}}, False),
    "products with a number": ({"products": [1]}, False),
    "products null": ({"products": None}, True),  # a null array reads as empty
    "dataConnections null": ({"dataConnections": None}, True),
    "parent's tags with a number": ({"referenceParentCompany": {"tags": {"a": 1}}}, False),
    "an embedded connection without id": ({"dataConnections": [connection(id=MISSING)]}, False),
    "name missing": ({"name": MISSING}, False),
}


@pytest.mark.parametrize("name", COMPANY_SHAPES)
def test_companies_read_alike_whichever_way(name):
    changes, accepted = COMPANY_SHAPES[name]
    row = company_row(**changes)

    def answer(asked):
        return Answer(body=page([row]) if asked.path == "/companies" else row)

    with hostile(answer) as server, codat_nb.CodatClient("k", base_url=server.url) as client:
        results = {
            "get": outcome(lambda: client.companies.get(COMPANY)),
            "iter": outcome(lambda: list(client.companies.iter())),
            "list": outcome(lambda: client.companies.list()),
            "list_all": outcome(lambda: client.connections.list_all()),
        }
    assert len(set(results.values())) == 1, results
    assert (results["get"] == "ok") == accepted, results


def test_a_malformed_row_is_refused_even_where_a_filter_would_drop_it():
    rows = [connection(1), connection(2, status=5)]
    company = company_row(dataConnections=[connection(1, id=MISSING)])

    def answer(asked):
        return Answer(body=page([company]) if asked.path == "/companies" else page(rows))

    with hostile(answer) as server, codat_nb.CodatClient("k", base_url=server.url) as client:
        with pytest.raises(codat_nb.CodatError, match="status should be str"):
            client.connections.list(COMPANY, query="status=Linked")
        with pytest.raises(codat_nb.CodatError, match="status should be str"):
            list(client.connections.iter(COMPANY, query="status=Linked"))
        with pytest.raises(codat_nb.CodatError, match="id is missing"):
            client.connections.list_all(order_by="created")
