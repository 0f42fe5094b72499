"""Workers as real processes (``imagebridge batch --journal``): one ``kill -9``ed while it
waits for accepted tasks (another resumes them, sending nothing), one killed while its
submit is unanswered (the item is ``unknown``, never resent), SIGTERM, ``batch-status`` and a
database that cannot be reached."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imagebridge._emulator import EmulatorServer
from imagebridge._shared_batch import SharedBatch
from pgserver import PostgresServer

from .conftest import KEY, client, images, items, rows, stats

pytestmark = pytest.mark.anyio

SCRIPT = str(Path(sys.executable).parent / "imagebridge")


def env() -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("IMAGEBRIDGE_")
    }
    return {**clean, "DIMILINKS_API_KEY": KEY, "IMAGEBRIDGE_JOURNAL": "off"}


def write_requests(path: Path, count: int, prefix: str = "item") -> Path:
    lines = [
        json.dumps({"id": f"{prefix}-{i}", "prompt": f"a lighthouse number {i}"})
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start(
    server: EmulatorServer, requests: Path, out: Path, dsn: str, *extra: str
) -> subprocess.Popen[str]:
    argv = [SCRIPT, "batch", str(requests), "-o", str(out), "--provider", "dimilinks"]
    argv += ["--base-url", server.url("dimilinks"), "--journal", dsn, *extra]
    return subprocess.Popen(
        argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts: never left running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def wait_for(check: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert process.poll() is None, f"the worker ended early: {process.communicate()}"
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


def states(dsn: str, batch_id: str) -> Counter[str]:
    return Counter(r["state"] for r in rows(dsn, batch_id).values())


async def test_a_killed_workers_accepted_tasks_are_resumed_with_no_new_submit(
    pg: PostgresServer,
    emulator_slow: EmulatorServer,
    batch_id: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[str]],
) -> None:
    server = emulator_slow
    requests = write_requests(tmp_path / "requests.jsonl", 3)
    out = tmp_path / "out"
    worker = start(server, requests, out, pg.dsn, "--batch-id", batch_id, "--lease", "2")
    processes.append(worker)
    wait_for(lambda: states(pg.dsn, batch_id)["accepted"] == 3, worker, "3 accepted rows")
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=10)
    assert stats(server, "accepted") == 3
    held = rows(pg.dsn, batch_id)
    assert {r["worker"] for r in held.values()} != {None}  # still leased to the dead worker
    async with client(server) as made:
        outcomes = await made.batch(
            items(3), out, journal=SharedBatch(pg.dsn, batch_id=batch_id, lease=2)
        )
    assert [o.status for o in outcomes] == ["saved"] * 3
    assert all(o.resumed for o in outcomes)
    assert [o.task_id for o in outcomes] == [held[f"item-{i}"]["task"]["task_id"] for i in range(3)]
    assert stats(server, "accepted") == 3  # zero new submits
    assert stats(server, "submits") == 3
    assert len(images(out)) == 3


async def test_a_lease_that_expires_while_submitting_makes_the_item_unknown(
    pg: PostgresServer,
    emulator_slow: EmulatorServer,
    batch_id: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[str]],
) -> None:
    server = emulator_slow
    server.app_state.faults.replace(["submit:slow:1:10"])  # the first submit hangs
    requests = write_requests(tmp_path / "requests.jsonl", 1)
    out = tmp_path / "out"
    worker = start(server, requests, out, pg.dsn, "--batch-id", batch_id, "--lease", "1")
    processes.append(worker)
    wait_for(lambda: stats(server, "submits") == 1, worker, "the submit")
    assert states(pg.dsn, batch_id) == {"submitting": 1}
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=10)
    server.app_state.faults.replace([])
    await asyncio.sleep(1.2)  # the lease runs out
    async with client(server) as made:
        outcomes = await made.batch(
            items(1), out, journal=SharedBatch(pg.dsn, batch_id=batch_id, lease=1)
        )
    assert [o.status for o in outcomes] == ["unknown"]
    assert stats(server, "submits") == 1  # never resent
    row = rows(pg.dsn, batch_id)["item-0"]
    assert row["state"] == "unknown"
    assert "lease expired" in row["error"]["message"]


async def test_sigterm_releases_the_workers_items_and_exits_0(
    pg: PostgresServer,
    emulator_slow: EmulatorServer,
    batch_id: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[str]],
) -> None:
    server = emulator_slow
    requests = write_requests(tmp_path / "requests.jsonl", 6)
    out = tmp_path / "out"
    worker = start(server, requests, out, pg.dsn, "--batch-id", batch_id, "-c", "4")
    processes.append(worker)
    wait_for(lambda: states(pg.dsn, batch_id)["accepted"] == 4, worker, "4 accepted rows")
    worker.send_signal(signal.SIGTERM)
    _stdout, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr
    assert "stopped (SIGTERM)" in stderr
    held = rows(pg.dsn, batch_id)
    assert Counter(r["state"] for r in held.values()) == {"accepted": 4, "pending": 2}
    assert {r["worker"] for r in held.values()} == {None}
    async with client(server) as made:
        outcomes = await made.batch(items(6), out, journal=SharedBatch(pg.dsn, batch_id=batch_id))
    assert sorted(o.status for o in outcomes) == ["saved"] * 6
    assert stats(server, "accepted") == 6


def test_batch_status_counts_the_states_and_workers(
    pg: PostgresServer, server: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", 3)
    requests.write_text(
        requests.read_text() + json.dumps({"id": "bad", "prompt": "x", "size": "7:3"}) + "\n"
    )
    argv = [SCRIPT, "batch", str(requests), "-o", str(tmp_path / "out"), "-p", "dimilinks"]
    argv += ["--base-url", server.url("dimilinks"), "--worker-id", "w1", "--batch-id", batch_id]
    done = subprocess.run(
        argv,
        env={**env(), "IMAGEBRIDGE_JOURNAL": pg.dsn},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # An invalid line is refused before anything is sent, as without --journal.
    assert done.returncode == 2, done.stderr
    assert "line 4" in done.stderr
    requests.write_text("\n".join(requests.read_text().splitlines()[:3]) + "\n")
    done = subprocess.run(
        argv,
        env={**env(), "IMAGEBRIDGE_JOURNAL": pg.dsn},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "3 saved by this worker" in done.stderr
    status = subprocess.run(
        [SCRIPT, "batch-status", batch_id, "--journal", pg.dsn, "--json"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    found = json.loads(status.stdout)
    assert found["total"] == 3
    assert found["states"]["saved"] == 3
    assert found["left"] == 0
    assert found["eta_seconds"] == 0
    assert found["workers"]["w1"]["stopped"] is True
    assert found["workers"]["w1"]["states"] == {"saved": 3}
    text = subprocess.run(
        [SCRIPT, "batch-status", batch_id, "--journal", pg.dsn],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert f"batch {batch_id}: 3 requests, 0 left" in text.stdout
    assert "worker w1" in text.stdout
    missing = subprocess.run(
        [SCRIPT, "batch-status", "no-such-batch", "--journal", pg.dsn],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "no shared batch 'no-such-batch'" in missing.stderr


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", 1)
    dsn = "postgresql://someone:hunter2-secret@127.0.0.1:9/nowhere"
    done = subprocess.run(
        [
            SCRIPT,
            "batch",
            str(requests),
            "-o",
            str(tmp_path / "out"),
            "-p",
            "dimilinks",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--journal",
            dsn,
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("imagebridge: error: journal='postgresql://someone@127.0.0.1:9/")
    assert "cannot connect" in lines[0]
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_shared_options_without_a_postgresql_journal_are_usage_errors(tmp_path: Path) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", 1)
    base = [SCRIPT, "batch", str(requests), "-o", str(tmp_path / "out"), "-p", "dimilinks"]
    for extra, message in [
        (["--batch-id", "b1"], "--batch-id needs --journal postgresql://"),
        (["--retry-failed"], "--retry-failed needs --journal postgresql://"),
        (["--journal", "/tmp/journal.sqlite3"], "is not a PostgreSQL URL"),
    ]:
        done = subprocess.run(
            [*base, *extra], env=env(), capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
