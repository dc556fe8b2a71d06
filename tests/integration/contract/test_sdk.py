"""The official SDK (codatsyncexpenses 0.5.0) drives the sandbox through all six operations."""

from __future__ import annotations

import pytest
import requests
from codatsyncexpenses import CodatSyncExpenses
from codatsyncexpenses.models import errors, operations, shared
from codatsyncexpenses.utils import retries

from codat_nb.sandbox import Sandbox

NO_RETRIES = retries.RetryConfig("none", retries.BackoffStrategy(1, 1, 1, 1), False)


@pytest.fixture
def sdk(demo_sandbox: Sandbox) -> CodatSyncExpenses:
    return CodatSyncExpenses(
        security=shared.Security(auth_header=demo_sandbox.auth_header),
        server_url=demo_sandbox.url,
        retry_config=NO_RETRIES,
    )


def test_sdk_performs_all_six_operations(demo_sandbox, sdk):
    company_id = demo_sandbox.store.company_ids()[0]
    conns = sdk.connections

    created = conns.create_connection(
        operations.CreateConnectionRequest(
            company_id=company_id,
            request_body=operations.CreateConnectionRequestBody(platform_key="gbol"),
        )
    ).connection
    assert created.status == shared.DataConnectionStatus.PENDING_AUTH
    assert created.source_type == shared.SourceType.ACCOUNTING
    assert requests.get(created.link_url).status_code == 200  # the customer links it

    fetched = conns.get_connection(
        operations.GetConnectionRequest(company_id=company_id, connection_id=created.id)
    ).connection
    assert fetched.status == shared.DataConnectionStatus.LINKED and fetched.last_sync

    partner = conns.create_partner_expense_connection(
        operations.CreatePartnerExpenseConnectionRequest(company_id=company_id)
    ).connection
    assert partner.status == shared.DataConnectionStatus.LINKED
    assert partner.source_type == shared.SourceType.EXPENSE

    unlinked = conns.unlink(
        operations.UnlinkConnectionRequest(
            company_id=company_id,
            connection_id=created.id,
            request_body=operations.UnlinkConnectionUpdateConnection(
                status=shared.DataConnectionStatus.UNLINKED
            ),
        )
    ).connection
    assert unlinked.status == shared.DataConnectionStatus.UNLINKED

    page = conns.list_connections(
        operations.ListConnectionsRequest(
            company_id=company_id, page=1, page_size=2, query="status=Linked", order_by="-created"
        )
    ).connections
    expected = [
        c["id"]
        for c in sorted(
            demo_sandbox.store.connections_wire(company_id),
            key=lambda c: c["created"],
            reverse=True,
        )
        if c["status"] == "Linked"
    ]
    assert [c.id for c in page.results] == expected[:2]
    assert page.total_results == len(expected)
    assert page.links.self_.href == f"/companies/{company_id}/connections"

    deleted = conns.delete_connection(
        operations.DeleteConnectionRequest(company_id=company_id, connection_id=created.id)
    )
    assert deleted.status_code == 200
    with pytest.raises(errors.ErrorMessage) as info:
        conns.get_connection(
            operations.GetConnectionRequest(company_id=company_id, connection_id=created.id)
        )
    assert info.value.status_code == 404
    assert info.value.error == f"Data connection {created.id} not found"
    assert len(info.value.correlation_id) == 32


def test_sdk_parses_every_demo_connection_but_those_without_integration_key(demo_sandbox, sdk):
    """Every shape the demo holds parses in the SDK: nulls, errors, connectionInfo, 7-digit
    fractions, offsets, unqualified local times. All but one: SDK 0.5.0 declares
    ``integrationKey`` required, which Codat's document does not, so a page holding an older
    connection without it fails with KeyError('integration_key') (README: the official SDK);
    its other connections still parse one by one."""
    seen, refused = 0, []
    for company_id in demo_sandbox.store.company_ids():
        rows = demo_sandbox.store.connections_wire(company_id)
        request = operations.ListConnectionsRequest(company_id=company_id, page_size=5000)
        if all("integrationKey" in row for row in rows):
            page = sdk.connections.list_connections(request).connections
            assert page.total_results == len(page.results or []) == len(rows)
            seen += page.total_results
            continue
        with pytest.raises(KeyError, match="integration_key"):
            sdk.connections.list_connections(request)
        refused += [row for row in rows if "integrationKey" not in row]
        for row in rows:
            if "integrationKey" in row:
                one = operations.GetConnectionRequest(
                    company_id=company_id, connection_id=row["id"]
                )
                assert sdk.connections.get_connection(one).connection.id == row["id"]
                seen += 1
    assert refused and seen + len(refused) >= 1_000


def test_sdk_raises_codat_errors_for_bad_requests(demo_sandbox, sdk):
    company_id = demo_sandbox.store.company_ids()[0]
    with pytest.raises(errors.ErrorMessage) as info:
        sdk.connections.create_connection(
            operations.CreateConnectionRequest(
                company_id="00000000-0000-4000-8000-000000000000",
                request_body=operations.CreateConnectionRequestBody(platform_key="gbol"),
            )
        )
    assert info.value.status_code == 404 and "No company was found" in info.value.error
    with pytest.raises(errors.ErrorMessage) as info:
        sdk.connections.list_connections(
            operations.ListConnectionsRequest(company_id=company_id, query="status=")
        )
    assert info.value.status_code == 400
    assert info.value.error.startswith("Error parsing query - ")
    assert info.value.validation.errors[0].item_id == "query"


def test_sdk_sees_injected_429_without_retries(demo_sandbox, sdk):
    demo_sandbox.faults.rate_limit_rate = 1.0
    company_id = demo_sandbox.store.company_ids()[0]
    with pytest.raises(errors.ErrorMessage) as info:
        sdk.connections.list_connections(operations.ListConnectionsRequest(company_id=company_id))
    assert info.value.status_code == 429
    assert info.value.can_be_retried == "Unknown"


def test_sdk_rejects_wrong_key(demo_sandbox):
    sdk = CodatSyncExpenses(
        security=shared.Security(auth_header="Basic d3Jvbmc="),
        server_url=demo_sandbox.url,
        retry_config=NO_RETRIES,
    )
    with pytest.raises(errors.ErrorMessage) as info:
        sdk.connections.list_connections(
            operations.ListConnectionsRequest(company_id=demo_sandbox.store.company_ids()[0])
        )
    assert info.value.status_code == 401 and info.value.error == "Unauthorized"


def test_sdk_parses_codats_402_examples(demo_sandbox, sdk):
    """The errors guide's "Payment Required" item has no itemId: the SDK leaves its sentinel
    string there, not None, and canBeRetried is None."""
    demo_sandbox.expire_account()
    with pytest.raises(errors.ErrorMessage) as info:
        sdk.connections.list_connections(
            operations.ListConnectionsRequest(company_id=demo_sandbox.store.company_ids()[0])
        )
    assert (info.value.status_code, info.value.error) == (402, "Payment Required")
    (item,) = info.value.validation.errors
    assert item.item_id == shared.ErrorValidationItem.UNSET == "__SPEAKEASY_UNSET__"
    assert item.message.startswith("Account expired.")
    assert info.value.can_be_retried is None and info.value.detailed_error_code is None


def test_sdk_cannot_parse_an_error_without_validation(demo_sandbox, sdk):
    """Codat's documented error examples carry no ``validation``; SDK 0.5.0 then raises an
    AttributeError of its own instead of ErrorMessage (README: the official SDK). That is why
    the sandbox sends ``validation`` unless ``error_validation=False``."""
    demo_sandbox.faults.error_validation = False
    with pytest.raises(AttributeError, match="unable to unmarshal .*'str' object has no attr"):
        sdk.connections.get_connection(
            operations.GetConnectionRequest(
                company_id=demo_sandbox.store.company_ids()[0],
                connection_id="00000000-0000-4000-8000-000000000000",
            )
        )
