"""Companies: list, create, get, delete, and validation of what is sent."""

from __future__ import annotations

MISSING = "00000000-0000-4000-8000-000000000000"


def test_create_get_and_list_a_company(sandbox, session):
    body = {"name": "Technicalium", "description": "Web & app design", "tags": {"region": "uk"}}
    response = session.post(f"{sandbox.url}/companies", json=body)
    assert response.status_code == 200
    company = response.json()
    assert list(company) == [
        "id", "name", "description", "redirect", "created", "createdByUserName", "products",
        "tags", "ownerUserIds", "referenceSubsidiaryCompanies", "dataConnections",
    ]  # fmt: skip
    assert company["ownerUserIds"] == []  # "every company response includes" it
    assert company["created"] == "2026-11-01T09:00:00Z"
    assert company["redirect"] == f"{sandbox.url}/company/{company['id']}"
    assert company["dataConnections"] == [] and company["referenceSubsidiaryCompanies"] == []
    assert session.get(f"{sandbox.url}/companies/{company['id']}").json() == company
    page = session.get(f"{sandbox.url}/companies").json()
    assert page["results"] == [company] and page["totalResults"] == 1
    assert sandbox.store.list_companies_wire() == [company]


def test_a_new_company_is_shaped_as_the_documents_examples(sandbox, session):
    """The create-company examples ("With no description") of Codat's document: ``description``
    is ``""`` when none is given, beside ``createdByUserName`` and ``products``."""
    company = session.post(f"{sandbox.url}/companies", json={"name": "Plain Ltd"}).json()
    assert company["description"] == ""
    assert company["createdByUserName"] == "Sandbox User" and company["products"] == ["expenses"]
    assert "lastSync" not in company and "tags" not in company


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
        ({"name": "<()>"}, "name"),  # nothing left once forbidden characters are removed
        ({"name": "\x1c\x1d"}, "name"),  # not .NET's \s, though Python's isspace says so
        ({"name": "a" * 256}, "name"),
        ({"name": "Ok", "description": "d" * 2001}, "description"),
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
    params = {"query": "name~dental", "orderBy": "name", "pageSize": 100}
    page = demo_session.get(url, params=params).json()
    names = [c["name"] for c in page["results"]]
    assert names and names == sorted(names) and all("Dental" in n for n in names)
    expected = [c for c in demo_sandbox.store.list_companies_wire() if "Dental" in c["name"]]
    assert page["totalResults"] == len(expected)


def test_forbidden_characters_are_removed_and_the_company_created(sandbox, session):
    """Codat's example: ``Company (Codat[1])`` is created as ``Company Codat1``. Its pattern's
    ``\\s`` is .NET's: tabs and newlines stay, U+001C..U+001F (Python's isspace) go."""
    cases = {
        "Company (Codat[1])": "Company Codat1",
        "Bad <script>": "Bad script",
        "Caf\u00e9 & Co.": "Caf & Co.",
        "Tab\tNew\nline\u00a0nbsp": "Tab\tNew\nline\u00a0nbsp",
        "Sep\x1c\x1d\x1e\x1farators\x00\x7f": "Separators",
        "O'Connell, Smith-Jones @ Co? Yes!": "O'Connell, Smith-Jones @ Co? Yes!",
    }
    for sent, created in cases.items():
        response = session.post(f"{sandbox.url}/companies", json={"name": sent})
        assert response.status_code == 200, response.text
        assert response.json()["name"] == created
    assert [c["name"] for c in sandbox.store.list_companies_wire()] == list(cases.values())


def test_the_name_pattern_space_is_dotnets(sandbox):
    """.NET's \\s is [\\f\\n\\r\\t\\v\\x85\\p{Z}]: the sandbox keeps exactly those."""
    import sys
    import unicodedata

    from codat_nb.sandbox.rules import allowed_in_name

    dotnet = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "Z"}
    dotnet |= set("\f\n\r\t\v\x85")
    spaces = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert {ch for ch in spaces if allowed_in_name(ch)} == dotnet


def test_companies_query_on_their_connections_status(demo_sandbox, demo_session, expect_error):
    """Codat's querying guide: ``dataConnections.status=PendingAuth`` finds the companies with
    a PendingAuth connection; its "no connections" example joins four ``!=`` (none equals);
    a page size is obligatory for querying companies."""
    url = f"{demo_sandbox.url}/companies"
    companies = demo_sandbox.store.list_companies_wire()
    statuses = {c["id"]: {x["status"] for x in c["dataConnections"]} for c in companies}

    def ids(query: str) -> list[str]:
        body = demo_session.get(url, params={"query": query, "pageSize": 5000}).json()
        assert body["totalResults"] == len(body["results"])
        return [c["id"] for c in body["results"]]

    pending = ids("dataConnections.status=PendingAuth")
    assert pending == [c for c, s in statuses.items() if "PendingAuth" in s] and pending
    none = " && ".join(
        f"dataConnections.status!={s}"
        for s in ("PendingAuth", "Linked", "Deauthorized", "Unlinked")
    )
    assert ids(none) == [c for c, s in statuses.items() if not s] and ids(none)
    assert ids("dataConnections.status!=Linked") == [
        c for c, s in statuses.items() if "Linked" not in s
    ]
    expect_error(
        demo_session.get(url, params={"query": "dataConnections.status=PendingAuth"}),
        400,
        item_id="pageSize",
        service="ClientsApi",
    )


NO_CONNECTIONS = " && ".join(
    f"dataConnections.status!={s}" for s in ("PendingAuth", "Linked", "Deauthorized", "Unlinked")
)


def test_companies_whose_connections_were_deleted_are_not_companies_with_no_connections(
    sandbox, session
):
    """Codat's querying guide: the "companies with no connections" query "will exclude
    companies that had connections but they were deleted"."""
    never = sandbox.store.create_company("Never Connected Ltd")["id"]
    emptied = sandbox.store.create_company("Emptied Ltd")["id"]
    kept = sandbox.store.create_company("Still Connected Ltd")["id"]
    for company in (emptied, kept):
        sandbox.store.create_connection(company, "gbol")
    sandbox.store.create_connection(kept, "qhyg")
    gone = sandbox.store.connections_wire(emptied)[0]["id"]
    session.delete(f"{sandbox.url}/companies/{emptied}/connections/{gone}").raise_for_status()
    session.delete(
        f"{sandbox.url}/companies/{kept}/connections/{sandbox.store.connections_wire(kept)[0]['id']}"
    ).raise_for_status()

    def ids(query: str) -> list[str]:
        body = session.get(f"{sandbox.url}/companies", params={"query": query, "pageSize": 100})
        return [c["id"] for c in body.json()["results"]]

    assert ids(NO_CONNECTIONS) == [never]
    assert ids("dataConnections.status=PendingAuth") == [kept]
    listed = session.get(f"{sandbox.url}/companies/{emptied}").json()
    assert listed["dataConnections"] == []  # the listing itself shows no connection


def test_unknown_properties_of_a_company_body_are_ignored(sandbox, session):
    """Codat's company request schemas do not forbid other properties (no
    ``additionalProperties: false``) and its documents are silent: the sandbox ignores them on
    create, update and replace, as an ASP.NET model binder does, and stores none of them."""
    made = session.post(f"{sandbox.url}/companies", json={"name": "Odd Ltd", "colour": "red"})
    assert made.status_code == 200 and "colour" not in made.json()
    url = f"{sandbox.url}/companies/{made.json()['id']}"
    patched = session.patch(url, json={"description": "d", "id": "not-this", "colour": "blue"})
    assert patched.status_code == 200
    assert patched.json()["id"] == made.json()["id"] and "colour" not in patched.json()
    replaced = session.put(url, json={"name": "Odd Ltd", "created": "2000-01-01T00:00:00Z"})
    assert replaced.status_code == 200
    assert replaced.json()["created"] == made.json()["created"]
    assert session.get(url).json() == replaced.json()


def test_update_company_changes_only_what_is_given(sandbox, session, expect_error):
    """PATCH /companies/{companyId}: "If any of the fields provided are null or not provided,
    they won't be included in the update" (the document); empty tags remove them (Codat's
    managing-companies guide)."""
    body = {"name": "Toft stores", "description": "refurb", "tags": {"region": "uk"}}
    made = session.post(f"{sandbox.url}/companies", json=body).json()
    url = f"{sandbox.url}/companies/{made['id']}"
    updated = session.patch(url, json={"tags": {"uid": "cust_1", "region": "us"}, "name": None})
    assert updated.status_code == 200
    company = updated.json()
    assert (company["name"], company["description"]) == ("Toft stores", "refurb")
    assert company["tags"] == {"uid": "cust_1", "region": "us"}
    assert session.get(url).json() == company
    renamed = session.patch(url, json={"name": "Toft (Stores)[2]"}).json()
    assert renamed["name"] == "Toft Stores2" and renamed["tags"] == company["tags"]
    assert "tags" not in session.patch(url, json={"tags": {}}).json()
    before = sandbox.store.snapshot()
    expect_error(session.patch(url), 400, item_id="body")  # no body at all: say so
    expect_error(
        session.patch(url, json={"tags": {"x" * 28: "v"}}), 400, item_id="tags." + "x" * 28
    )
    expect_error(session.patch(url, json={"name": "()"}), 400, item_id="name")
    assert sandbox.store.snapshot() == before
    expect_error(session.patch(f"{sandbox.url}/companies/{MISSING}", json={}), 404)


def test_replace_company_replaces_name_description_and_tags(sandbox, session, expect_error):
    """PUT /companies/{companyId} "will replace existing values even if new values haven't
    been defined in the payload" (the document); ``name`` is required."""
    body = {"name": "Toft stores", "description": "refurb", "tags": {"region": "uk"}}
    made = session.post(f"{sandbox.url}/companies", json=body).json()
    sandbox.store.create_connection(made["id"], "gbol")
    url = f"{sandbox.url}/companies/{made['id']}"
    replaced = session.put(url, json={"name": "New Name"})
    assert replaced.status_code == 200
    company = replaced.json()
    assert (company["name"], company["description"]) == ("New Name", "")
    assert "tags" not in company
    assert [c["id"] for c in company["dataConnections"]] == [
        c["id"] for c in made["dataConnections"] + sandbox.store.connections_wire(made["id"])
    ]
    assert (company["created"], company["redirect"]) == (made["created"], made["redirect"])
    before = sandbox.store.snapshot()
    expect_error(session.put(url, json={"description": "no name"}), 400, item_id="name")
    assert sandbox.store.snapshot() == before
