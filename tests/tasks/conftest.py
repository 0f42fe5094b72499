"""Fixtures of the asynchronous-task tests."""

from __future__ import annotations

import pytest
import respx

from .fakes import FakeClock, router


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Which client a test runs through: ImageClient or AsyncImageClient."""
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api() -> respx.Router:
    return router()
