"""The done criteria of the reliability issue, over real loopback HTTP, sync and async.

1. The first submit is refused with 429 + ``Retry-After: 1``: the generation succeeds and the
   provider accepted exactly one submit.
2. The first two polls get an HTML 502 page: the generation succeeds, one submit.
3. A task that never finishes: :class:`ImageTimeoutError` names the task; once the task can
   finish, ``imagebridge task ID --wait`` (a real process) saves its image with no new submit.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
import pytest

from imagebridge import ImageTimeoutError
from imagebridge._emulator import EmulatorServer

from .support import (
    KEY,
    assert_clean,
    bridge,
    cli_env,
    counts,
    journal_entries,
    run_cli,
)

pytestmark = pytest.mark.anyio


async def test_429_with_retry_after_then_one_accepted_submit(
    mode: str, emu: EmulatorServer, tmp_path: Path, journal: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.app_state.faults.replace(["submit:429:1"])  # Retry-After: 1
    tasks_before = set(emu.app_state.tasks)
    start = time.monotonic()
    async with bridge(mode, "dimilinks", emu) as client:
        result = await client.generate()
        [path] = await client.save(result, tmp_path)
    assert time.monotonic() - start >= 1.0, "Retry-After: 1 was not waited for"
    seen = counts(emu, "dimilinks")
    assert (seen.submits, seen.accepted) == (2, 1)
    created = set(emu.app_state.tasks) - tasks_before
    assert created == {result.task_id}, "exactly one task was created"
    assert path.read_bytes().startswith(b"\x89PNG")
    refused, accepted = [e for e in emu.app_state.requests if e["method"] == "POST"]
    assert (refused["status"], refused["faults"]) == (429, ["submit:429:1"])
    assert accepted["status"] == 200
    assert [e.state for e in journal_entries(journal, task_id=result.task_id)] == ["saved"]
    assert_clean(logs=caplog.text, journal=journal, server=emu, folders=[tmp_path])


async def test_two_html_502_polls_then_success(
    mode: str, emu: EmulatorServer, tmp_path: Path, journal: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.app_state.faults.replace(["poll:html502:2"])
    async with bridge(mode, "dimilinks", emu) as client:
        result = await client.generate()
        [path] = await client.save(result, tmp_path)
    seen = counts(emu, "dimilinks")
    assert (seen.submits, seen.accepted) == (1, 1)
    polls = [e for e in emu.app_state.requests if "/tasks/" in e["path"]]
    assert [e["status"] for e in polls[:2]] == [502, 502]
    assert all(e["faults"] == ["poll:html502:2"] for e in polls[:2])
    assert polls[-1]["status"] == 200
    assert path.read_bytes().startswith(b"\x89PNG")
    assert [e.state for e in journal_entries(journal, task_id=result.task_id)] == ["saved"]
    assert_clean(logs=caplog.text, journal=journal, server=emu, folders=[tmp_path])


async def test_never_finishing_task_times_out_then_resumes_from_the_cli(
    mode: str, emu: EmulatorServer, tmp_path: Path, journal: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.app_state.faults.replace(["poll:never"])
    tasks_before = set(emu.app_state.tasks)
    async with bridge(mode, "dimilinks", emu, timeout=0.8) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate()
    error = info.value
    [task_id] = set(emu.app_state.tasks) - tasks_before
    assert error.task_id == task_id
    assert task_id in str(error)
    assert error.task is not None
    assert error.task.task_id == task_id
    [entry] = journal_entries(journal, task_id=task_id)
    assert entry.state == "accepted"
    assert_clean(error=error, logs=caplog.text, journal=journal, server=emu)

    # Later the provider finishes the task; the CLI fetches it without a new submit.
    async with httpx.AsyncClient() as http:
        cleared = await http.post(f"{emu.origin}/_emulator/faults", json=[])
    assert cleared.json() == []
    out = tmp_path / "out"
    done = run_cli(
        *("task", task_id, "--provider", "dimilinks", "--base-url", emu.url("dimilinks")),
        *("--wait", "--output", str(out)),
        env=cli_env(journal, DIMILINKS_API_KEY=KEY),
    )
    assert done.returncode == 0, done.stderr
    [saved] = list(out.iterdir())
    assert done.stdout.strip() == str(saved)
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert task_id in saved.name
    assert counts(emu, "dimilinks").submits == 1
    assert [e.state for e in journal_entries(journal, task_id=task_id)] == ["saved"]
    assert_clean(journal=journal, server=emu, folders=[out])
