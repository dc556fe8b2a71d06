"""Knobs: declared once, checked on every set, changeable while serving, and the only options."""

from __future__ import annotations

import pydoc
import threading
import time

import pytest
import requests

from codat_nb.sandbox import Sandbox
from codat_nb.sandbox.faults import Faults
from codat_nb.sandbox.knobs import knobs
from tests.support import Settings


def test_knobs_start_at_their_defaults_or_the_given_options():
    assert {name: getattr(Settings(), name) for name in knobs(Settings)} == {
        "enabled": False,
        "quota": 100,
        "limit": None,
        "delay": 0.0,
        "share": 0.0,
    }
    given = Settings(enabled=True, quota=3, limit=2, delay=5, share=1)
    assert (given.enabled, given.quota, given.limit, given.delay, given.share) == (
        True,
        3,
        2,
        5.0,
        1.0,
    )
    assert isinstance(given.delay, float) and isinstance(given.share, float)


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("enabled", [True, False], [1, 0, "yes", None]),
        ("quota", [1, 10**9], [0, -1, 1.5, True, "3", None]),
        ("limit", [None, 1, 7], [0, 2.5, False, "none"]),
        ("delay", [0, 0.5, 10**6], [-0.1, float("nan"), float("inf"), True, "1", None]),
        ("share", [0, 0.5, 1], [-0.01, 1.01, float("nan"), False, "half", None]),
    ],
)
def test_each_kind_checks_every_set_naming_the_knob(name, good, bad):
    settings = Settings()
    for value in good:
        setattr(settings, name, value)
        assert getattr(settings, name) == value
    before = getattr(settings, name)
    for value in bad:
        with pytest.raises(ValueError, match=f"^{name} must be"):
            setattr(settings, name, value)
        assert getattr(settings, name) == before


def test_on_change_runs_after_each_accepted_set_only():
    settings = Settings()
    settings.changes.clear()
    settings.delay = 5
    with pytest.raises(ValueError):
        settings.delay = -5
    assert settings.changes == ["delay"] and settings.delay == 5.0


def test_an_unknown_option_is_refused_naming_it_and_the_valid_ones():
    with pytest.raises(TypeError, match=r"Settings\(\) got an unknown option 'qouta'") as info:
        Settings(qouta=3)
    assert "enabled, quota, limit, delay, share" in str(info.value)


def test_an_unknown_sandbox_option_is_refused_before_anything_starts():
    with pytest.raises(TypeError, match="unknown option 'eror_rate'") as info:
        Sandbox(seed=None, eror_rate=1.0)
    valid = str(info.value).split("the options are: ")[1].split(", ")
    assert valid[:5] == ["seed", "api_key", "port", "host", "start"]
    assert {"latency_ms", "error_rate", "rate_limit_rate", "drop_rate"} <= set(valid)


def test_every_fault_knob_is_a_sandbox_option():
    options = {
        "latency_ms": 1,
        "rate_limit_rate": 0.1,
        "error_rate": 0.2,
        "drop_rate": 0.3,
        "retry_after": 4,
        "max_concurrency": 5,
        "daily_quota": 6,
        "rate_limits": False,
        "company_limit": 7,
        "one_time_links": True,
        "max_page_size": 8,
        "ignore_query": True,
        "error_validation": False,
        "webhook_timeout_s": 9.0,
        "webhook_duplicate_rate": 0.4,
        "webhook_reorder_rate": 0.5,
        "webhook_delay_rate": 0.6,
        "webhook_delay_s": 10.0,
    }
    assert set(options) == set(knobs(Faults))
    with Sandbox(seed=None, **options) as sb:
        assert {name: getattr(sb.faults, name) for name in options} == options


def test_help_lists_each_knob_with_its_help_and_default():
    text = pydoc.render_doc(Faults, renderer=pydoc.plaintext)
    assert "fraction of requests answered 500 or 503 (default 0.0)" in text


def test_a_latency_change_wakes_a_request_already_sleeping(sandbox, auth_session):
    """Live changes take effect at once: lowering latency_ms ends a sleep under the old one."""
    sandbox.faults.latency_ms = 60_000
    answers: list[requests.Response] = []
    walker = threading.Thread(
        target=lambda: answers.append(auth_session(sandbox).get(f"{sandbox.url}/companies"))
    )
    walker.start()
    deadline = time.monotonic() + 30
    while sandbox.faults.in_flight < 1:
        assert time.monotonic() < deadline, "the request never reached the sandbox"
        time.sleep(0.005)
    woken = time.monotonic()
    sandbox.faults.latency_ms = 0
    walker.join(timeout=30)
    assert not walker.is_alive() and answers[0].status_code == 200
    assert time.monotonic() - woken < 10  # not the 60 s it went to sleep for


def test_a_fault_change_applies_to_the_next_request(sandbox, session):
    assert session.get(f"{sandbox.url}/companies").status_code == 200
    sandbox.faults.error_rate = 1.0
    assert session.get(f"{sandbox.url}/companies").status_code in (500, 503)
    sandbox.faults.error_rate = 0.0
    assert session.get(f"{sandbox.url}/companies").status_code == 200
