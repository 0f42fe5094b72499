"""Fixtures and helpers of the streaming suite: one emulator per module, and ``stream()``
through an ImageClient ("sync") or an AsyncImageClient ("async") with every loop bounded.

The emulator's API key is the one the official SDK clients of
``tests/emulator/test_emulator_openai_stream.py`` send, so those clients (and their bounded
``stream()`` helper) are reused as the oracle here.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from imagebridge import (
    AsyncImageClient,
    AsyncImageStream,
    Completed,
    ImageClient,
    ImageResult,
    ImageStream,
    PartialImage,
    StreamEvent,
)
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from reliability.support import Bridge, bridge

#: The emulator's key: the one the SDK clients of tests/emulator send (see the docstring).
KEY = "sk-stream"
#: The pause before each event of an emulated stream: short, but a real streamed body.
DELAY = 0.005
#: No stream of this suite has more events than this; a longer one is a bug, not a wait.
MAX_EVENTS = 64

Stop = Callable[[StreamEvent], bool]


@pytest.fixture(scope="module")
def running() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(task_duration=0, api_key=KEY, stream_delay=DELAY)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def emulator(running: EmulatorServer) -> Iterator[EmulatorServer]:
    """The module's emulator with no faults, an empty log and zero counters."""
    running.app_state.faults.clear()
    running.app_state.reset()
    try:
        yield running
    finally:
        running.app_state.faults.clear()


@dataclass
class Run:
    """What one ``stream()`` delivered: its events in order, ``stream.result`` and the
    bytes of every result image (read while the client was open)."""

    events: list[StreamEvent] = field(default_factory=list)
    result: ImageResult | None = None
    finals: list[bytes] = field(default_factory=list)
    #: The stream object itself, kept alive: leaving ``with`` must close it, not the
    #: garbage collector.
    stream: ImageStream | AsyncImageStream | None = None

    @property
    def partials(self) -> list[PartialImage]:
        return [event for event in self.events if isinstance(event, PartialImage)]

    @property
    def completed(self) -> Completed:
        last = self.events[-1]
        assert isinstance(last, Completed), self.events
        return last


async def collect(
    client: ImageClient | AsyncImageClient,
    prompt: str,
    *,
    into: Run | None = None,
    until: Stop | None = None,
    **fields: Any,
) -> Run:
    """Iterate ``client.stream(prompt, **fields)`` inside its ``with`` block (leaving it
    after the event ``until`` accepts, if any); every event also lands in ``into`` as it
    arrives, so a stream that raises keeps what came. Result images are read (awaited for
    the async client) before returning."""
    run = into if into is not None else Run()
    if isinstance(client, ImageClient):
        with client.stream(prompt, **fields) as events:
            run.stream = events
            for event in events:
                run.events.append(event)
                assert len(run.events) <= MAX_EVENTS, "the stream did not end"
                if until is not None and until(event):
                    break
            run.result = events.result
        if run.result is not None:
            run.finals = [image.read() for image in run.result.images]
        return run
    async with client.stream(prompt, **fields) as aevents:
        run.stream = aevents
        async for event in aevents:
            run.events.append(event)
            assert len(run.events) <= MAX_EVENTS, "the stream did not end"
            if until is not None and until(event):
                break
        run.result = aevents.result
    if run.result is not None:
        run.finals = [await image.aread() for image in run.result.images]
    return run


@contextlib.asynccontextmanager
async def streaming_client(
    mode: str, provider: str, server: EmulatorServer, **options: Any
) -> AsyncIterator[Bridge]:
    """A real client of ``mode`` against the emulator's ``provider`` dialect (the
    reliability suite's :func:`~reliability.support.bridge`, with this suite's key and no
    journal unless one is given)."""
    options.setdefault("api_key", KEY)
    options.setdefault("journal", False)
    async with bridge(mode, provider, server, **options) as opened:
        yield opened


async def stream_once(
    mode: str, provider: str, server: EmulatorServer, prompt: str, **fields: Any
) -> Run:
    """One whole ``stream()`` on a client of its own."""
    async with streaming_client(mode, provider, server) as opened:
        return await collect(opened.client, prompt, **fields)


def pixels(content: bytes) -> tuple[int, int]:
    """Decode an image fully (PIL) and return its size."""
    with Image.open(io.BytesIO(content)) as image:
        image.load()
        width, height = image.size
        return width, height


def png_file(folder: Path, name: str = "in.png", side: int = 64) -> Path:
    """A real RGBA PNG input image on disk."""
    out = io.BytesIO()
    Image.new("RGBA", (side, side), (10, 20, 30, 255)).save(out, format="PNG")
    path = folder / name
    path.write_bytes(out.getvalue())
    return path


class Counting(httpx.HTTPTransport):
    """httpx's own sync transport (a real connection pool, the deadline backend installs
    into it), counting every request it is handed and saying which pooled connections are
    not idle."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)

    def busy(self) -> list[str]:
        return [repr(c) for c in self._pool.connections if not c.is_idle()]


class AsyncCounting(httpx.AsyncHTTPTransport):
    """The async twin of :class:`Counting`."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await super().handle_async_request(request)

    def busy(self) -> list[str]:
        return [repr(c) for c in self._pool.connections if not c.is_idle()]


def counting(mode: str, **options: Any) -> Counting | AsyncCounting:
    return Counting(**options) if mode == "sync" else AsyncCounting(**options)
