"""Fixtures of the hostile-server suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder: a CLI run without --output saves there, never in
    the checkout."""
    monkeypatch.chdir(tmp_path)
