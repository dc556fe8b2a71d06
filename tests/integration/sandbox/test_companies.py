"""Companies: list, create, get, delete, and validation of what is sent."""

from __future__ import annotations

MISSING = "00000000-0000-4000-8000-000000000000"


def test_create_get_and_list_a_company(sandbox, session):
    body = {"name": "Technicalium", "description": "Web & app design", "tags": {"region": "uk"}}
    response = session.post(f"{sandbox.url}/companies", json=body)
    assert response.status_code == 200
    company = response.json()
    assert list(company) == [
        "id", "name", "description", "redirect", "created", "products", "tags",
        "referenceSubsidiaryCompanies", "dataConnections",
    ]  # fmt: skip
    assert company["created"] == "2026-11-01T09:00:00Z"
    assert company["redirect"] == f"{sandbox.url}/link/companies/{company['id']}"
    assert company["dataConnections"] == [] and company["referenceSubsidiaryCompanies"] == []
    assert session.get(f"{sandbox.url}/companies/{company['id']}").json() == company
    page = session.get(f"{sandbox.url}/companies").json()
    assert page["results"] == [company] and page["totalResults"] == 1
    assert sandbox.store.list_companies_wire() == [company]


def test_description_is_omitted_when_none(sandbox, session):
    company = session.post(f"{sandbox.url}/companies", json={"name": "Plain Ltd"}).json()
    assert "description" not in company and "lastSync" not in company and "tags" not in company


def test_company_carries_connections_and_latest_last_sync(sandbox, session):
    cid = session.post(f"{sandbox.url}/companies", json={"name": "Sync Ltd"}).json()["id"]
    first = session.post(f"{sandbox.url}/companies/{cid}/connections", json={"platformKey": "gbol"})
    sandbox.store.link(cid, first.json()["id"])
    company = session.get(f"{sandbox.url}/companies/{cid}").json()
    assert [c["id"] for c in company["dataConnections"]] == [first.json()["id"]]
    assert company["lastSync"] == company["dataConnections"][0]["lastSync"]


def test_delete_company_is_204_then_404(sandbox, session, expect_error):
    cid = session.post(f"{sandbox.url}/companies", json={"name": "Gone Ltd"}).json()["id"]
    response = session.delete(f"{sandbox.url}/companies/{cid}")
    assert response.status_code == 204 and response.content == b""
    expect_error(session.get(f"{sandbox.url}/companies/{cid}"), 404, contains=cid)
    expect_error(session.delete(f"{sandbox.url}/companies/{cid}"), 404, service="ClientsApi")
    assert sandbox.store.company_ids() == []


def test_get_unknown_company_is_404(sandbox, session, expect_error):
    expect_error(
        session.get(f"{sandbox.url}/companies/{MISSING}"),
        404,
        contains=f"No company was found with ID {MISSING}",
        service="ClientsApi",
    )
    expect_error(session.get(f"{sandbox.url}/companies/nope"), 400, item_id="companyId")


def test_invalid_company_bodies_are_400_and_change_nothing(sandbox, session, expect_error):
    before = sandbox.store.snapshot()
    cases = [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
        ({"name": "Bad <script>"}, "name"),
        ({"name": "Ok", "description": 5}, "description"),
        ({"name": "Ok", "tags": ["a"]}, "tags"),
        ({"name": "Ok", "tags": {f"k{i}": "v" for i in range(11)}}, "tags"),
        ({"name": "Ok", "tags": {"k": 1}}, "tags.k"),
        ({"name": "Ok", "tags": {"x" * 28: "v"}}, "tags." + "x" * 28),
    ]
    for body, item in cases:
        expect_error(session.post(f"{sandbox.url}/companies", json=body), 400, item_id=item)
    expect_error(session.post(f"{sandbox.url}/companies", data="{"), 400, item_id="body")
    expect_error(session.post(f"{sandbox.url}/companies", json="name"), 400, item_id="body")
    assert sandbox.store.snapshot() == before


def test_tags_filter_on_list_companies(sandbox, session, expect_error):
    for name, region in (("Alpha", "uk"), ("Beta", "us"), ("Gamma", "uk")):
        session.post(f"{sandbox.url}/companies", json={"name": name, "tags": {"region": region}})
    session.post(f"{sandbox.url}/companies", json={"name": "Untagged"})
    page = session.get(f"{sandbox.url}/companies", params={"tags": "region=uk"}).json()
    assert [c["name"] for c in page["results"]] == ["Alpha", "Gamma"]
    assert "tags=region%3Duk" in page["_links"]["current"]["href"]
    expect_error(
        session.get(f"{sandbox.url}/companies", params={"tags": "region="}), 400, item_id="tags"
    )


def test_demo_companies_query_and_order(demo_sandbox, demo_session):
    url = f"{demo_sandbox.url}/companies"
    page = demo_session.get(url, params={"query": "name~dental", "orderBy": "name"}).json()
    names = [c["name"] for c in page["results"]]
    assert names and names == sorted(names) and all("Dental" in n for n in names)
    expected = [c for c in demo_sandbox.store.list_companies_wire() if "Dental" in c["name"]]
    assert page["totalResults"] == len(expected)
