"""Headers a broken or hostile server may send beside an ordinary page: a lying total with
Codat's normal rate-limit headers, a Date that does not parse."""

from __future__ import annotations

import pytest

import codat_nb
from tests.hostile import Answer, connection, hostile, page

COMPANY = "7f7a3e3c-5b2e-4d0a-9c1e-0a2b3c4d5e6f"
RATE = {
    "X-Rate-Limit-Limit": "2000",
    "X-Rate-Limit-Remaining": "1990",
    "X-Rate-Limit-Reset": "Mon, 07 Dec 2026 00:00:00 GMT",
}


def test_a_lying_total_with_codats_rate_headers_is_refused_at_once():
    """totalResults 2**31 in pages of 10 would be 214 million pages: the quota check counts
    them (and their boundary checks) arithmetically and stops before spending, instead of
    planning each page until memory runs out."""
    rows = [connection(n) for n in range(1, 11)]

    def answer(asked):
        return Answer(body=page(rows, total=2**31, size=10), headers=RATE)

    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.raises(codat_nb.QuotaExceededError, match="X-Rate-Limit-Remaining says 1990"),
    ):
        client.connections.list(COMPANY, page_size=10)
    assert len(server.asked) == 1  # page 1 only: nothing more was spent


@pytest.mark.parametrize(
    "date",
    [
        "yesterday-ish",
        "Sun, 99 Foo 2026 99:99:99 GMT",
        "\u00e9",
        # not HTTP-dates, though a lenient parser reads them: "now" as the client's own clock
        "now",
        "today",
        "2026",
        "1/2/3",
    ],
)
def test_a_date_header_that_does_not_parse_keeps_the_listing(date):
    """The rows are good whatever the clock header says: the listing is returned, its
    server_time unknown, with one warning naming the header."""
    rows = [connection(n) for n in range(1, 4)]

    def answer(asked):
        return Answer(body=page(rows), headers={"Date": date})

    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.warns(codat_nb.CodatWarning, match="Date header .* is not a date"),
    ):
        frame = client.connections.list(COMPANY)
    assert list(frame["id"]) == [row["id"] for row in rows]
    assert frame.attrs["server_time"] is None


@pytest.mark.parametrize("reset", ["now", "today"])
def test_a_reset_header_naming_no_time_leaves_reset_at_unknown(reset):
    """A lenient parser reads ``now`` as the client's own clock, so the quota error would say
    to try again at once: a Reset that names no time leaves ``reset_at`` unknown."""
    rows = [connection(n) for n in range(1, 11)]
    headers = {**RATE, "X-Rate-Limit-Remaining": "1", "X-Rate-Limit-Reset": reset}

    def answer(asked):
        return Answer(body=page(rows, total=100, size=10), headers=headers)

    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url) as client,
        pytest.raises(codat_nb.QuotaExceededError, match="Remaining says 1") as raised,
    ):
        client.connections.list(COMPANY, page_size=10)
    assert raised.value.reset_at is None
