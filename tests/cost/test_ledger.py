"""The spend ledger in the task journal: batches under a budget (refused whole before any
request, or run with the ledger's total equal to the sum of its per-item figures), a process
killed mid-batch with a task accepted keeps that task's row, and a journal written before
the ledger existed is migrated when opened, its tasks untouched."""

from __future__ import annotations

import json
import math
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from imagebridge import (
    AsyncImageClient,
    BatchItem,
    Budget,
    BudgetExceededError,
    TaskHandle,
    TaskJournal,
)
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .conftest import KEY
from .test_budget import sent

D = Decimal
pytestmark = pytest.mark.anyio

#: The journal's schema before the ledger (version 0), as it was released.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    provider   TEXT NOT NULL,
    base_url   TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    handle     TEXT NOT NULL,
    state      TEXT NOT NULL,
    label      TEXT,
    paths      TEXT,
    error      TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (provider, base_url, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_label ON tasks (label);
"""


def async_openai(server: EmulatorServer, journal: Path) -> AsyncImageClient:
    return AsyncImageClient("openai", api_key=KEY, base_url=server.url("openai"), journal=journal)


async def test_a_batch_over_budget_is_refused_whole_before_any_request(
    server: EmulatorServer, tmp_path: Path
) -> None:
    items = [BatchItem(str(i), f"lighthouse {i}", {"model": "dall-e-3"}) for i in range(3)]
    budget = Budget("0.10")
    async with async_openai(server, tmp_path / "journal.sqlite3") as client:
        with pytest.raises(BudgetExceededError, match=r"batch of 3 request\(s\).*\$0\.12"):
            await client.batch(items, tmp_path / "out", budget=budget)
    assert sent(server) == []
    assert not (tmp_path / "out" / "batch-report.jsonl").exists()
    assert (budget.spent, budget.reserved) == (0, 0)


async def test_a_batch_within_budget_runs_and_the_ledger_adds_up(
    server: EmulatorServer, tmp_path: Path
) -> None:
    prompt = "a red cube"
    items = [
        BatchItem("cube", prompt, {"model": "gpt-image-1", "quality": "low", "size": "1024x1024"}),
        BatchItem("lighthouse", "a lighthouse", {"model": "dall-e-3", "n": 2}),  # two calls
    ]
    budget = Budget("1.00")
    journal = tmp_path / "journal.sqlite3"
    async with async_openai(server, journal) as client:
        outcomes = await client.batch(items, tmp_path / "out", budget=budget)
    assert [o.status for o in outcomes] == ["saved", "saved"]
    rows = TaskJournal(journal).spend()
    per_item: dict[str, Decimal] = {}
    for row in rows:
        assert row.label is not None
        assert row.actual is not None
        assert row.task_id is None
        item = row.label.rsplit(":", 1)[1]
        per_item[item] = per_item.get(item, D(0)) + row.actual
    # Each item's figure, computed here from the emulator's usage rule and the price pages.
    cube = (math.ceil(len(prompt) / 4) * D("5.00") + 272 * D("40.00")) / 1_000_000
    assert per_item == {"cube": cube, "lighthouse": 2 * D("0.04")}
    total = sum(per_item.values(), D(0))
    assert sum((row.usd for row in rows if row.usd is not None), D(0)) == total
    assert budget.spent == total
    assert budget.reserved == 0
    summary = TaskJournal(journal).spend_summary()
    assert {(s.model, s.calls, s.usd) for s in summary} == {
        ("gpt-image-1", 1, cube),
        ("dall-e-3", 2, 2 * D("0.04")),
    }


async def test_spend_since_filters_by_time(server: EmulatorServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    async with async_openai(server, journal) as client:
        await client.generate("a lighthouse", model="dall-e-2")
    ledger = TaskJournal(journal)
    assert len(ledger.spend()) == 1
    assert ledger.spend(since=time.time() + 60) == []
    assert ledger.spend_summary(since=time.time() + 60) == []


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[EmulatorServer]:
    """Tasks take 60 s: a batch is still polling its first task when the process is killed."""
    with EmulatorServer(EmulatorConfig(task_duration=60, api_key=KEY)) as server:
        yield server


def test_a_process_killed_mid_batch_keeps_the_accepted_tasks_row(
    slow_emulator: EmulatorServer, tmp_path: Path, dimilinks_prices: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    script = textwrap.dedent(
        f"""
        import asyncio
        from imagebridge import AsyncImageClient, BatchItem, PollPolicy

        async def main():
            async with AsyncImageClient(
                "dimilinks", api_key={KEY!r}, base_url={slow_emulator.url("dimilinks")!r},
                journal={str(journal)!r}, prices={str(dimilinks_prices)!r}, budget=1,
                poll_policy=PollPolicy(interval=0.05, max_interval=0.1), timeout=120,
            ) as client:
                items = [BatchItem("a", "a cat"), BatchItem("b", "a dog")]
                await client.batch(items, {str(tmp_path / "out")!r}, concurrency=1)

        asyncio.run(main())
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not (journal.exists() and TaskJournal(journal).spend()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the batch never had a task accepted"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    [row] = TaskJournal(journal).spend()
    assert (row.provider, row.model, row.estimate, row.actual) == (
        "dimilinks",
        "gpt-image-2",
        D("0.03"),
        None,
    )
    assert row.task_id is not None
    assert row.label is not None
    assert row.label.endswith(":a")
    [entry] = TaskJournal(journal).entries()
    assert entry.task.task_id == row.task_id  # the same task, resumable from the journal


def test_an_old_journal_is_migrated_on_open_and_its_tasks_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    handle = TaskHandle(provider="dimilinks", base_url="https://x.example/v1", task_id="img_1")
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO tasks VALUES (?, ?, ?, ?, 'accepted', 'mine', NULL, NULL, 1.0, 1.0)",
            (handle.provider, handle.base_url, handle.task_id, handle.to_json()),
        )
    db.close()
    journal = TaskJournal(path)
    [entry] = journal.entries()
    assert (entry.task.task_id, entry.state, entry.label) == ("img_1", "accepted", "mine")
    assert journal.spend() == []
    row = journal.record_spend(
        provider="dimilinks", model="gpt-image-2", task_id="img_1", label="mine", estimate=D("0.03")
    )
    journal.update_spend(row, actual=D("0.029"))
    journal.close()
    with sqlite3.connect(path) as db:
        versions = db.execute("SELECT version FROM schema_version").fetchall()
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert versions == [(1,)]
    assert {"tasks", "spend", "schema_version"} <= tables
    reopened = TaskJournal(path)  # migrating again changes nothing
    [spent] = reopened.spend()
    assert (spent.estimate, spent.actual, spent.usd) == (D("0.03"), D("0.029"), D("0.029"))
    assert len(reopened.entries()) == 1
    assert json.loads(reopened.entries()[0].task.to_json())["task_id"] == "img_1"
    reopened.close()
