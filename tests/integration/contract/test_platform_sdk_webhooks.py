"""Codat's maintained SDK, ``codat-platform`` 6.0.0, against the sandbox's webhooks: its three
consumer calls work, its errors parse, and its event models read what the sandbox sends."""

from __future__ import annotations

import pytest
import requests
from codat_platform.models import errors, shared


def test_the_sdk_creates_lists_and_deletes_consumers(sandbox, platform):
    plain = platform.webhooks.create_consumer(
        request={"url": "https://example.com/hooks", "event_types": ["connection.disconnected"]}
    )
    assert plain.id and plain.disabled is False
    assert plain.event_types == ["connection.disconnected"]
    tagged = platform.webhooks.create_consumer(
        request=shared.WebhookConsumerPrototype(
            url="https://example.com/us",
            event_types=["company.created", "company.deleted"],
            company_tags=["region:us"],
            disabled=True,
        )
    )
    assert tagged.company_tags == ["region:us"] and tagged.disabled is True
    listed = platform.webhooks.list_consumers().results
    assert [c.id for c in listed] == [plain.id, tagged.id]
    assert [c["id"] for c in sandbox.webhooks.consumers()] == [plain.id, tagged.id]
    assert platform.webhooks.delete_consumer(request={"webhook_id": plain.id}) is None
    assert [c.id for c in platform.webhooks.list_consumers().results] == [tagged.id]


def test_the_sdk_raises_codats_error_messages(sandbox, platform):
    with pytest.raises(errors.ErrorMessage) as info:
        platform.webhooks.create_consumer(request={"url": "https://e.com/h", "event_types": []})
    assert info.value.data.status_code == 400
    assert info.value.data.validation.errors[0].item_id == "eventTypes"
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(errors.ErrorMessage) as info:
        platform.webhooks.delete_consumer(request={"webhook_id": missing})
    assert info.value.data.status_code == 404
    assert info.value.data.error == f"Webhook consumer {missing} not found"
    assert sandbox.webhooks.consumers() == []


def test_the_sdks_event_models_read_what_the_sandbox_sends(sandbox, platform, receiver):
    platform.webhooks.create_consumer(
        request={
            "url": receiver.url,
            "event_types": ["company.created", "connection.created", "client.rateLimit.reached"],
        }
    )
    company = sandbox.store.create_company("Sdk Ltd", tags={"region": "uk"})["id"]
    connection = sandbox.store.create_connection(company, "gbol")["id"]
    sandbox.faults.daily_quota = 1  # the create call used it up
    # Not through the SDK: its urllib3 pool sleeps out a 429's Retry-After (here, until
    # midnight) even with the SDK's retries off.
    refused = requests.get(
        f"{sandbox.url}/webhooks", headers={"Authorization": sandbox.auth_header}
    )
    assert refused.status_code == 429
    sandbox.webhooks.flush()
    created, linked, reached = (r.body for r in receiver.received)
    assert shared.CompanyWebhook.from_json(created).payload.id == company
    parsed = shared.ConnectionWebhook.from_json(linked)
    assert parsed.payload.connection.id == connection
    assert parsed.payload.reference_company.tags == {"region": "uk"}
    assert shared.ClientRateLimitWebhook.from_json(reached).payload.daily_quota == 1
