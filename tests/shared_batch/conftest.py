"""Fixtures of the shared-batch tests: one PostgreSQL server for the session (skipped with
the reason when one cannot be started here, a failure where it is required), a fast
emulator, and helpers to run workers and read the batch's rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from imagebridge import AsyncImageClient, BatchItem, PollPolicy, RetryPolicy
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from pgserver import PostgresServer, available, required

KEY = "sk-shared-batch-0123456789"
POLICY = PollPolicy(interval=0.05, max_interval=0.1)
RETRY = RetryPolicy(backoff=0.01)


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer]:
    why = available()
    if why is not None:
        if required():
            pytest.fail(f"PostgreSQL is required here (IMAGEBRIDGE_REQUIRE_POSTGRES): {why}")
        pytest.skip(why)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.3, api_key=KEY)) as server:
        yield server


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    """The emulator with its counters at zero."""
    emulator.app_state.reset()
    return emulator


@pytest.fixture
def batch_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def items(count: int, prefix: str = "item") -> list[BatchItem]:
    return [BatchItem(f"{prefix}-{i}", f"a lighthouse number {i}", {}) for i in range(count)]


@asynccontextmanager
async def client(server: EmulatorServer, **options: Any) -> AsyncIterator[AsyncImageClient]:
    options.setdefault("poll_policy", POLICY)
    options.setdefault("retry", RETRY)
    options.setdefault("timeout", 30)
    async with AsyncImageClient(
        "dimilinks", api_key=KEY, base_url=server.url("dimilinks"), journal=False, **options
    ) as made:
        yield made


def rows(dsn: str, batch_id: str) -> dict[str, dict[str, Any]]:
    """The batch's items as the database holds them, by item id."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT item_id, state, worker, task, paths, error, attempts"
            " FROM imagebridge_batch.batch_items WHERE batch_id = %s",
            (batch_id,),
        ).fetchall()
    names = ("state", "worker", "task", "paths", "error", "attempts")
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in found}


def stats(server: EmulatorServer, name: str) -> int:
    return int(server.app_state.stats()[name].get("dimilinks", 0))


async def until(check: Any, timeout: float = 20.0, what: str = "the condition") -> None:
    """Wait (polling) until ``check()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"{what} never happened"
        await asyncio.sleep(0.02)


def images(folder: Path) -> list[Path]:
    """The saved images (not the temporary files of a write cut short)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


@pytest.fixture
def emulator_slow() -> Iterator[EmulatorServer]:
    """Tasks take 2 s: long enough to stop or kill a worker while it waits."""
    with EmulatorServer(EmulatorConfig(task_duration=2.0, api_key=KEY)) as server:
        yield server
