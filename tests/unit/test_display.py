"""HTML cards and the connections table, rendered from models and hand-built frames."""

from __future__ import annotations

import re
from html import escape

import pandas as pd
import pytest

from codat_nb.colours import STATUS_COLOURS
from codat_nb.error_mapping import error_from_response
from codat_nb.exceptions import NotFoundError, RateLimitError
from codat_nb.notebook import display, widgets
from codat_nb.wire.models import Connection

WIRE = {
    "id": "ee2eb431-c0fa-4dc9-93fa-d29781c12bcd",
    "integrationId": "bf083d72-62c7-493e-aec9-81b4dbba7e2c",
    "integrationKey": "gbol",
    "sourceId": "8a156a5a-39cb-4f9d-856e-76ef9b9a9607",
    "sourceType": "Accounting",
    "platformName": "Xero",
    "linkUrl": "https://link-api.codat.io/companies/x/connections/y/start?a=1&b=<2>",
    "status": "Deauthorized",
    "lastSync": "2026-10-27T10:22:43.6464237Z",
    "created": "2026-01-02T03:04:05-05:00",
    "dataConnectionErrors": [
        {
            "statusCode": "401",
            "statusText": "Unauthorized",
            "errorMessage": "Token <revoked> by Xero",
            "erroredOnUtc": "2026-10-28T00:00:00Z",
            "status": "Active",
        }
    ],
    "connectionInfo": {"tenant": "Acme & Co"},
}


def test_connection_card_shows_every_field_and_a_clickable_link():
    html = display.connection_html(Connection.model_validate(WIRE))
    for value in (
        "ee2eb431-c0fa-4dc9-93fa-d29781c12bcd",
        "bf083d72-62c7-493e-aec9-81b4dbba7e2c",
        "8a156a5a-39cb-4f9d-856e-76ef9b9a9607",
        "gbol",
        "Accounting",
        "Xero",
        "2026-10-27 10:22:43 UTC",
        "2026-01-02 08:04:05 UTC",
        "Unauthorized",
    ):
        assert value in html
    href = "https://link-api.codat.io/companies/x/connections/y/start?a=1&amp;b=&lt;2&gt;"
    assert f'<a href="{href}" target="_blank" rel="noopener noreferrer"' in html
    assert "codat-nb-status-Deauthorized" in html
    assert 'class="codat-nb-connection-errors"' in html


def test_connection_card_escapes_text_from_the_network():
    html = display.connection_html(Connection.model_validate(WIRE))
    assert "<revoked>" not in html and "Token &lt;revoked&gt; by Xero" in html
    assert "Acme &amp; Co" in html


def test_connection_card_without_optional_fields():
    minimal = {
        k: v
        for k, v in WIRE.items()
        if k not in {"lastSync", "dataConnectionErrors", "connectionInfo", "integrationKey"}
    }
    html = display.connection_html(Connection.model_validate({**minimal, "status": "PendingAuth"}))
    assert "<em>never</em>" in html
    assert "codat-nb-connection-errors" not in html
    assert STATUS_COLOURS["PendingAuth"] in html


def test_error_card_shows_correlation_id_request_and_validation():
    body = (
        b'{"statusCode":400,"service":"PublicApi","error":"Invalid platform key",'
        b'"correlationId":"0123456789abcdef0123456789abcdef","canBeRetried":"False",'
        b'"detailedErrorCode":0,"validation":{"errors":[{"itemId":"platformKey",'
        b'"message":"must be 4 <lowercase> letters","validatorName":"x"}],"warnings":[]}}'
    )
    err = error_from_response(400, body, method="POST", url="http://h/companies/c/connections")
    html = display.error_html(err)
    assert "BadRequestError (400)" in html
    assert "0123456789abcdef0123456789abcdef" in html
    assert "POST http://h/companies/c/connections" in html
    assert "platformKey: must be 4 &lt;lowercase&gt; letters" in html
    assert "Invalid platform key" in html


def test_error_card_for_rate_limit_and_missing_correlation_id():
    err = RateLimitError("too many", status_code=429, retry_after=3.0, correlation_id="abc")
    assert "Retry after" in display.error_html(err) and "3.0 s" in display.error_html(err)
    bare = NotFoundError("gone", status_code=404)
    assert "did not carry one" in display.error_html(bare)


def test_format_age_is_relative_to_the_given_now():
    now = pd.Timestamp("2026-11-01T09:00:00Z")
    assert display.format_age(None, now) == "never"
    assert display.format_age(pd.NaT, now) == "never"
    assert display.format_age("2026-11-01T08:59:30Z", now) == "just now"
    assert display.format_age("2026-11-01T08:15:00Z", now) == "45 min ago"
    assert display.format_age("2026-11-01T02:00:00Z", now) == "7 h ago"
    assert display.format_age("2026-10-31T09:00:00Z", now) == "1 day ago"
    assert display.format_age("2026-09-10T09:00:00Z", now) == "52 days ago"
    assert display.format_age("2026-07-01T09:00:00Z", now) == "4 months ago"
    assert display.format_age("2023-11-01T09:00:00Z", now) == "3 years ago"
    assert display.format_age("2026-11-02T09:00:00Z", now) == "in the future"
    assert display.format_age("2026-11-01T08:00:00", now) == "1 h ago"  # unqualified = UTC


def table_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"id-{i}" for i in range(n)],
            "platform_name": pd.Categorical(["Xero"] * n),
            "integration_key": pd.Categorical(["gbol"] * n),
            "source_type": pd.Categorical(["Accounting"] * n),
            "status": pd.Categorical(["Linked"] * n),
            "created": pd.to_datetime(["2026-01-01T00:00:00Z"] * n, utc=True),
            "last_sync": pd.to_datetime([None] * n, utc=True),
            "error_count": [0] * n,
        }
    )


def test_table_cells_escape_and_show_ages_against_the_given_now():
    frame = table_frame(2)
    frame["id"] = ["id-0", "<script>"]
    cells = display.table_cells(frame, now="2026-11-01T09:00:00Z")
    assert len(cells) == 2 and len(cells[0]) == len(display.TABLE_COLUMNS)
    assert "codat-nb-status-Linked" in cells[0][0]
    assert cells[0][5] == "never"
    assert cells[1][-1] == "<code>&lt;script&gt;</code>"


def test_table_cells_of_the_portfolio_start_with_the_company():
    frame = table_frame(1).assign(company_name="Acme & Sons")
    cells = display.table_cells(frame, display.PORTFOLIO_COLUMNS)
    assert cells[0][0] == "Acme &amp; Sons"
    assert cells[0][4] == '<span title="2026-01-01 00:00:00 UTC">2026-01-01</span>'
    assert cells[0][5] == "never"  # no now: the last sync time itself, here none


def test_table_cells_of_no_rows_and_of_a_wrong_frame():
    assert display.table_cells(table_frame(0)) == []
    with pytest.raises(ValueError, match="missing columns"):
        display.table_cells(pd.DataFrame({"id": ["x"]}))


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JAVASCRIPT:alert(1)",
        "\tjavascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "http:/missing-slash",
    ],
)
def test_a_link_url_that_is_not_http_is_text_in_the_card(url):
    html = display.connection_html(Connection.model_validate({**WIRE, "linkUrl": url}))
    assert "<a " not in html and "href" not in html
    assert f"{escape(url)}</code> <em>(not an http(s) URL)</em>" in html


@pytest.mark.parametrize(
    "url", ["https://link.codat.io/x?otp=1", "HTTP://127.0.0.1:8765/companies/c/start"]
)
def test_an_http_link_url_is_a_link(url):
    assert display.is_web_url(url)
    assert display.link_html(url).startswith(f'<a href="{escape(url, quote=True)}"')


def test_every_timestamp_in_a_card_is_to_the_second():
    """Codat sends 7-digit fractions; a card shows seconds, whatever the source of the time."""
    errors = [
        {**WIRE["dataConnectionErrors"][0], "erroredOnUtc": "2026-10-28T00:00:01.1234567Z",
         "status": "Resolved", "resolvedOnUtc": "2026-10-29T00:00:02.9999999"},
    ]  # fmt: skip
    conn = Connection.model_validate(
        {**WIRE, "created": "2026-01-02T03:04:05.678+01:00", "dataConnectionErrors": errors}
    )
    for html in (display.connection_html(conn), display.data_connection_errors_html(errors)):
        times = re.findall(r"\d\d:\d\d:\d\d[.,]?\d*", html)
        assert times and all(len(t) == 8 for t in times), times
    card = display.connection_html(conn)
    assert "2026-01-02 02:04:05 UTC" in card and "2026-10-27 10:22:43 UTC" in card
    assert "2026-10-28 00:00:01 UTC" in card and "2026-10-29 00:00:02" in card


def test_the_created_message_links_only_an_http_link_url():
    pending = {**WIRE, "status": "PendingAuth", "dataConnectionErrors": []}
    good = widgets._created_message(Connection.model_validate(pending))
    assert '<a href="https://link-api.codat.io/companies/x/' in good
    bad = widgets._created_message(
        Connection.model_validate({**pending, "linkUrl": "javascript:alert(1)"})
    )
    assert "<a " not in bad and "javascript:alert(1)</code>" in bad
