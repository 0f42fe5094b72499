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


@pytest.fixture(autouse=True)
def _private_journal(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test journals accepted tasks in its own file, never in the user's journal."""
    path = tmp_path_factory.mktemp("journal") / "journal.sqlite3"
    monkeypatch.setenv("IMAGEBRIDGE_JOURNAL", str(path))
    return path
