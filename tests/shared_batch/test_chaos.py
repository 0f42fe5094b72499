"""The issue's done-when: 4 worker processes on one 1,000-item batch, two of them ``kill
-9``ed at random moments and restarted, the database restarted once mid-batch. Every item
is saved exactly once, the emulator counts exactly 1,000 accepted submits, and every task it
accepted is recorded in ``batch_items`` (no task id lost).

A worker is killed at a random moment *outside* the one window no design can close: between
the provider accepting a submit and the worker writing the task id down (a kill there makes
the item ``unknown``, as ``test_a_lease_that_expires_while_submitting_makes_the_item_unknown``
shows). The test stops the worker (SIGSTOP), lets the database finish what it was sent, and
kills it only when none of its items is ``submitting``; otherwise it lets it run a few
milliseconds more and tries again.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer
from pgserver import PostgresServer

from .conftest import KEY, images, rows

ITEMS = 1000
WORKERS = 4
WORKER = str(Path(__file__).with_name("worker.py"))


@pytest.fixture
def chaos_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.2, api_key=KEY)) as server:
        yield server


def saved(dsn: str, batch_id: str) -> int:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            [(count,)] = conn.execute(
                "SELECT count(*) FROM imagebridge_batch.batch_items"
                " WHERE batch_id = %s AND state = 'saved'",
                (batch_id,),
            ).fetchall()
    except psycopg.Error:  # restarting, or no tables yet
        return -1
    return int(count)


def registered(dsn: str, batch_id: str, worker: str) -> int | None:
    """The process id the worker's row names (its last start)."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT pid FROM imagebridge_batch.workers WHERE batch_id = %s AND worker_id = %s",
            (batch_id, worker),
        ).fetchall()
    return int(found[0][0]) if found else None


def submitting(dsn: str, batch_id: str, worker: str) -> int:
    """The worker's items whose submit may be out with no task id written yet: those
    ``submitting``, and those another worker found so with their lease expired (``unknown``:
    the worker writes the task id over it when the answer comes)."""
    with psycopg.connect(dsn) as conn:
        [(count,)] = conn.execute(
            "SELECT count(*) FROM imagebridge_batch.batch_items WHERE batch_id = %s"
            " AND worker = %s AND state IN ('submitting', 'unknown')",
            (batch_id, worker),
        ).fetchall()
    return int(count)


def kill_outside_the_submit_window(
    process: subprocess.Popen[str], dsn: str, batch_id: str, worker: str
) -> None:
    for _ in range(200):
        process.send_signal(signal.SIGSTOP)
        time.sleep(0.2)  # what it sent the database is done by now
        if submitting(dsn, batch_id, worker) == 0:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=10)
            return
        process.send_signal(signal.SIGCONT)
        time.sleep(random.uniform(0.01, 0.05))
    held = {i: r for i, r in rows(dsn, batch_id).items() if r["worker"] == worker}
    stuck = {i: (r["state"], r["error"]) for i, r in held.items() if r["state"] == "unknown"}
    raise AssertionError(f"worker {worker} was always submitting; unknown: {stuck}")


def test_four_workers_two_killed_and_a_database_restart_save_every_item_once(
    pg: PostgresServer, chaos_emulator: EmulatorServer, tmp_path: Path
) -> None:
    server = chaos_emulator
    batch_id = f"chaos-{tmp_path.name}"[:60]
    requests = tmp_path / "requests.jsonl"
    # One prompt (ids differ): the emulator renders one image per prompt, once.
    requests.write_text(
        "".join(
            json.dumps({"id": f"item-{i}", "prompt": "a harbour"}) + "\n" for i in range(ITEMS)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    env = {**os.environ, "DIMILINKS_API_KEY": KEY, "WORKER_CONCURRENCY": "16"}
    env["WORKER_LEASE"] = "3"

    def start(worker: str) -> subprocess.Popen[str]:
        argv = [sys.executable, WORKER, pg.dsn, server.url("dimilinks"), str(requests)]
        return subprocess.Popen(
            [*argv, str(out), batch_id, worker],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    rng = random.Random()
    names = [f"w{i}" for i in range(WORKERS)]
    running = {name: start(name) for name in names}
    every = list(running.values())
    # Two kills and one restart of the database, each once a random share of the batch is
    # saved, in a random order.
    events = [("kill", "w1"), ("kill", "w2"), ("restart", "")]
    rng.shuffle(events)
    marks = sorted(rng.sample(range(100, 800, 25), len(events)))
    try:
        deadline = time.monotonic() + 150
        for (what, name), mark in zip(events, marks, strict=True):
            while saved(pg.dsn, batch_id) < mark:
                assert time.monotonic() < deadline, "the batch stalled"
                for process in running.values():
                    assert process.poll() in (None, 0), process.communicate()
                time.sleep(0.02)
            if what == "kill":
                kill_outside_the_submit_window(running[name], pg.dsn, batch_id, name)
                time.sleep(rng.uniform(0.1, 1.0))
                running[name] = start(name)  # the same worker id, restarted
                every.append(running[name])
                # Connected before the next event: a database down when a worker starts
                # is a configuration error by design (exit 2), not an outage to wait out.
                while registered(pg.dsn, batch_id, name) != running[name].pid:
                    assert running[name].poll() is None, running[name].communicate()
                    time.sleep(0.02)
            else:
                pg.restart()
        for name, process in running.items():
            _stdout, stderr = process.communicate(timeout=max(1, deadline - time.monotonic()))
            assert process.returncode == 0, f"{name}: {stderr[-3000:]}"
    finally:
        for process in every:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    found = rows(pg.dsn, batch_id)
    unsaved = {
        i: (r["state"], r["worker"], r["error"]) for i, r in found.items() if r["state"] != "saved"
    }
    assert not unsaved
    assert len(found) == ITEMS
    files = images(out)
    assert sorted(p.name for p in files) == sorted(f"item-{i}.png" for i in range(ITEMS))
    stats = server.app_state.stats()
    assert stats["accepted"]["dimilinks"] == ITEMS
    accepted = {task.id for task in server.app_state.tasks.values()}
    recorded = {r["task"]["task_id"] for r in found.values()}
    assert accepted == recorded  # no task id lost, none made up
