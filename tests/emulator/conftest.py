"""Fixtures for the emulator tests: a loopback server, HTTP clients, a fake clock."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from imagebridge._emulator import EmulatorConfig, EmulatorServer

TASK_DURATION = 0.2
AUTH = {"Authorization": "Bearer sk-test"}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=TASK_DURATION)) as running:
        yield running


@pytest.fixture(scope="session")
def instant() -> Iterator[EmulatorServer]:
    """A server whose tasks finish at once (for shape checks that need no waiting)."""
    with EmulatorServer(EmulatorConfig(task_duration=0)) as running:
        yield running


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    """A client that sends the API key."""
    with httpx.Client(headers=AUTH, timeout=10) as http:
        yield http


@pytest.fixture(scope="session")
def anon() -> Iterator[httpx.Client]:
    """A client without an API key (image downloads, auth errors)."""
    with httpx.Client(timeout=10) as http:
        yield http


class Errors(logging.Handler):
    """uvicorn's error log: a fault must never look like a crash of the emulator."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def emu(running: EmulatorServer) -> Iterator[EmulatorServer]:
    """The requesting module's emulator (its ``running`` fixture) with no faults, an empty
    log and zero counters; no error logged by uvicorn."""
    running.app_state.faults.clear()
    running.app_state.reset()
    errors = Errors()
    logging.getLogger("uvicorn.error").addHandler(errors)
    try:
        yield running
    finally:
        logging.getLogger("uvicorn.error").removeHandler(errors)
        running.app_state.faults.clear()
    assert [r.getMessage() for r in errors.records] == []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def image_size(content: bytes, fmt: str = "PNG") -> tuple[int, int]:
    """Decode an image fully and return its size, checking its format."""
    with Image.open(io.BytesIO(content)) as image:
        assert image.format == fmt
        image.load()
        width, height = image.size
        return width, height


def poll(
    client: httpx.Client, url: str, done: tuple[str, ...], timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Poll a task URL until its status is in ``done``; returns every body seen."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        seen.append(body)
        status = body.get("status") or body["data"]["status"]
        if status in done:
            return seen
        assert time.monotonic() < deadline, f"task never finished: {seen[-1]}"
        time.sleep(0.03)


def png_bytes(width: int = 64, height: int = 64, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (10, 20, 30, 255)[: len(mode)]).save(out, format="PNG")
    return out.getvalue()
