"""Helpers of the routes suite: the two emulators, their counters, and one API over the
sync and the async routed client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from imagebridge import (
    AsyncImageClient,
    AsyncRoutedImageClient,
    ImageClient,
    ImageResult,
    PollPolicy,
    RetryPolicy,
    Route,
    RoutedImageClient,
    StreamEvent,
    TaskHandle,
    TaskState,
)
from imagebridge._emulator import EmulatorServer

KEY_A = "sk-ROUTE-A-0123456789abcdef"
KEY_B = "sk-ROUTE-B-0123456789abcdef"
PROMPT = "a lighthouse in the fog"
#: Fast polling and backoff for a fast emulator; the default retry rules otherwise.
OPTIONS: dict[str, Any] = {
    "poll_policy": PollPolicy(interval=0.05, max_interval=0.1),
    "retry": RetryPolicy(backoff=0.01, max_retry_after=0.0),
    "timeout": 10,
    "journal": False,
}


@dataclass
class Pair:
    """Route A's emulator and route B's."""

    a: EmulatorServer
    b: EmulatorServer

    def routes(self, provider: str = "openai", second: str | None = None, **a: Any) -> list[Route]:
        """Route ``a`` (``provider`` on emulator A) then route ``b`` (``second`` on B)."""
        second = second or provider
        return [
            Route(name="a", provider=provider, base_url=self.a.url(provider), api_key=KEY_A, **a),
            Route(name="b", provider=second, base_url=self.b.url(second), api_key=KEY_B),
        ]

    def submits(self) -> tuple[int, int]:
        """The submits each emulator received (faulted ones included)."""
        return _total(self.a, "submits"), _total(self.b, "submits")

    def accepted(self) -> tuple[int, int]:
        """The submits each emulator's dialect answered 2xx (each a paid job)."""
        return _total(self.a, "accepted"), _total(self.b, "accepted")


def _total(server: EmulatorServer, counter: str) -> int:
    return sum(server.app_state.stats()[counter].values())


class Routed:
    """The same calls through a RoutedImageClient ("sync") or an AsyncRoutedImageClient."""

    def __init__(self, client: RoutedImageClient | AsyncRoutedImageClient) -> None:
        self.client = client

    async def generate(self, prompt: str = PROMPT, **fields: Any) -> ImageResult:
        if isinstance(self.client, RoutedImageClient):
            return self.client.generate(prompt, **fields)
        return await self.client.generate(prompt, **fields)

    async def submit(self, prompt: str = PROMPT, **fields: Any) -> TaskHandle:
        if isinstance(self.client, RoutedImageClient):
            return self.client.submit(prompt, **fields)
        return await self.client.submit(prompt, **fields)

    async def wait(self, task: TaskHandle | str) -> ImageResult:
        if isinstance(self.client, RoutedImageClient):
            return self.client.wait(task)
        return await self.client.wait(task)

    async def check(self, task: TaskHandle | str) -> ImageResult | TaskState:
        if isinstance(self.client, RoutedImageClient):
            return self.client.check(task)
        return await self.client.check(task)

    async def stream(self, prompt: str = PROMPT, **fields: Any) -> list[StreamEvent]:
        if isinstance(self.client, RoutedImageClient):
            with self.client.stream(prompt, **fields) as events:
                return list(events)
        async with self.client.stream(prompt, **fields) as aevents:
            return [event async for event in aevents]


@contextlib.asynccontextmanager
async def routed(mode: str, routes: Sequence[Route], **options: Any) -> AsyncIterator[Routed]:
    """A routed client of ``mode`` over ``routes``, with the suite's fast options."""
    options = {**OPTIONS, **options}
    if mode == "sync":
        with ImageClient.from_routes(routes, **options) as client:
            yield Routed(client)
    else:
        async with AsyncImageClient.from_routes(routes, **options) as aclient:
            yield Routed(aclient)
