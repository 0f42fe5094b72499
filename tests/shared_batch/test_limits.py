"""Shared rate limits: each worker's limiter takes ``requests_per_minute / live workers``,
so two workers with the same limit send at that limit together, not at twice it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagebridge import AsyncImageClient, PollPolicy, RateLimit
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge._shared_batch import SharedBatch
from pgserver import PostgresServer

from .conftest import items

pytestmark = pytest.mark.anyio

RPM = 600.0  # 10 requests/s for the whole batch


@pytest.fixture
def open_emulator() -> Iterator[EmulatorServer]:
    """Any key is accepted: each worker has its own key, so its own limiter (as on two
    machines), and only the share keeps them to the limit together."""
    with EmulatorServer(EmulatorConfig(task_duration=0.1)) as server:
        yield server


def api_rate(server: EmulatorServer) -> tuple[int, float]:
    """The API requests (submits, polls) the emulator saw, and their rate per minute."""
    times = sorted(
        e["time"] for e in server.app_state.requests if e["path"].startswith("/dimilinks/")
    )
    return len(times), (len(times) - 1) / (times[-1] - times[0]) * 60


async def test_two_workers_share_one_requests_per_minute_limit(
    pg: PostgresServer, open_emulator: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    server = open_emulator
    batch = items(24)

    async def worker(key: str) -> None:
        async with AsyncImageClient(
            "dimilinks",
            api_key=key,
            base_url=server.url("dimilinks"),
            rate_limit=RateLimit(requests_per_minute=RPM),
            poll_policy=PollPolicy(interval=0.2, max_interval=0.2),
            journal=False,
        ) as client:
            shared = SharedBatch(pg.dsn, batch_id=batch_id, worker_id=key, lease=1.5)
            await client.batch(batch, tmp_path, concurrency=8, journal=shared)

    await asyncio.gather(worker("sk-worker-one-0001"), worker("sk-worker-two-0002"))
    count, rate = api_rate(server)
    assert count >= 48  # a submit and at least one poll per item
    # Without the share the two would send at 2x the limit; joining costs at most one
    # heartbeat (0.5 s) at the whole limit.
    assert 0.8 * RPM <= rate <= 1.15 * RPM, f"{rate:.0f}/min for a limit of {RPM:.0f}"
