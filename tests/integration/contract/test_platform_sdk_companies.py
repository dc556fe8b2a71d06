"""Codat's current SDK, ``codat-platform`` 6.0.0, drives every companies and connections call it
has against the sandbox: companies create, get, list, update, replace, delete; connections
create, get, list, unlink, delete. An operation the sandbox does not serve raises the SDK's
ErrorMessage with a 404 saying so, not "company not found"."""

from __future__ import annotations

import pytest
from codat_platform.models import errors, operations, shared


def test_companies_create_get_list_update_replace_delete(sandbox, platform):
    body = shared.CompanyRequestBody(name="Toft stores", description="Need a loan for refurb.")
    created = platform.companies.create(request=body)
    assert (created.name, created.description) == ("Toft stores", "Need a loan for refurb.")
    assert created.created_by_user_name == "Sandbox User" and created.products == ["expenses"]
    assert platform.companies.get(request={"company_id": created.id}) == created

    tags = {"uid": "cust_1MtJUT2eZvKYlo2CNaw2HvEv", "region": "uk"}
    updated = platform.companies.update(
        request=operations.UpdateCompanyRequest(
            company_id=created.id,
            company_update_request=shared.CompanyUpdateRequest(tags=tags),
        )
    )
    assert (updated.name, updated.description, updated.tags) == (
        created.name,
        created.description,
        tags,
    )
    assert sandbox.store.get_company_wire(created.id)["tags"] == tags

    replaced = platform.companies.replace(
        request=operations.ReplaceCompanyRequest(
            company_id=created.id,
            company_request_body=shared.CompanyRequestBody(name="New Name"),
        )
    )
    assert (replaced.name, replaced.description, replaced.tags) == ("New Name", "", None)

    listed = platform.companies.list(
        request=operations.ListCompaniesRequest(tags="uid=cust_1MtJUT2eZvKYlo2CNaw2HvEv")
    )
    assert listed.total_results == 0  # the replace removed the tags
    everything = platform.companies.list()
    assert [c.id for c in everything.results] == [created.id]

    platform.companies.delete(request={"company_id": created.id})
    with pytest.raises(errors.ErrorMessage) as info:
        platform.companies.get(request={"company_id": created.id})
    assert info.value.status_code == 404
    assert sandbox.store.company_ids() == []


def test_connections_create_get_list_unlink_delete(sandbox, platform):
    company = platform.companies.create(request=shared.CompanyRequestBody(name="Bank of Dave"))
    made = platform.connections.create(
        request=operations.CreateConnectionRequest(
            company_id=company.id,
            request_body={"platform_key": "hcws"},
        )
    )
    assert (made.platform_name, made.source_type, made.status) == (
        "QuickBooks Online Bank Feeds",
        "BankFeed",
        "PendingAuth",
    )
    sandbox.store.link(company.id, made.id)  # the customer finishes the flow
    ids = {"company_id": company.id, "connection_id": made.id}
    assert platform.connections.get(request=ids).status == "Linked"
    page = platform.connections.list(
        request=operations.ListConnectionsRequest(company_id=company.id, query="status=Linked")
    )
    assert [c.id for c in page.results] == [made.id]
    unlinked = platform.connections.unlink(
        request={**ids, "update_connection_status": {"status": "Unlinked"}}
    )
    assert unlinked.status == "Unlinked"
    # Only a Linked one can be unlinked; the document lists no 400 for unlink, so the SDK
    # raises its SDKError (status and Codat's body kept) rather than ErrorMessage.
    with pytest.raises(errors.SDKError) as refused:
        platform.connections.unlink(
            request={**ids, "update_connection_status": {"status": "Unlinked"}}
        )
    assert refused.value.status_code == 400 and "this one is Unlinked" in refused.value.body
    platform.connections.delete(request=ids)
    assert sandbox.store.connections_wire(company.id) == []


def test_an_operation_the_sandbox_does_not_serve_says_so(sandbox, platform):
    company = sandbox.store.create_company("Unserved Ltd")["id"]
    with pytest.raises(errors.ErrorMessage) as info:
        platform.companies.get_access_token(request={"company_id": company})
    assert info.value.status_code == 404
    assert "The sandbox does not serve GET /companies/{companyId}/accessToken" in str(
        info.value.body
    )
