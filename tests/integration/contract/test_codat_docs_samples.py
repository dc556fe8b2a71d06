"""Codat's own documentation samples for companies and connections, run against the sandbox.

Each sample is copied as written from the public repository ``codatio/codat-docs`` (file and
line named with it) and adapted only for the base URL, the key and real ids: ``api.codat.io``
becomes the sandbox's URL, an authorization placeholder its header, the SDKs' client their
``server_url`` (the SDK class is swapped for one bound to the sandbox), and ``{companyId}``-style
placeholders ids that exist. A sample that is itself wrong (a typo, an SDK call the current SDK
no longer has) is run too: the test proves it fails for that reason, not the sandbox's, and the
same request made right succeeds. docs/fidelity.md lists those exceptions.
"""

from __future__ import annotations

import functools
import json
import subprocess

import codat_bankfeeds
import codat_platform
import pytest
import requests
from codat_platform.models import errors

from codat_nb.sandbox import Sandbox

# ----- samples that run as written ---------------------------------------------------------

#: docs/core-concepts/connections.md, lines 84-91 (cURL, "Disconnect a data connection")
CURL_UNLINK = """curl --request PATCH \\
      --url "https://api.codat.io/companies/{companyId}/connections/{connectionId}" \\
      --header "Authorization: {codatAuthHeader}" \\
      --header "accept: application/json" \\
      --header "content-type: application/json" \\
      --data '{
        "status": "Unlinked"
      }'
"""
#: docs/core-concepts/connections.md, lines 239-241 (cURL, "Delete a data connection")
CURL_DELETE = """curl --request DELETE \\
      --url "https://api.codat.io/companies/{companyId}/connections/{connectionId}" \\
      --header "Authorization: {codatAuthHeader}" \\
"""
#: docs/get-started/first-steps.md, lines 387-390 (cURL, the company's redirect)
CURL_GET_COMPANY = """  curl --request GET \\
      --url "https://api.codat.io/companies/{companyId}" \\
      --header "Authorization: $CODAT_AUTH_HEADER" \\
      --header "accept: application/json"
"""
#: docs/core-concepts/connections.md, lines 99-115 (Python, unlink)
PY_UNLINK = """from codat_platform import CodatPlatform
from codat_platform.models import operations, shared

codat_platform = CodatPlatform(
    security=shared.Security(
        auth_header='{codatAuthHeader}',
    ),
)

req = codat_platform.connections.unlink(request={
        "company_id": "8a210b68-6988-11ed-a1eb-0242ac120002",
        "connection_id": "2e9d2c44-f675-40ba-8049-353bfcb5e171",
        "update_connection_status": {
            "status": shared.DataConnectionStatus.UNLINKED,
        },
    }
)
"""
#: docs/core-concepts/connections.md, lines 250-264 (Python, delete)
PY_DELETE = """from codat_platform import CodatPlatform
from codat_platform.models import operations, shared

codat_platform = CodatPlatform(
    security=shared.Security(
        auth_header="{codatAuthHeader}",
    ),
)

res = codat_platform.connections.delete(
  request={
        "company_id": "8a210b68-6988-11ed-a1eb-0242ac120002",
        "connection_id": "2e9d2c44-f675-40ba-8049-353bfcb5e171",
    }
)
"""
#: docs/using-the-api/querying.md, lines 851-869 (Python, companies with PendingAuth connections)
PY_PENDING = """from codat_platform import CodatPlatform
from codat_platform.models import operations, shared

codat_platform = CodatPlatform(
    security=shared.Security(
        auth_header="Basic BASE_64_ENCODED(API_KEY)",
    ),
)

res = codat_platform.companies.list(
    request=operations.ListCompaniesRequest(
        query='dataConnections.status=PendingAuth',
    )
)
"""
#: docs/using-the-api/querying.md, lines 977-995 (Python, companies with no connections)
PY_NO_CONNECTIONS = """from codat_platform import CodatPlatform
from codat_platform.models import operations, shared

codat_platform = CodatPlatform(
    security=shared.Security(
        auth_header="Basic BASE_64_ENCODED(API_KEY)",
    ),
)

res = codat_platform.companies.list(
    request=operations.ListCompaniesRequest(
        query='dataConnections.status!=PendingAuth&&dataConnections.status!=Linked&&dataConnections.status!=Deauthorized&&dataConnections.status!=Unlinked',
    )
)
"""  # noqa: E501
#: docs/using-the-api/managing-companies.md, lines 346-350 (Python, filter companies by tags),
#: after the page's own client (``platform_client``) and its ``customerId``
PY_BY_TAGS = """res = platform_client.companies.list(
    request=operations.ListCompaniesRequest(
        tags=f'uid={customerId}'
    )
)
"""
#: docs/get-started/first-steps.md, lines 114-122 (Python, authentication)
PY_FIRST_CLIENT = """from codat_platform import CodatPlatform
from codat_platform.models import shared

codat_platform = CodatPlatform(
    security=shared.Security(
        auth_header='{basicAuthHeader}',
    ),
)
"""
#: docs/bank-feeds/setup.md, lines 148-155 (Python, initialize the Bank Feeds client)
PY_BANK_FEEDS_CLIENT = """from codat_bankfeeds import CodatBankFeeds
from codat_bankfeeds.models import shared

bank_feeds_client = CodatBankFeeds(
    security=shared.Security(
        auth_header="Basic BASE_64_ENCODED(API_KEY)",
    ),
)
"""
#: docs/expenses/configure-customer.md, lines 34-38, 81-84 and 120-123 (HTTP): create the
#: company, its accounting connection, and (once authorized) unlink it
HTTP_EXPENSES = [
    ("POST", "/companies", '{\n    "name": "{companyName}"\n}'),
    ("POST", "/companies/{companyId}/connections", '{\n    "platformKey": "qhyg"\n}'),
    ("PATCH", "/companies/{companyId}/connections/{connectionId}", '{\n "status": "Unlinked"\n }'),
]

# ----- samples that are themselves wrong (docs/fidelity.md lists them) ---------------------

#: docs/using-the-api/querying.md, line 823 (HTTP): no pageSize, which the same page says "is
#: obligatory for querying"; line 948, the "no connections" tab, is a copy of it
HTTP_PENDING = "GET /companies?query=dataConnections.status=PendingAuth"
#: docs/get-started/first-steps.md, lines 254-262 (cURL, create a company): the --data quote is
#: never closed
CURL_CREATE = """  curl --request POST \\
      --url "https://api.codat.io/companies" \\
      --header "Authorization: $CODAT_AUTH_HEADER" \\
      --header "accept: application/json" \\
      --header "content-type: application/json" \\
      --data '{
              "name": "SMB company name",
              "description": "Any additional information about the company"
      }
"""
#: Python samples written for an older SDK: the request passed positionally (codat-platform 6.0.0
#: and codat-bankfeeds 13.0.0 take ``request=`` only) and answers read as ``res.company``.
OLD_SDK = {
    "docs/get-started/first-steps.md, lines 211-220": """\
req = shared.CompanyRequestBody(
    description='Requested early access to the new financing scheme.',
    name='Bank of Dave',
  )

res = codat_platform.companies.create(req)
""",
    "docs/get-started/first-steps.md, lines 346-354": """\
req = operations.GetCompanyRequest(
    company_id='{companyId}',
  )

res = codat_platform.companies.get(req)
""",
    "docs/using-the-api/managing-companies.md, lines 51-57": """\
req = shared.CompanyRequestBody(
    name='Toft stores',
    description='Need a loan for refurb.'
    )

company_created_res = platform_client.companies.create(req)
""",
    "docs/using-the-api/managing-companies.md, lines 154-163": """\
req = shared.CompanyRequestBody(
  name='Toft stores',
  tags={
    'uid': 'cust_1MtJUT2eZvKYlo2CNaw2HvEv',
    'region': 'uk'
  }
)

company_created_res = platform_client.companies.create(req)
""",
    "docs/using-the-api/managing-companies.md, lines 437-441": """\
company_delete_response = platform_client.companies.delete(
  operations.DeleteCompanyRequest(
    company_id='{companyId}',
  )
)
""",
    "docs/bank-feeds/create-account.md, lines 52-63": """\
company_request = shared.CompanyRequestBody(
    name=company_name,
)

company_response = bank_feeds_client.companies.create(company_request)
""",
    "docs/bank-feeds/create-account.md, lines 138-147": """\
connection_request = operations.CreateConnectionRequest(
    request_body=operations.CreateConnectionRequestBody(
        platform_key='hcws',
    ),
    company_id='{companyId}',
)

connection_response = bank_feeds_client.connections.create(connection_request)
""",
    "docs/bank-feeds/create-account.md, lines 210-217": """\
connection_otp_request = operations.GetConnectionRequest(
    company_id='{companyId}',
    connection_id='{connectionId}',
)

connection_otp_response = bank_feeds_client.connections.get(connection_otp_request)
""",
}
#: docs/using-the-api/managing-companies.md, lines 243-257 (Python, update company): the body
#: goes in ``company_request_body``, which codat-platform 6.0.0 silently drops (its field is
#: ``company_update_request``), so the PATCH goes without a body
PY_UPDATE = """req = shared.CompanyRequestBody(
  name='Toft stores',
  tags={
    'uid': 'cust_1MtJUT2eZvKYlo2CNaw2HvEv',
    'region': 'uk'
  }
)

company_updated_res = platform_client.companies.update(
    request=operations.UpdateCompanyRequest(
        company_id='{companyId}',
        company_request_body=req
    )
)
"""
#: docs/bank-feeds/create-account.md, lines 280-288 (Python, unlink): unlinks ``req``, which the
#: sample never defines (it built ``unlink_request``)
PY_BANK_FEEDS_UNLINK = """unlink_request = operations.UnlinkConnectionRequest(
    request_body=operations.UnlinkConnectionUpdateConnection(
      status=shared.DataConnectionStatus.UNLINKED
    ),
    company_id='{companyId}',
    connection_id='{connectionId}',
)

unlink_response = bank_feeds_client.connections.unlink(req)
"""


# ----- running them ------------------------------------------------------------------------


@pytest.fixture
def bound(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The SDKs' clients bound to the sandbox: the only change a sample's own client needs."""
    for module, name in ((codat_platform, "CodatPlatform"), (codat_bankfeeds, "CodatBankFeeds")):
        monkeypatch.setattr(
            module, name, functools.partial(getattr(module, name), server_url=sandbox.url)
        )
    return sandbox


def adapt(sample: str, sb: Sandbox, **ids: str) -> str:
    """The sample with the sandbox's URL and header, and real ids for the placeholders."""
    text = sample.replace("https://api.codat.io", sb.url)
    for placeholder in ("{codatAuthHeader}", "{basicAuthHeader}", "Basic BASE_64_ENCODED(API_KEY)"):
        text = text.replace(placeholder, sb.auth_header)
    documented = {
        "companyId": "8a210b68-6988-11ed-a1eb-0242ac120002",
        "connectionId": "2e9d2c44-f675-40ba-8049-353bfcb5e171",
    }
    for name, value in ids.items():
        text = text.replace("{" + name + "}", value).replace(documented.get(name, "\0"), value)
    return text


def run_python(sample: str, sb: Sandbox, **ids: str) -> dict:
    """Run a Python sample in a namespace holding what the page set up before it."""
    from codat_platform.models import operations, shared

    platform_client = codat_platform.CodatPlatform(
        security=shared.Security(auth_header=sb.auth_header)
    )
    namespace = {"platform_client": platform_client, "operations": operations, "shared": shared}
    exec(compile(adapt(sample, sb, **ids), "<sample>", "exec"), namespace)  # noqa: S102
    return namespace


def run_curl(sample: str, sb: Sandbox, **ids: str) -> subprocess.CompletedProcess[str]:
    env = {"CODAT_AUTH_HEADER": sb.auth_header, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        ["bash", "-c", adapt(sample, sb, **ids) + "\n"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def company_with(sb: Sandbox, status: str | None = None) -> tuple[str, str]:
    company = sb.store.create_company("Docs Sample Ltd")["id"]
    connection = sb.store.create_connection(company, "gbol")["id"]
    if status == "Linked":
        sb.store.link(company, connection)
    return company, connection


def test_the_connections_guide_samples_run(bound):
    sb = bound
    company, connection = company_with(sb, "Linked")
    unlinked = run_curl(CURL_UNLINK, sb, companyId=company, connectionId=connection)
    assert unlinked.returncode == 0 and json.loads(unlinked.stdout)["status"] == "Unlinked"
    assert run_curl(CURL_DELETE, sb, companyId=company, connectionId=connection).returncode == 0
    assert sb.store.connections_wire(company) == []

    company, connection = company_with(sb, "Linked")
    namespace = run_python(PY_UNLINK, sb, companyId=company, connectionId=connection)
    assert namespace["req"].status == "Unlinked"
    run_python(PY_DELETE, sb, companyId=company, connectionId=connection)
    assert sb.store.connections_wire(company) == []


def test_the_querying_guide_python_samples_run(bound):
    sb = bound
    pending, _ = company_with(sb)
    linked, _ = company_with(sb, "Linked")
    never = sb.store.create_company("Never Connected Ltd")["id"]
    emptied, gone = company_with(sb)
    sb.store.delete_connection(emptied, gone)
    assert [c.id for c in run_python(PY_PENDING, sb)["res"].results] == [pending]
    assert [c.id for c in run_python(PY_NO_CONNECTIONS, sb)["res"].results] == [never]
    assert linked


def test_the_querying_guides_http_sample_lacks_the_page_size_it_calls_obligatory(bound):
    sb = bound
    session = requests.Session()
    session.headers["Authorization"] = sb.auth_header
    method, path = HTTP_PENDING.split(" ", 1)
    refused = session.request(method, sb.url + path)
    assert (
        refused.status_code == 400
        and refused.json()["validation"]["errors"][0]["itemId"] == "pageSize"
    )
    assert session.request(method, sb.url + path + "&pageSize=100").status_code == 200


def test_the_first_steps_and_managing_companies_samples(bound):
    sb = bound
    company = sb.store.create_company("First Steps Ltd", tags={"uid": "cust_42"})["id"]
    shown = run_curl(CURL_GET_COMPANY, sb, companyId=company)
    assert shown.returncode == 0 and json.loads(shown.stdout)["redirect"].endswith(company)
    assert (
        run_python(PY_FIRST_CLIENT, sb)["codat_platform"]
        .companies.get(request={"company_id": company})
        .id
        == company
    )
    namespace = run_python("customerId = 'cust_42'\n" + PY_BY_TAGS, sb)
    assert [c.id for c in namespace["res"].results] == [company]


def test_the_first_steps_curl_create_never_closes_its_quote(bound):
    sb = bound
    ran = run_curl(CURL_CREATE, sb)
    assert ran.returncode != 0 and "unexpected EOF" in ran.stderr
    fixed = run_curl(CURL_CREATE.replace("      }\n", "      }'\n"), sb)
    assert fixed.returncode == 0 and json.loads(fixed.stdout)["name"] == "SMB company name"


@pytest.mark.parametrize("source", OLD_SDK)
def test_samples_written_for_an_older_sdk_fail_in_the_sdk_not_the_sandbox(bound, source):
    sb = bound
    company, connection = company_with(sb)
    before = sb.store.request_count
    setup = "from codat_bankfeeds.models import operations as bf_operations, shared as bf_shared\n"
    sample = OLD_SDK[source]
    if "bank_feeds_client" in sample:
        setup += (
            PY_BANK_FEEDS_CLIENT
            + "operations, shared = bf_operations, bf_shared\ncompany_name = 'Bank Feed Ltd'\n"
        )
    else:
        setup += "codat_platform = platform_client\n"
    with pytest.raises((TypeError, ValueError), match="[Pp]ositional argument"):
        run_python(setup + sample, sb, companyId=company, connectionId=connection)
    assert sb.store.request_count == before  # nothing was sent


def test_the_update_sample_sends_no_body_and_the_corrected_call_updates(bound, expect_error):
    sb = bound
    company = sb.store.create_company("Toft stores")["id"]
    with pytest.raises(errors.SDKError) as refused:  # PATCH without a body: the sandbox says so
        run_python(PY_UPDATE, sb, companyId=company)
    assert (
        refused.value.status_code == 400 and "a JSON object body is required" in refused.value.body
    )
    fixed = run_python(
        PY_UPDATE.replace("company_request_body=", "company_update_request=").replace(
            "CompanyRequestBody(", "CompanyUpdateRequest("
        ),
        sb,
        companyId=company,
    )
    assert fixed["company_updated_res"].tags == {
        "uid": "cust_1MtJUT2eZvKYlo2CNaw2HvEv",
        "region": "uk",
    }


def test_the_bank_feeds_samples(bound):
    """docs/bank-feeds/setup.md's client works; docs/bank-feeds/create-account.md's calls, made
    with ``request=`` as the current SDK takes them, create an ``hcws`` connection (QuickBooks
    Online Bank Feeds), get it, and unlink it once linked; its unlink sample names ``req``,
    which it never defines."""
    sb = bound
    namespace = run_python(PY_BANK_FEEDS_CLIENT, sb)
    client = namespace["bank_feeds_client"]
    from codat_bankfeeds.models import operations, shared

    company = client.companies.create(request=shared.CompanyRequestBody(name="Bank Feed Ltd"))
    made = client.connections.create(
        request=operations.CreateConnectionRequest(
            request_body=operations.CreateConnectionRequestBody(platform_key="hcws"),
            company_id=company.id,
        )
    )
    assert (made.platform_name, made.source_type, made.status) == (
        "QuickBooks Online Bank Feeds",
        "BankFeed",
        "PendingAuth",
    )
    ids = {"company_id": company.id, "connection_id": made.id}
    assert client.connections.get(request=operations.GetConnectionRequest(**ids)).link_url
    sb.store.link(company.id, made.id)  # the customer finishes the flow
    setup = "from codat_bankfeeds.models import operations, shared\n" + PY_BANK_FEEDS_CLIENT
    with pytest.raises(NameError, match="'req' is not defined"):
        run_python(setup + PY_BANK_FEEDS_UNLINK, sb, companyId=company.id, connectionId=made.id)
    fixed = PY_BANK_FEEDS_UNLINK.replace("unlink(req)", "unlink(request=unlink_request)")
    assert (
        run_python(setup + fixed, sb, companyId=company.id, connectionId=made.id)[
            "unlink_response"
        ].status
        == "Unlinked"
    )


def test_the_expenses_configure_customer_http_samples_run(bound):
    """docs/expenses/configure-customer.md: create the company and its QuickBooks Online
    connection; the customer authorizes it; the partner expense connection; unlink."""
    sb = bound
    session = requests.Session()
    session.headers["Authorization"] = sb.auth_header
    (m1, p1, b1), (m2, p2, b2), (m3, p3, b3) = HTTP_EXPENSES
    company = session.request(m1, sb.url + p1, data=b1.replace("{companyName}", "Sawayn Group"),
                              headers={"Content-Type": "application/json"}).json()  # fmt: skip
    assert company["name"] == "Sawayn Group" and company["dataConnections"] == []
    connection = session.request(
        m2, sb.url + p2.replace("{companyId}", company["id"]), data=b2
    ).json()
    assert (connection["platformName"], connection["status"]) == (
        "QuickBooks Online",
        "PendingAuth",
    )
    assert requests.get(connection["linkUrl"]).status_code == 200  # the customer authorizes it
    partner = session.post(
        f"{sb.url}/companies/{company['id']}/sync/expenses/connections/partnerExpense"
    )
    assert partner.json()["status"] == "Linked"
    path = p3.replace("{companyId}", company["id"]).replace("{connectionId}", connection["id"])
    assert session.request(m3, sb.url + path, data=b3).json()["status"] == "Unlinked"
