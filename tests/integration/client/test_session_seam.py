"""``CodatClient(session=...)``: a user's own requests.Session carries every call."""

from __future__ import annotations

import pytest
import requests
from requests.adapters import HTTPAdapter

from codat_nb import CodatClient


class RecordingAdapter(HTTPAdapter):
    """What a corporate proxy or CA-bundle adapter would be: it sees every request sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        return super().send(request, **kwargs)


def test_a_users_session_carries_the_calls_and_stays_theirs(demo_sandbox):
    session = requests.Session()
    adapter = RecordingAdapter()
    session.mount("http://", adapter)
    session.headers["X-Corporate-Proxy"] = "yes"
    client = CodatClient(
        auth_header=demo_sandbox.auth_header, base_url=demo_sandbox.url, session=session
    )
    companies = client.companies.list(page_size=50, concurrency=3)
    assert len(companies) == len(demo_sandbox.store.company_ids())
    assert len(adapter.sent) >= 2  # every page went through the user's adapter
    for request in adapter.sent:
        assert request.headers["X-Corporate-Proxy"] == "yes"  # the session's defaults kept
        assert request.headers["Authorization"] == demo_sandbox.auth_header
        assert request.headers["User-Agent"].startswith("codat-nb/")
    assert "Authorization" not in session.headers  # credentials never stored on their session
    client.close()
    response = session.get(f"{demo_sandbox.url}/companies", timeout=5)  # still open, still theirs
    assert response.status_code == 401


def test_session_must_be_a_requests_session():
    with pytest.raises(TypeError, match="session must be a requests.Session"):
        CodatClient("key", base_url="http://127.0.0.1:9", session=object())
