"""Fixtures of the cost tests: one emulator over loopback for the module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "sk-cost-test-1234"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.2, api_key=KEY)) as server:
        yield server


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    """The emulator with no faults, an empty request log and zero counters."""
    emulator.app_state.faults.replace([])
    emulator.app_state.reset()
    return emulator


@pytest.fixture
def dimilinks_prices(tmp_path: Path) -> Path:
    """A user's price file for dimilinks' gpt-image-2 (no built-in price: a gateway's)."""
    path = tmp_path / "prices.toml"
    path.write_text(
        '[dimilinks."gpt-image-2"]\nper_image = { "*" = 0.03 }\nsource = "my invoice"\n',
        encoding="utf-8",
    )
    return path
