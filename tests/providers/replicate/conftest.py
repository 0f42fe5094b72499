"""Shared fixtures of the Replicate tests: the emulator on loopback and a client of it."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from imagebridge import AsyncImageClient, ImageClient, PollPolicy
from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "r8_emulated_0123456789abcdef"
POLICY = PollPolicy(interval=0.05, max_interval=0.1)
DURATION = 0.3


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=DURATION, api_key=KEY)) as running:
        yield running


def client(server: EmulatorServer, mode: str = "sync", **options: Any) -> Any:
    cls = ImageClient if mode == "sync" else AsyncImageClient
    settings: dict[str, Any] = {
        "api_key": KEY,
        "base_url": server.url("replicate"),
        "poll_policy": POLICY,
        "timeout": 20,
        "journal": False,
    }
    settings.update(options)
    return cls("replicate", **settings)


def log(server: EmulatorServer) -> list[dict[str, Any]]:
    return server.app_state.requests


async def run(value: Any) -> Any:
    """The value of a sync call, or the awaited value of an async one."""
    return await value if inspect.isawaitable(value) else value


@contextlib.asynccontextmanager
async def opened(server: EmulatorServer, mode: str, **options: Any) -> AsyncIterator[Any]:
    """A client of the emulator's Replicate dialect, ImageClient or AsyncImageClient."""
    made = client(server, mode, **options)
    if mode == "sync":
        with made:
            yield made
    else:
        async with made:
            yield made


async def read(image: Any, mode: str) -> bytes:
    data: bytes = image.read() if mode == "sync" else await image.aread()
    return data


async def save(result: Any, mode: str, path: Any) -> list[Any]:
    saved: list[Any] = result.save(path) if mode == "sync" else await result.asave(path)
    return saved
