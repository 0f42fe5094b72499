"""Section 10: one batch shared by 1 to 4 worker processes through PostgreSQL.

A throwaway PostgreSQL server (``tests/pgserver.py``: ``initdb`` + ``pg_ctl``) and one
emulator in this process (dimilinks, tasks of ``shared_task_duration`` seconds); each run
starts W worker processes (``bench/_shared_worker.py``, concurrency ``shared_concurrency``
each, polling once per task duration) on one batch of ``shared_per_worker x W`` items:

- **throughput**: items saved per second between the batch's creation and its last save
  (database clock), for W = 1, 2, 3, 4 with no rate limit; the ratio of 4 workers to one
  (target >= 3.5x: the work is mostly waiting on tasks, so the workers should scale even on
  a 2-core machine, as long as the emulator and the database keep up);
- **shared limit**: ``shared_limit_workers`` workers on ``shared_limit_items`` items, their
  route limited to ``shared_rpm`` requests/min: each takes its share (limit / live
  workers); the rate of
  the API requests the emulator saw (submits and polls: downloads are not limited), per
  minute between its first and last, against the limit (target within 5%).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from imagebridge._emulator import EmulatorConfig, EmulatorServer

from ._config import REPO_ROOT, Settings
from ._proc import pgserver
from ._report import Check, SectionResult, Table
from ._stats import ratio

TOLERANCE = 0.05
SCALING_TARGET = 3.5


async def _span(dsn: str, batch_id: str) -> tuple[int, float]:
    """Items saved, and the seconds from the batch's creation to its last save."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT count(*), extract(epoch FROM max(i.updated_at) - b.created_at)"
            " FROM imagebridge_batch.batch_items i JOIN imagebridge_batch.batches b"
            " USING (batch_id) WHERE batch_id = %s AND i.state = 'saved' GROUP BY b.created_at",
            (batch_id,),
        )
        row = await cursor.fetchone()
    return (0, float("nan")) if row is None else (int(row[0]), float(row[1]))


def _run(
    dsn: str,
    server: EmulatorServer,
    settings: Settings,
    workers: int,
    rpm: float,
    tag: str,
    count: int,
) -> dict[str, Any]:
    batch_id = f"bench-{tag}-{workers}w"
    with tempfile.TemporaryDirectory(prefix="imagebridge-bench-shared-") as folder:
        argv = [
            sys.executable,
            "-m",
            "bench._shared_worker",
            dsn,
            server.url("dimilinks"),
            str(count),
            str(Path(folder) / "out"),
            batch_id,
            str(settings.shared_concurrency),
            str(settings.shared_task_duration),
            str(rpm),
        ]
        server.app_state.reset()
        began = time.perf_counter()
        processes = [
            subprocess.Popen(argv, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)  # noqa: S603
            for _ in range(workers)
        ]
        errors = [p.communicate(timeout=600)[1] for p in processes]
        wall = time.perf_counter() - began
        failed = [e[-500:] for p, e in zip(processes, errors, strict=True) if p.returncode]
        if failed:
            raise RuntimeError(f"a worker failed: {failed[0]}")
    saved, span = asyncio.run(_span(dsn, batch_id))
    # What the limit covers: the API's requests (submits and polls); downloads of the
    # images are not API calls and are not limited.
    times = sorted(
        e["time"] for e in server.app_state.requests if e["path"].startswith("/dimilinks/")
    )
    rate = (len(times) - 1) / (times[-1] - times[0]) * 60 if len(times) > 1 else float("nan")
    return {
        "workers": workers,
        "items": count,
        "saved": saved,
        "span_s": span,
        "wall_s": wall,
        "items_per_s": saved / span if span else float("nan"),
        "requests": len(times),
        "requests_per_min": rate,
        "accepted": sum(server.app_state.stats()["accepted"].values()),
    }


def run(settings: Settings) -> SectionResult:
    result = SectionResult("shared", "10. Shared batches: 1-4 worker processes over PostgreSQL")
    pg_module = pgserver()
    why = pg_module.available()
    table = Table(["workers", "items", "items/s", "vs 1 worker", "requests/min", "accepted"])
    result.tables.append(table)
    if why is not None:
        table.add("-", "-", "-", "-", "-", "-")
        result.data = {"skipped": why}
        result.notes.append(f"not run: {why}")
        result.checks.append(Check("4 workers / 1 worker", float("nan"), ">=", SCALING_TARGET))
        return result
    config = EmulatorConfig(task_duration=settings.shared_task_duration, api_key=None)
    runs: list[dict[str, Any]] = []
    with pg_module.PostgresServer() as pg, EmulatorServer(config) as server:
        for workers in (1, 2, 3, 4):
            count = settings.shared_per_worker * workers
            runs.append(_run(pg.dsn, server, settings, workers, 0, "free", count))
        limited = _run(
            pg.dsn,
            server,
            settings,
            settings.shared_limit_workers,
            settings.shared_rpm,
            "rpm",
            settings.shared_limit_items,
        )
    one = runs[0]["items_per_s"]
    for measured in runs:
        table.add(
            str(measured["workers"]),
            float(measured["items"]),
            measured["items_per_s"],
            f"{ratio(measured['items_per_s'], one):.2f}x",
            measured["requests_per_min"],
            str(measured["accepted"]),
        )
    table.add(
        f"{limited['workers']} (limit {settings.shared_rpm:g}/min)",
        float(limited["items"]),
        limited["items_per_s"],
        "-",
        limited["requests_per_min"],
        str(limited["accepted"]),
    )
    scaling = ratio(runs[-1]["items_per_s"], one)
    result.checks.append(
        Check(
            "4 workers / 1 worker (items/s)",
            scaling,
            ">=",
            SCALING_TARGET,
            note="the workers, the emulator and PostgreSQL share this machine's cores",
        )
    )
    shared = ratio(limited["requests_per_min"], settings.shared_rpm)
    result.checks.append(Check("shared limit: rate / limit", shared, ">=", 1 - TOLERANCE))
    result.checks.append(Check("shared limit: rate / limit (upper)", shared, "<=", 1 + TOLERANCE))
    every = sum(m["accepted"] for m in runs) + limited["accepted"]
    expected = sum(m["items"] for m in runs) + limited["items"]
    result.checks.append(
        Check("accepted submits / items", ratio(every, expected), "<=", 1.0, note="none twice")
    )
    result.data = {"runs": runs, "limited": limited, "scaling": scaling}
    result.notes.append(
        f"{settings.shared_per_worker} items per worker, concurrency"
        f" {settings.shared_concurrency} each, tasks of {settings.shared_task_duration:g} s;"
        f" items/s between the batch's creation and its last save; the limited run:"
        f" {settings.shared_limit_workers} workers sharing {settings.shared_rpm:g} requests/min"
    )
    return result
