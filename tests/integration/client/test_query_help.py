"""Query help: mistakes caught before sending, and a filter the server ignored caught after."""

from __future__ import annotations

import pytest

import codat_nb
from tests.hostile import Answer, connection, hostile, page

COMPANY = "7f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f"


@pytest.mark.parametrize(
    ("option", "value", "meant"),
    [
        ("query", "last_sync>2026-01-01", "lastSync"),
        ("query", "platform_name=Xero && status=Linked", "platformName"),
        ("query", "Stauts=Linked", "status"),
        ("order_by", "-source_type", "sourceType"),
    ],
)
def test_a_dataframe_column_or_a_typo_gets_did_you_mean(client, option, value, meant):
    with pytest.raises(ValueError, match=f"did you mean `{meant}`"):
        client.connections.list(COMPANY, **{option: value})


def test_a_property_with_no_near_miss_lists_the_real_ones(client):
    with pytest.raises(ValueError, match="properties are: id, integrationId"):
        client.connections.list(COMPANY, query="password=x")


def test_a_value_that_is_not_a_status_warns_naming_the_statuses(world, client):
    with pytest.warns(codat_nb.CodatWarning, match="PendingAuth, Linked, Unlinked, Deauthorized"):
        frame = client.connections.list(world.company_id, query="status=Linkd")
    assert frame.empty


def test_a_filter_the_server_did_not_apply_is_applied_here_with_a_warning():
    rows = [connection(1, status="Linked"), connection(2, status="Unlinked")]
    with (
        hostile(lambda asked: Answer(body=page(rows))) as server,  # ignores ``query``
        codat_nb.CodatClient("k", base_url=server.url) as client,
    ):
        with pytest.warns(codat_nb.CodatWarning, match="did not apply the filter"):
            frame = client.connections.list(COMPANY, query="status=Linked")
        assert list(frame["status"]) == ["Linked"]
        assert server.asked[0].params["query"] == "status=Linked"  # it was sent all the same
        with pytest.warns(codat_nb.CodatWarning, match="did not apply the filter"):
            walked = list(client.connections.iter(COMPANY, query="status=Linked"))
        assert [c.status for c in walked] == ["Linked"]


def test_a_limit_counted_before_the_local_filter_says_the_result_is_short():
    rows = [connection(n, status="Linked" if n % 5 == 0 else "Unlinked") for n in range(1, 251)]

    def answer(asked):  # ignores ``query``, honours paging
        size, number = int(asked.params["pageSize"]), int(asked.params["page"])
        return Answer(body=page(rows[(number - 1) * size : number * size], total=250, size=size))

    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.warns(codat_nb.CodatWarning, match="limit=10 counted the rows the server sent"),
    ):
        frame = client.connections.list(COMPANY, query="status=Linked", limit=10)
    assert list(frame["status"]) == ["Linked", "Linked"]
