"""The contenders of the streaming job: one ``stream: true`` generation with partial images.

Each call sends the request and reads the event stream to its end; it returns the
nanoseconds from the call to the first partial image's bytes in hand (decoded) and to the
final image's, and the process CPU time of the whole call:

- ``raw-httpx``: ``client.stream("POST", ...)`` read by ``httpx_sse.EventSource``, each event
  ``json.loads`` + ``base64.b64decode``: the floor of any httpx-based client;
- ``imagebridge``: ``client.stream(prompt, partial_images=N)``; ``event.image.read()`` of each
  ``PartialImage``, then ``result.images[0].read()`` on ``Completed``;
- ``openai-sdk``: ``client.images.generate(stream=True, partial_images=N)``,
  ``base64.b64decode(event.b64_json)`` of each event (openai 3.x runs on ``httpx2``).

The async contenders do the same with the async clients.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource

from imagebridge import AsyncImageClient, ImageClient

from ._clients import API_KEY, PROMPT

#: (first partial image, final image, CPU) in nanoseconds, from the start of the call.
Times = tuple[int, int, int]
_AUTH = {"Authorization": f"Bearer {API_KEY}"}


@dataclass(frozen=True)
class Job:
    base_url: str
    model: str
    size: str
    partials: int
    quality: str = "low"

    def fields(self) -> dict[str, Any]:
        return {"model": self.model, "size": self.size, "quality": self.quality}

    def wire_body(self) -> dict[str, Any]:
        return {"prompt": PROMPT, "stream": True, "partial_images": self.partials, **self.fields()}


@dataclass
class SyncContender:
    call: Callable[[], Times]
    close: Callable[[], object]


@dataclass
class AsyncContender:
    call: Callable[[], Awaitable[Times]]
    close: Callable[[], Awaitable[object]]


class _Clock:
    """Wall and CPU readings from the start of one call (which must receive ``partials``
    partial images and one final image: every contender does the same job)."""

    __slots__ = ("cpu0", "expected", "first", "last", "partials", "wall0")

    def __init__(self, partials: int) -> None:
        self.expected = partials
        self.first = self.last = self.partials = 0
        self.wall0, self.cpu0 = time.perf_counter_ns(), time.process_time_ns()

    def partial(self) -> None:
        self.partials += 1
        if not self.first:
            self.first = time.perf_counter_ns() - self.wall0

    def final(self) -> None:
        self.last = time.perf_counter_ns() - self.wall0

    def times(self) -> Times:
        if self.partials != self.expected or not self.last:
            raise AssertionError(
                f"the stream had {self.partials} partial images (expected {self.expected})"
                f" and {'a' if self.last else 'no'} final image"
            )
        return self.first, self.last, time.process_time_ns() - self.cpu0


def _raw_event(clock: _Clock, data: str) -> None:
    event = json.loads(data)
    base64.b64decode(event["b64_json"])
    if event["type"].endswith(".partial_image"):
        clock.partial()
    elif event["type"].endswith(".completed"):
        clock.final()


def raw_sync(job: Job) -> SyncContender:
    client = httpx.Client(timeout=60)
    url, body = f"{job.base_url}/images/generations", job.wire_body()

    def call() -> Times:
        clock = _Clock(job.partials)
        with client.stream("POST", url, json=body, headers=_AUTH) as response:
            response.raise_for_status()
            for sse in EventSource(response).iter_sse():
                _raw_event(clock, sse.data)
        return clock.times()

    return SyncContender(call, client.close)


def raw_async(job: Job) -> AsyncContender:
    client = httpx.AsyncClient(timeout=60)
    url, body = f"{job.base_url}/images/generations", job.wire_body()

    async def call() -> Times:
        clock = _Clock(job.partials)
        async with client.stream("POST", url, json=body, headers=_AUTH) as response:
            response.raise_for_status()
            async for sse in EventSource(response).aiter_sse():
                _raw_event(clock, sse.data)
        return clock.times()

    return AsyncContender(call, client.aclose)


def imagebridge_sync(job: Job) -> SyncContender:
    client = ImageClient("openai", api_key=API_KEY, base_url=job.base_url)
    fields = job.fields()

    def call() -> Times:
        clock = _Clock(job.partials)
        with client.stream(PROMPT, partial_images=job.partials, **fields) as events:
            for event in events:
                if event.type == "partial_image":
                    event.image.read()
                    clock.partial()
                elif event.type == "completed":
                    event.result.images[0].read()
                    clock.final()
        return clock.times()

    return SyncContender(call, client.close)


def imagebridge_async(job: Job) -> AsyncContender:
    client = AsyncImageClient("openai", api_key=API_KEY, base_url=job.base_url)
    fields = job.fields()

    async def call() -> Times:
        clock = _Clock(job.partials)
        async with client.stream(PROMPT, partial_images=job.partials, **fields) as events:
            async for event in events:
                if event.type == "partial_image":
                    await event.image.aread()
                    clock.partial()
                elif event.type == "completed":
                    await event.result.images[0].aread()
                    clock.final()
        return clock.times()

    return AsyncContender(call, client.aclose)


def _sdk_event(clock: _Clock, event: Any) -> None:
    base64.b64decode(event.b64_json)
    if event.type.endswith(".partial_image"):
        clock.partial()
    elif event.type.endswith(".completed"):
        clock.final()


def openai_sync(job: Job) -> SyncContender:
    from openai import OpenAI

    client = OpenAI(api_key=API_KEY, base_url=job.base_url, max_retries=0)
    fields = job.fields()

    def call() -> Times:
        clock = _Clock(job.partials)
        events = client.images.generate(
            prompt=PROMPT, stream=True, partial_images=job.partials, **fields
        )
        with events:
            for event in events:
                _sdk_event(clock, event)
        return clock.times()

    return SyncContender(call, client.close)


def openai_async(job: Job) -> AsyncContender:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=API_KEY, base_url=job.base_url, max_retries=0)
    fields = job.fields()

    async def call() -> Times:
        clock = _Clock(job.partials)
        events = await client.images.generate(
            prompt=PROMPT, stream=True, partial_images=job.partials, **fields
        )
        async with events:
            async for event in events:
                _sdk_event(clock, event)
        return clock.times()

    return AsyncContender(call, client.close)
