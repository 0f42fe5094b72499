"""``max_concurrent``: the jobs of one key in flight, counted where they run, on the server.

The emulator runs behind a thin ASGI wrapper that counts the submits it is answering at
once; each submit is held 0.2 s (``submit:slow``), so jobs that were not bounded would all
be in flight together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from imagebridge import AsyncImageClient, ImageClient, ImageTimeoutError, RateLimit
from imagebridge._emulator import EmulatorConfig, create_app, get_state
from imagebridge._emulator._server import BackgroundServer

from .conftest import KEY


class InFlight:
    """Counts the submits being answered at once (and the most there were)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        submit = scope["type"] == "http" and scope["path"].endswith("/images/generations")
        if submit:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
        try:
            await self.app(scope, receive, send)
        finally:
            if submit:
                with self._lock:
                    self.now -= 1


@pytest.fixture
def counted() -> Iterator[tuple[str, InFlight, ASGIApp]]:
    app = create_app(EmulatorConfig(faults=["submit:slow:*:0.2"]))
    counter = InFlight(app)
    with BackgroundServer(counter) as server:
        yield f"{server.origin}/openai/v1", counter, app


def test_max_concurrent_bounds_async_jobs(counted: tuple[str, InFlight, ASGIApp]) -> None:
    url, counter, app = counted
    limit = RateLimit(max_concurrent=2)

    async def main() -> None:
        async with (
            AsyncImageClient(
                "openai", api_key=KEY, base_url=url, journal=False, rate_limit=limit
            ) as first,
            AsyncImageClient(
                "openai", api_key=KEY, base_url=url, journal=False, rate_limit=limit
            ) as second,
        ):
            jobs = [first.generate("a cube") for _ in range(3)]
            jobs += [second.generate("a cube") for _ in range(2)]
            await asyncio.wait_for(asyncio.gather(*jobs), 30)

    asyncio.run(main())
    assert get_state(app).stats()["submits"]["openai"] == 5  # type: ignore[arg-type]
    assert counter.most == 2


def test_max_concurrent_bounds_threads_and_tasks_together(
    counted: tuple[str, InFlight, ASGIApp],
) -> None:
    url, counter, app = counted
    limit = RateLimit(max_concurrent=2)
    errors: list[BaseException] = []

    def in_a_thread() -> None:
        try:
            with ImageClient(
                "openai", api_key=KEY, base_url=url, journal=False, rate_limit=limit
            ) as client:
                client.generate("a cube")
        except BaseException as exc:  # reported below
            errors.append(exc)

    async def tasks() -> None:
        async with AsyncImageClient(
            "openai", api_key=KEY, base_url=url, journal=False, rate_limit=limit
        ) as client:
            await asyncio.wait_for(asyncio.gather(*(client.generate("a") for _ in range(3))), 30)

    threads = [threading.Thread(target=in_a_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert get_state(app).stats()["submits"]["openai"] == 6  # type: ignore[arg-type]
    assert counter.most == 2


def test_a_slot_that_does_not_come_free_in_time_is_the_deadline(
    counted: tuple[str, InFlight, ASGIApp],
) -> None:
    url, _, app = counted
    limit = RateLimit(max_concurrent=1)

    async def main() -> None:
        async with AsyncImageClient(
            "openai", api_key=KEY, base_url=url, journal=False, rate_limit=limit
        ) as client:
            holder = asyncio.ensure_future(client.generate("a cube"))
            await asyncio.sleep(0.05)  # the holder has its slot and is being answered
            with pytest.raises(ImageTimeoutError, match="job slot") as caught:
                await client.generate("a cube", timeout=0.1)
            assert "1 concurrent jobs" in caught.value.message
            await holder
            await client.generate("a cube", timeout=5)  # the slot was given back

    asyncio.run(main())
    assert get_state(app).stats()["submits"]["openai"] == 2  # type: ignore[arg-type]
