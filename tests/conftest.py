"""Fixtures shared by tests/core and tests/plugins (helpers live in tests/helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Which client a client-level test runs through: ImageClient or AsyncImageClient."""
    return str(request.param)
