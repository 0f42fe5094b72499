"""Fixtures for the rate-limit tests: a fresh emulator per test (its own port, so its own
limiter key), and a fake clock the client and the emulator can share."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge.testing import FakeClock

KEY = "sk-test-limits"

StartEmulator = Callable[..., EmulatorServer]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Start an emulator with ``EmulatorConfig(**options)``; stopped after the test."""
    running: list[EmulatorServer] = []

    def start(**options: object) -> EmulatorServer:
        server = EmulatorServer(EmulatorConfig(**options))  # type: ignore[arg-type]
        running.append(server.__enter__())
        return server

    yield start
    for server in running:
        server.__exit__(None, None, None)
