"""What the contract tests of Codat's maintained SDK share: a ``codat-platform`` client on the
test's sandbox, with the SDK's own retries off (the sandbox's answers are what is tested)."""

from __future__ import annotations

import pytest
from codat_platform import CodatPlatform
from codat_platform.models import shared
from codat_platform.utils import retries

from codat_nb.sandbox import Sandbox

NO_RETRIES = retries.RetryConfig("none", retries.BackoffStrategy(1, 1, 1, 1), False)


@pytest.fixture
def platform(sandbox: Sandbox) -> CodatPlatform:
    return CodatPlatform(
        security=shared.Security(auth_header=sandbox.auth_header),
        server_url=sandbox.url,
        retry_config=NO_RETRIES,
    )
