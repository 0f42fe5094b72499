"""Rule 1: the deadline is a wall-clock bound on the whole job.

A proxy in front of the emulator answers one phase (submit, polls, download) one byte at a
time, from the status line, the headers or the body on. Each byte comes well within httpx's
per-read timeout, so only a bound on the whole job can stop it: the job must end within a
second of its deadline, with the error that says what is known (a timeout naming the task
once it was accepted; an unknown outcome for a submit that was sent and never answered).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imagebridge import (
    AsyncImageClient,
    ImageClient,
    ImageTimeoutError,
    SubmitOutcomeUnknownError,
)
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from reliability.support import (
    KEY,
    POLICY,
    RETRY,
    assert_no_secret,
    cli_env,
    exception_texts,
    run_cli,
)

from .proxy import Trickle, hostile_proxy

pytestmark = pytest.mark.anyio

#: The job's deadline in these tests, and how far past it a job may end.
DEADLINE = 2.0
SLACK = 1.0
#: One byte this often: far inside httpx's per-read timeout (120 s by default).
INTERVAL = 0.2


@pytest.fixture(scope="module")
def slow_task_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.3, api_key=KEY)) as server:
        yield server


def _settings(base_url: str, timeout: float) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "base_url": base_url,
        "poll_policy": POLICY,
        "retry": RETRY,
        "timeout": timeout,
    }


async def _generate(mode: str, base_url: str) -> Any:
    if mode == "sync":
        with ImageClient("dimilinks", **_settings(base_url, DEADLINE)) as client:
            return client.generate("a lighthouse", size="1:1")
    async with AsyncImageClient("dimilinks", **_settings(base_url, DEADLINE)) as aclient:
        return await aclient.generate("a lighthouse", size="1:1")


async def _save(mode: str, base_url: str, folder: Path, timeout: float) -> Any:
    """Generate (fast), then save: the download is a job with its own deadline."""
    if mode == "sync":
        with ImageClient("dimilinks", **_settings(base_url, timeout)) as client:
            result = client.generate("a lighthouse", size="1:1")
            return result.save(folder)
    async with AsyncImageClient("dimilinks", **_settings(base_url, timeout)) as aclient:
        result = await aclient.generate("a lighthouse", size="1:1")
        return await result.asave(folder)


@pytest.mark.parametrize(
    ("phase", "part"),
    [
        ("submit", "status"),
        ("submit", "headers"),
        ("submit", "body"),
        ("poll", "status"),
        ("poll", "headers"),
        ("poll", "body"),
    ],
)
async def test_a_trickling_api_cannot_outlive_the_deadline(
    mode: str, phase: str, part: str, slow_task_emulator: EmulatorServer
) -> None:
    rule = Trickle(phase, part, interval=INTERVAL)
    with hostile_proxy(slow_task_emulator.origin, rule) as origin:
        began = time.monotonic()
        expected = SubmitOutcomeUnknownError if phase == "submit" else ImageTimeoutError
        with pytest.raises(expected) as info:
            await _generate(mode, f"{origin}/dimilinks/v1")
        elapsed = time.monotonic() - began
    assert elapsed <= DEADLINE + SLACK, f"the job ran {elapsed:.2f} s past a {DEADLINE} s deadline"
    # The answer would have taken far longer than the bound: the client cut it off.
    assert rule.planned
    assert min(rule.planned) > DEADLINE + SLACK
    error = info.value
    if phase == "poll":
        assert error.task_id is not None, "a timeout after acceptance names the task"
        assert error.task_id in str(error)
    for text in exception_texts(error):
        assert_no_secret(text, where="the timeout error")


@pytest.mark.parametrize("part", ["status", "headers", "body"])
async def test_a_trickling_download_cannot_outlive_its_deadline(
    mode: str, part: str, slow_task_emulator: EmulatorServer, tmp_path: Path
) -> None:
    rule = Trickle("download", part, interval=INTERVAL)
    with hostile_proxy(slow_task_emulator.origin, rule) as origin:
        began = time.monotonic()
        with pytest.raises(ImageTimeoutError) as info:
            await _save(mode, f"{origin}/dimilinks/v1", tmp_path, timeout=DEADLINE)
        elapsed = time.monotonic() - began
    # generate() takes ~0.5 s; the download then has its own DEADLINE.
    assert elapsed <= 0.5 + DEADLINE + 2 * SLACK, f"the save ran {elapsed:.2f} s"
    assert info.value.task_id is not None, "a download error names the task it came from"
    assert list(tmp_path.iterdir()) == [], "no partial file is left behind"


async def test_a_save_takes_its_own_timeout(
    mode: str, slow_task_emulator: EmulatorServer, tmp_path: Path
) -> None:
    rule = Trickle("download", "body", interval=INTERVAL)
    with hostile_proxy(slow_task_emulator.origin, rule) as origin:
        settings = _settings(f"{origin}/dimilinks/v1", 60)
        if mode == "sync":
            with ImageClient("dimilinks", **settings) as client:
                result = client.generate("a lighthouse", size="1:1")
                began = time.monotonic()
                with pytest.raises(ImageTimeoutError):
                    result.images[0].save(tmp_path, timeout=1.0)
        else:
            async with AsyncImageClient("dimilinks", **settings) as aclient:
                result = await aclient.generate("a lighthouse", size="1:1")
                began = time.monotonic()
                with pytest.raises(ImageTimeoutError):
                    await result.images[0].asave(tmp_path, timeout=1.0)
        assert time.monotonic() - began <= 1.0 + SLACK


@pytest.mark.parametrize("phase", ["poll", "download"])
def test_the_cli_timeout_bounds_the_whole_command(
    phase: str, slow_task_emulator: EmulatorServer, tmp_path: Path
) -> None:
    """``--timeout`` covers generate and save together: the download gets what is left."""
    env = cli_env(tmp_path / "journal.sqlite3", DIMILINKS_API_KEY=KEY)
    began = time.monotonic()
    run_cli("providers", env=env)
    startup = time.monotonic() - began
    rule = Trickle(phase, "body", interval=INTERVAL)
    with hostile_proxy(slow_task_emulator.origin, rule) as origin:
        began = time.monotonic()
        done = run_cli(
            "generate",
            "a lighthouse",
            "--provider",
            "dimilinks",
            "--base-url",
            f"{origin}/dimilinks/v1",
            "--size",
            "1:1",
            "--timeout",
            str(DEADLINE),
            "--output",
            str(tmp_path / "out"),
            env=env,
        )
        elapsed = time.monotonic() - began
    assert done.returncode != 0
    assert "deadline" in done.stderr
    assert elapsed <= startup + DEADLINE + SLACK, f"the command ran {elapsed:.2f} s"
