"""Crash and resume with real processes: ``kill -9`` the CLI while it polls, then get the paid
images back from the task journal without a single new submit."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imagebridge import AsyncImageClient, BatchItem, JournalEntry
from imagebridge._batch import read_report
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .support import (
    KEY,
    POLICY,
    RETRY,
    assert_clean,
    assert_no_secret,
    cli_env,
    counts,
    fresh,
    journal_entries,
    run_cli,
    script,
)


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[EmulatorServer]:
    """Tasks take 3 s: long enough to kill a process while it polls."""
    with EmulatorServer(EmulatorConfig(task_duration=3.0, api_key=KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def batch_emulator() -> Iterator[EmulatorServer]:
    """Tasks take 1.5 s: done at the CLI's first poll (2 s), so a batch moves on quickly."""
    with EmulatorServer(EmulatorConfig(task_duration=1.5, api_key=KEY)) as server:
        yield server


def kill_when(
    process: subprocess.Popen[str],
    ready: Callable[[], bool],
    timeout: float = 30,
) -> tuple[str, str]:
    """``kill -9`` the process as soon as ``ready()``; its output. Never leaves it running."""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert process.poll() is None, f"the process ended early: {process.communicate()}"
            assert time.monotonic() < deadline, "the process never got there"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert_no_secret(stdout, stderr, where="the killed process's output")
    return stdout, stderr


def states(entries: list[JournalEntry]) -> list[str]:
    return sorted(entry.state for entry in entries)


def test_generate_killed_mid_poll_is_resumed_from_the_journal(
    slow_emulator: EmulatorServer, tmp_path: Path, journal: Path
) -> None:
    server = fresh(slow_emulator)
    env = cli_env(journal, DIMILINKS_API_KEY=KEY)
    out = tmp_path / "out"
    args = ["generate", "a slow lighthouse", "--provider", "dimilinks"]
    args += ["--base-url", server.url("dimilinks"), "--output", str(out)]
    process = subprocess.Popen(
        [script(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    kill_when(process, lambda: states(journal_entries(journal)) == ["accepted"])
    [entry] = journal_entries(journal)
    task_id = entry.task.task_id
    assert not server.app_state.tasks[task_id].finished(server.app_state.now())
    assert not out.exists() or not list(out.iterdir())

    listing = run_cli("tasks", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    [row] = json.loads(listing.stdout)["tasks"]
    assert (row["task_id"], row["provider"], row["state"]) == (task_id, "dimilinks", "accepted")
    assert row["base_url"] == server.url("dimilinks")

    # Provider and base URL come from the journal; only the key is supplied again.
    done = run_cli("task", task_id, "--wait", "--output", str(out), "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["task_id"] == task_id
    [image] = result["images"]
    saved = Path(image["path"])
    assert saved.parent == out
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert (image["width"], image["height"]) == (1024, 1024)

    seen = counts(server, "dimilinks")
    assert (seen.submits, seen.accepted) == (1, 1), "resuming must not submit again"
    assert [e.state for e in journal_entries(journal)] == ["saved"]
    after = run_cli("tasks", "--json", env=env)
    assert json.loads(after.stdout)["tasks"] == []
    assert_clean(journal=journal, server=server, folders=[out])


ITEMS = [
    {"id": "a", "prompt": "a red cube"},
    {"id": "b", "prompt": "a blue cube"},
    {"id": "c", "prompt": "a green cube"},
    {"id": "d", "prompt": "a white cube"},
]


def test_batch_killed_mid_run_resumes_without_new_submits(
    batch_emulator: EmulatorServer, tmp_path: Path, journal: Path
) -> None:
    server = fresh(batch_emulator)
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(item) + "\n" for item in ITEMS), encoding="utf-8")
    out = tmp_path / "out"
    env = cli_env(journal)
    args = ["batch", str(requests), "--provider", "dimilinks", "--api-key", KEY]
    args += ["--base-url", server.url("dimilinks"), "--output", str(out), "--concurrency", "2"]

    def two_saved_two_in_flight() -> bool:
        return states(journal_entries(journal)) == ["accepted", "accepted", "saved", "saved"]

    process = subprocess.Popen(
        [script(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    kill_when(process, two_saved_two_in_flight)
    entries = journal_entries(journal)
    in_flight = {e.label: e.task.task_id for e in entries if e.state == "accepted"}
    finished = {e.label for e in entries if e.state == "saved"}
    assert counts(server, "dimilinks").submits == 4
    assert len(list(out.glob("*.png"))) == 2

    again = run_cli(*args, "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["counts"] == {
        "saved": 2,
        "skipped": 2,
        "failed": 0,
        "unknown": 0,
    }

    seen = counts(server, "dimilinks")
    assert (seen.submits, seen.accepted) == (4, 4), "one submit per item, ever"
    outcomes = read_report(out / "batch-report.jsonl")
    assert sorted(outcomes) == ["a", "b", "c", "d"]
    assert all(o.status == "saved" for o in outcomes.values())
    resumed = {o.id: o.task_id for o in outcomes.values() if o.resumed}
    assert {str(label).rsplit(":", 1)[-1] for label in in_flight} == set(resumed)
    assert set(in_flight.values()) == set(resumed.values())
    assert len(finished) == 2
    assert len(list(out.glob("*.png"))) == 4
    assert all(e.state == "saved" for e in journal_entries(journal))
    assert_clean(journal=journal, server=server, folders=[out])


def test_cli_timeout_names_the_task_to_resume(
    emu: EmulatorServer, tmp_path: Path, journal: Path
) -> None:
    emu.app_state.faults.replace(["poll:never"])
    env = cli_env(journal, DIMILINKS_API_KEY=KEY)
    done = run_cli(
        *("generate", "a cube", "-p", "dimilinks", "--base-url", emu.url("dimilinks")),
        *("--timeout", "1", "--json", "--output", str(tmp_path)),
        env=env,
    )
    assert done.returncode == 4, done.stderr
    error = json.loads(done.stdout)["error"]
    task_id = error["task_id"]
    assert (error["type"], error["exit_code"]) == ("ImageTimeoutError", 4)
    assert task_id in emu.app_state.tasks
    hint = f"resume it with: imagebridge task {task_id} --provider dimilinks"
    assert hint in done.stderr
    assert [e.state for e in journal_entries(journal, task_id=task_id)] == ["accepted"]


@pytest.mark.anyio
async def test_resuming_a_batch_does_not_resend_an_unknown_submit(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    emu.app_state.faults.replace(["submit:timeout-after-accept:1"])
    items = [BatchItem("one", "a cube")]
    async with AsyncImageClient(
        "dimilinks", api_key=KEY, base_url=emu.url("dimilinks"), poll_policy=POLICY, retry=RETRY
    ) as client:
        [first] = await client.batch(items, tmp_path)
        assert first.status == "unknown"  # may exist: never resent by a re-run
        assert first.error is not None
        assert first.error["type"] == "SubmitOutcomeUnknownError"
        assert counts(emu, "dimilinks").accepted == 1  # a paid task exists
        await client.batch(items, tmp_path)  # "run the same command again to resume"
    assert counts(emu, "dimilinks").accepted == 1, "the resumed batch paid for a second task"
