"""Fixtures of the routes suite: two emulators (route A's and route B's), each requiring its
own key, with no faults, an empty log and zero counters at the start of every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .support import KEY_A, KEY_B, Pair


@pytest.fixture(scope="session")
def _servers() -> Iterator[tuple[EmulatorServer, EmulatorServer]]:
    config = {"task_duration": 0.05}
    with (
        EmulatorServer(EmulatorConfig(api_key=KEY_A, **config)) as a,
        EmulatorServer(EmulatorConfig(api_key=KEY_B, **config)) as b,
    ):
        yield a, b


@pytest.fixture
def pair(_servers: tuple[EmulatorServer, EmulatorServer]) -> Iterator[Pair]:
    a, b = _servers
    for server in (a, b):
        server.app_state.faults.clear()
        server.app_state.reset()
    try:
        yield Pair(a, b)
    finally:
        for server in (a, b):
            server.app_state.faults.clear()
