"""The link flow as Codat documents it: link URLs of Codat's shape, one-time passwords (usable
once, for a day of the sandbox clock), re-authorisation, and previews that never link."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from codat_nb.sandbox import Sandbox

OTP = re.compile(r"[A-Z2-7]{32}")


@pytest.fixture
def otp_sandbox():
    with Sandbox(seed=None, one_time_links=True) as sb:
        yield sb


def new_connection(sb: Sandbox, session: requests.Session, key: str = "gbol") -> tuple[str, dict]:
    company = session.post(f"{sb.url}/companies", json={"name": "Link Ltd"}).json()["id"]
    made = session.post(f"{sb.url}/companies/{company}/connections", json={"platformKey": key})
    return company, made.json()


def shown(sb: Sandbox, session: requests.Session, company: str, connection: str) -> dict:
    return session.get(f"{sb.url}/companies/{company}/connections/{connection}").json()


def test_links_have_codats_shapes_on_the_sandboxs_host(sandbox, session):
    company, connection = new_connection(sandbox, session)
    assert connection["linkUrl"] == (
        f"{sandbox.url}/companies/{company}/connections/{connection['id']}/start"
    )
    assert session.get(f"{sandbox.url}/companies/{company}").json()["redirect"] == (
        f"{sandbox.url}/company/{company}"
    )


def test_one_time_links_carry_an_otp(otp_sandbox, auth_session):
    session = auth_session(otp_sandbox)
    company, connection = new_connection(otp_sandbox, session)
    url = urlsplit(connection["linkUrl"])
    assert f"{url.scheme}://{url.netloc}" == otp_sandbox.url
    assert url.path == f"/companies/{company}/connections/{connection['id']}/start"
    assert OTP.fullmatch(parse_qs(url.query)["otp"][0])
    redirect = urlsplit(session.get(f"{otp_sandbox.url}/companies/{company}").json()["redirect"])
    assert redirect.path == f"/company/{company}"
    assert OTP.fullmatch(parse_qs(redirect.query)["link.otp"][0])


def test_a_one_time_link_links_once_and_a_reuse_changes_nothing(otp_sandbox, auth_session):
    session = auth_session(otp_sandbox)
    company, connection = new_connection(otp_sandbox, session)
    again = shown(otp_sandbox, session, company, connection["id"])
    assert again["linkUrl"] == connection["linkUrl"]  # no write since: the same link
    first = requests.get(connection["linkUrl"], timeout=30)
    assert first.status_code == 200 and "Linked" in first.text
    linked = shown(otp_sandbox, session, company, connection["id"])
    assert linked["status"] == "Linked"
    assert linked["linkUrl"] != connection["linkUrl"]  # a fresh one is shown
    session.patch(
        f"{otp_sandbox.url}/companies/{company}/connections/{connection['id']}",
        json={"status": "Unlinked"},
    )
    before = otp_sandbox.store.snapshot()
    reused = requests.get(connection["linkUrl"], timeout=30)
    assert reused.status_code == 410 and "already been used" in reused.text
    assert otp_sandbox.store.snapshot() == before
    assert shown(otp_sandbox, session, company, connection["id"])["status"] == "Unlinked"


@pytest.mark.parametrize("lost", ["Unlinked", "Deauthorized"])
def test_a_valid_link_reauthorises_a_connection_that_lost_access(otp_sandbox, auth_session, lost):
    session = auth_session(otp_sandbox)
    company, connection = new_connection(otp_sandbox, session)
    requests.get(connection["linkUrl"], timeout=30)
    if lost == "Unlinked":
        otp_sandbox.store.unlink(company, connection["id"])
    else:
        otp_sandbox.store.deauthorize(company, connection["id"])
    fresh = shown(otp_sandbox, session, company, connection["id"])
    assert fresh["status"] == lost
    assert requests.get(fresh["linkUrl"], timeout=30).status_code == 200
    relinked = shown(otp_sandbox, session, company, connection["id"])
    assert relinked["status"] == "Linked"
    if lost == "Deauthorized":
        assert relinked["dataConnectionErrors"][0]["status"] == "Resolved"


def test_a_one_time_link_expires_a_day_after_it_was_issued(otp_sandbox, auth_session):
    session = auth_session(otp_sandbox)
    company, old = new_connection(otp_sandbox, session)
    issued = otp_sandbox.clock.now()  # when old's link was shown
    _, young = new_connection(otp_sandbox, session)  # two writes later
    otp_sandbox.clock.set(issued + timedelta(days=1))
    before = otp_sandbox.store.snapshot()
    expired = requests.get(old["linkUrl"], timeout=30)
    assert expired.status_code == 410 and "expired" in expired.text
    assert otp_sandbox.store.snapshot() == before
    assert shown(otp_sandbox, session, company, old["id"])["status"] == "PendingAuth"
    assert requests.get(young["linkUrl"], timeout=30).status_code == 200  # issued 2 s later
    fresh = shown(otp_sandbox, session, company, old["id"])["linkUrl"]
    assert requests.get(fresh, timeout=30).status_code == 200


@pytest.mark.parametrize(
    "spoil",
    [
        lambda url: url.split("?")[0],  # no OTP at all
        lambda url: url[:-1] + ("A" if url[-1] != "A" else "B"),  # a forged one
        lambda url: url.replace("otp=", "otp=%00"),
        lambda url: url + "x" * 50,
    ],
    ids=["missing", "forged", "garbled", "too long"],
)
def test_a_link_without_a_valid_otp_is_refused(otp_sandbox, auth_session, spoil):
    session = auth_session(otp_sandbox)
    _, connection = new_connection(otp_sandbox, session)
    before = otp_sandbox.store.snapshot()
    refused = requests.get(spoil(connection["linkUrl"]), timeout=30)
    assert refused.status_code == 403 and "not valid" in refused.text
    assert refused.headers["Content-Type"].startswith("text/html")
    assert otp_sandbox.store.snapshot() == before


def test_an_otp_is_bound_to_its_connection(otp_sandbox, auth_session):
    session = auth_session(otp_sandbox)
    company, one = new_connection(otp_sandbox, session)
    other = session.post(
        f"{otp_sandbox.url}/companies/{company}/connections", json={"platformKey": "qhyg"}
    ).json()
    otp = parse_qs(urlsplit(one["linkUrl"]).query)["otp"][0]
    stolen = f"{other['linkUrl'].split('?')[0]}?otp={otp}"
    assert requests.get(stolen, timeout=30).status_code == 403


PREVIEWS = {
    "HEAD": ("HEAD", {}),
    "Chrome prefetch": ("GET", {"Sec-Purpose": "prefetch;prerender"}),
    "old prefetch": ("GET", {"Purpose": "prefetch"}),
    "Safari preview": ("GET", {"X-Purpose": "preview"}),
    "Firefox prefetch": ("GET", {"X-Moz": "prefetch"}),
    "Slack unfurl": ("GET", {"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com)"}),
    "Teams preview": ("GET", {"User-Agent": "Mozilla/5.0 SkypeUriPreview Preview/0.5"}),
}


@pytest.mark.parametrize(("method", "headers"), PREVIEWS.values(), ids=PREVIEWS.keys())
@pytest.mark.parametrize("one_time", [True, False])
def test_previews_never_link_nor_use_the_link_up(auth_session, method, headers, one_time):
    with Sandbox(seed=None, one_time_links=one_time) as sb:
        session = auth_session(sb)
        company, connection = new_connection(sb, session)
        before = sb.store.snapshot()
        for _ in range(2):
            preview = requests.request(method, connection["linkUrl"], headers=headers, timeout=30)
            assert preview.status_code == 200
        assert sb.store.snapshot() == before
        assert requests.get(connection["linkUrl"], timeout=30).status_code == 200  # still good
        assert shown(sb, session, company, connection["id"])["status"] == "Linked"


def test_the_company_link_is_one_time_too_and_lists_connection_links(otp_sandbox, auth_session):
    session = auth_session(otp_sandbox)
    company, connection = new_connection(otp_sandbox, session)
    redirect = session.get(f"{otp_sandbox.url}/companies/{company}").json()["redirect"]
    page = requests.get(redirect, timeout=30)
    assert page.status_code == 200 and "Xero" in page.text
    link = re.search(r'href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert link == connection["linkUrl"]  # the same clock second: the same OTP
    assert requests.get(redirect, timeout=30).status_code == 410
    assert requests.get(redirect.split("?")[0], timeout=30).status_code == 403
    assert requests.get(link, timeout=30).status_code == 200


def test_one_time_links_are_on_in_the_demo_and_off_for_an_empty_sandbox():
    with Sandbox(seed="demo") as demo, Sandbox(seed=None) as empty:
        assert demo.faults.one_time_links is True and empty.faults.one_time_links is False
        company = demo.store.company_ids()[0]
        assert "?link.otp=" in demo.store.get_company_wire(company)["redirect"]
    with Sandbox(seed="demo", one_time_links=False) as plain:
        assert plain.faults.one_time_links is False


def test_loaded_companies_carry_one_otp_like_any_other(otp_sandbox, auth_session):
    """Bulk loads store bare links, so each shown link carries exactly one fresh OTP (they once
    stored the OTP of the moment they were created, and showed two)."""
    session = auth_session(otp_sandbox)
    loaded = [otp_sandbox.load_scale(3), *otp_sandbox.load_portfolio(2, 1)]
    for company in loaded:
        shown_company = session.get(f"{otp_sandbox.url}/companies/{company}").json()
        redirect = urlsplit(shown_company["redirect"])
        assert redirect.path == f"/company/{company}"
        assert list(parse_qs(redirect.query)) == ["link.otp"]
        assert len(parse_qs(redirect.query)["link.otp"]) == 1
        assert requests.get(shown_company["redirect"], timeout=30).status_code == 200
        for connection in shown_company["dataConnections"]:
            assert parse_qs(urlsplit(connection["linkUrl"]).query).keys() == {"otp"}
