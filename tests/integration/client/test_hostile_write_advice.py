"""What a failed write's message advises when an attempt of it may have been applied: never
"Nothing was applied" then, whatever the last answer was."""

from __future__ import annotations

import pytest

import codat_nb
from tests import support
from tests.hostile import Answer, hostile

REFUSAL = {
    "statusCode": 403,
    "service": "PublicApi",
    "error": "You do not have permission to do that",
    "correlationId": "0" * 32,
    "validation": {"errors": [], "warnings": []},
    "canBeRetried": "Unknown",
    "detailedErrorCode": 0,
}


def test_a_refusal_after_a_lost_answer_does_not_say_nothing_was_applied(capsys):
    """The first POST's answer is lost (it may have created the company), the retry with the
    same key is refused: whether it was applied is unknown, so the message says to check."""
    attempts: list[int] = []

    def answer(asked):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionAbortedError("the answer is lost on the way back")
        return Answer(status=403, body=REFUSAL)

    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url, retries=support.FAST_RETRIES) as client,
        pytest.raises(codat_nb.PermissionDeniedError) as refused,
    ):
        client.companies.create("Lost Ltd")
    message = str(refused.value)
    assert len(server.asked) == 2
    assert "Nothing was applied" not in message
    assert "may have been applied" in message and "check whether it took effect" in message
    capsys.readouterr()  # the hostile server's traceback for the dropped answer


def test_a_200_whose_body_is_not_json_does_not_say_nothing_was_applied():
    """Codat answered 200 (the write was applied) but the body does not parse: the error must
    not tell the caller to send it again as if nothing happened."""

    def answer(asked):
        return Answer(status=200, body=b"{not json")

    with (
        hostile(answer) as server,
        codat_nb.CodatClient("k", base_url=server.url, retries=support.FAST_RETRIES) as client,
        pytest.raises(codat_nb.CodatError, match="not valid JSON") as broken,
    ):
        client.companies.create("Applied Ltd")
    message = str(broken.value)
    assert len(server.asked) == 1  # a write's unreadable answer is not sent again
    assert "Nothing was applied" not in message
    assert "may have been applied" in message and "check whether it took effect" in message
