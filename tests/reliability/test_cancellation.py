"""Cancellation and the overall deadline: a cancelled job stops talking to the provider at once,
frees its connections and keeps its accepted task; the deadline bounds the whole job."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from imagebridge import (
    AsyncImageClient,
    ImageBridgeError,
    ImageTimeoutError,
    Progress,
    SubmitOutcomeUnknownError,
)
from imagebridge._emulator import EmulatorServer

from .support import KEY, POLICY, RETRY, assert_clean, bridge, counts, journal_entries

pytestmark = pytest.mark.anyio


def in_use(client: AsyncImageClient) -> list[object]:
    """The connections of the client's pool that are not idle."""
    http = client._http
    assert isinstance(http, httpx.AsyncClient)
    pool = http._transport._pool  # type: ignore[attr-defined]
    return [connection for connection in pool.connections if not connection.is_idle()]


def arrived(server: EmulatorServer) -> int:
    """API requests that reached the emulator (counted on arrival, before any fault)."""
    stats = server.app_state.stats()
    return sum(sum(stats[name].values()) for name in ("submits", "polls", "downloads"))


async def quiet_for(server: EmulatorServer, seconds: float) -> None:
    """No request reaches the emulator for ``seconds``."""
    before = arrived(server)
    await asyncio.sleep(seconds)
    assert arrived(server) == before, "a request was sent after the job was cancelled"


def client(server: EmulatorServer) -> AsyncImageClient:
    return AsyncImageClient(
        "dimilinks", api_key=KEY, base_url=server.url("dimilinks"), poll_policy=POLICY, retry=RETRY
    )


async def test_wait_for_cancels_mid_poll(emu: EmulatorServer, journal: Path) -> None:
    emu.app_state.faults.replace(["poll:never"])
    async with client(emu) as aclient:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aclient.generate("cancel me"), 0.5)
        assert counts(emu, "dimilinks").polls >= 2, "it was polling when cancelled"
        assert in_use(aclient) == []
        await quiet_for(emu, 0.4)
    [entry] = journal_entries(journal)
    assert entry.state == "accepted"
    assert entry.task.task_id in emu.app_state.tasks
    assert counts(emu, "dimilinks").submits == 1
    assert_clean(journal=journal, server=emu)


async def test_cancel_while_a_poll_is_on_the_wire(emu: EmulatorServer, journal: Path) -> None:
    """Cancelled in the middle of an HTTP exchange (a slow poll), not between two."""
    emu.app_state.faults.replace(["poll:slow:*:1", "poll:never"])
    running = asyncio.Event()

    def seen(progress: Progress) -> None:
        if progress.stage == "queued":
            running.set()

    async with client(emu) as aclient:
        job = asyncio.ensure_future(aclient.generate("slow poll", on_progress=seen))
        await asyncio.wait_for(running.wait(), 5)
        await asyncio.sleep(0.3)  # the first poll is waiting for its (late) answer
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        assert in_use(aclient) == []
        await quiet_for(emu, 1.3)  # the late answer arrives; nothing new is sent
    [entry] = journal_entries(journal)
    assert entry.state == "accepted"


async def test_cancelling_a_split_request_cancels_every_call(emu: EmulatorServer) -> None:
    """dall-e-3 makes one image per call: n=3 is three concurrent calls, all cancelled."""
    emu.app_state.faults.replace(["submit:slow:*:1"])
    async with AsyncImageClient(
        "openai", api_key=KEY, base_url=emu.url("openai"), retry=RETRY
    ) as aclient:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aclient.generate("three", model="dall-e-3", n=3), 0.3)
        assert counts(emu, "openai").submits == 3
        assert in_use(aclient) == []
        await quiet_for(emu, 1.2)


async def test_the_deadline_bounds_the_whole_job(
    mode: str, emu: EmulatorServer, journal: Path
) -> None:
    """A 0.6 s submit and a task that never finishes: the 1 s deadline counts the submit too."""
    emu.app_state.faults.replace(["submit:slow:1:0.6", "poll:never"])
    start = time.monotonic()
    async with bridge(mode, "dimilinks", emu, timeout=1.0) as bridged:
        with pytest.raises(ImageTimeoutError) as info:
            await bridged.generate()
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 1.5, f"the job took {elapsed:.2f} s with a 1 s deadline"
    error = info.value
    assert error.timeout == 1.0
    assert error.task_id is not None
    assert error.task_id in str(error)
    assert [e.state for e in journal_entries(journal, task_id=error.task_id)] == ["accepted"]


async def test_deadline_during_an_unanswered_submit_says_the_task_may_exist(
    mode: str, emu: EmulatorServer
) -> None:
    emu.app_state.faults.replace(["submit:slow:1:0.8"])
    tasks_before = set(emu.app_state.tasks)
    error: ImageBridgeError | None = None
    async with bridge(mode, "dimilinks", emu, timeout=0.3) as bridged:
        try:
            await bridged.generate()
        except ImageBridgeError as exc:
            error = exc
    deadline = time.monotonic() + 5
    while set(emu.app_state.tasks) == tasks_before:  # the provider did the job: it is paid
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert counts(emu, "dimilinks").submits == 1
    assert isinstance(error, SubmitOutcomeUnknownError), repr(error)
