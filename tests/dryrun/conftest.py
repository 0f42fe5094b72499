"""Fixtures of the dry-run suite: an emulator requiring :data:`KEY`, and two of them for
routed clients, each with an empty log at the start of every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .support import KEY


@pytest.fixture(scope="session")
def _servers() -> Iterator[tuple[EmulatorServer, EmulatorServer]]:
    with (
        EmulatorServer(EmulatorConfig(api_key=KEY, task_duration=0.05)) as a,
        EmulatorServer(EmulatorConfig(api_key=KEY, task_duration=0.05)) as b,
    ):
        yield a, b


@pytest.fixture
def emulator(_servers: tuple[EmulatorServer, EmulatorServer]) -> EmulatorServer:
    _servers[0].app_state.reset()
    return _servers[0]


@pytest.fixture
def pair(_servers: tuple[EmulatorServer, EmulatorServer]) -> tuple[EmulatorServer, ...]:
    for server in _servers:
        server.app_state.reset()
    return _servers
