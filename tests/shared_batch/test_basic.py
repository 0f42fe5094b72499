"""A shared batch against the emulator and a real PostgreSQL server, workers in this
process: loading, splitting the work, the database going away, retry-failed, stopping."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from imagebridge import BatchItem, ConfigurationError
from imagebridge._batch import batch_key
from imagebridge._emulator import EmulatorServer
from imagebridge._shared_batch import SharedBatch
from pgserver import PostgresServer

from .conftest import client, images, items, rows, stats, until

pytestmark = pytest.mark.anyio


async def test_one_worker_runs_a_batch_and_records_every_item(
    pg: PostgresServer, server: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    batch = items(5)
    async with client(server) as made:
        outcomes = await made.batch(
            batch, tmp_path, concurrency=3, journal=SharedBatch(pg.dsn, batch_id=batch_id)
        )
    assert sorted(o.status for o in outcomes) == ["saved"] * 5
    assert stats(server, "accepted") == 5
    assert [p.name for p in images(tmp_path)] == [f"item-{i}.png" for i in range(5)]
    found = rows(pg.dsn, batch_id)
    assert {r["state"] for r in found.values()} == {"saved"}
    assert all(r["task"]["task_id"] for r in found.values())
    assert all(r["paths"] == [str(tmp_path / f"{i}.png")] for i, r in found.items())


async def test_loading_the_same_file_again_joins_the_batch(
    pg: PostgresServer, server: EmulatorServer, tmp_path: Path
) -> None:
    batch = items(4, prefix=f"join-{tmp_path.name}")
    async with client(server) as made:
        first = await made.batch(batch, tmp_path, journal=pg.dsn)
        again = await made.batch(batch, tmp_path, journal=pg.dsn)  # default id: the file's key
    assert [o.status for o in first] == ["saved"] * 4
    assert [o.status for o in again] == ["skipped"] * 4
    assert stats(server, "accepted") == 4  # the second worker sent nothing
    assert len(rows(pg.dsn, batch_key(batch))) == 4
    with psycopg.connect(pg.dsn) as conn:
        [(count,)] = conn.execute(
            "SELECT count(*) FROM imagebridge_batch.batches WHERE batch_id = %s",
            (batch_key(batch),),
        ).fetchall()
    assert count == 1


async def test_a_different_file_under_the_same_id_is_refused(
    pg: PostgresServer, server: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    async with client(server) as made:
        await made.batch(items(2), tmp_path, journal=SharedBatch(pg.dsn, batch_id=batch_id))
        with pytest.raises(ConfigurationError, match=f"batch id '{batch_id}' already holds"):
            await made.batch(items(3), tmp_path, journal=SharedBatch(pg.dsn, batch_id=batch_id))
    assert stats(server, "accepted") == 2


async def test_two_workers_split_a_batch_and_no_item_is_sent_twice(
    pg: PostgresServer, server: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    batch = items(60)
    async with client(server) as one, client(server) as two:
        shared = [SharedBatch(pg.dsn, batch_id=batch_id, worker_id=w) for w in ("a", "b")]
        results = await asyncio.gather(
            one.batch(batch, tmp_path, concurrency=8, journal=shared[0]),
            two.batch(batch, tmp_path, concurrency=8, journal=shared[1]),
        )
    assert stats(server, "accepted") == 60
    assert stats(server, "submits") == 60
    assert len(images(tmp_path)) == 60
    by_worker = Counter(r["worker"] for r in rows(pg.dsn, batch_id).values())
    assert set(by_worker) == {"a", "b"}, by_worker  # both did some of the work
    for worker, outcomes in zip("ab", results, strict=True):
        # Each sees the whole batch: what it saved itself, and the rest skipped.
        mine = by_worker[worker]
        assert Counter(o.status for o in outcomes) == {"saved": mine, "skipped": 60 - mine}


async def test_the_workers_finish_when_the_database_restarts_mid_batch(
    pg: PostgresServer, server: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    batch = items(80)
    async with client(server) as one, client(server) as two:
        shared = [SharedBatch(pg.dsn, batch_id=batch_id, worker_id=w, lease=3) for w in "ab"]
        run = asyncio.gather(
            one.batch(batch, tmp_path, concurrency=6, journal=shared[0]),
            two.batch(batch, tmp_path, concurrency=6, journal=shared[1]),
        )
        task = asyncio.ensure_future(run)
        await until(lambda: stats(server, "accepted") >= 20, what="20 submits")
        assert not task.done()
        await asyncio.to_thread(pg.restart)
        results = await task
    assert stats(server, "accepted") == 80
    assert len(images(tmp_path)) == 80
    assert {r["state"] for r in rows(pg.dsn, batch_id).values()} == {"saved"}
    assert all(o.status in ("saved", "skipped") for o in results[0] + results[1])


async def test_retry_failed_puts_failed_items_back(
    pg: PostgresServer, server: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    batch = [*items(2), BatchItem("bad", "a cat", {"size": "7:3"})]
    async with client(server) as made:
        first = await made.batch(batch, tmp_path, journal=SharedBatch(pg.dsn, batch_id=batch_id))
        assert {o.id: o.status for o in first}["bad"] == "failed"
        assert rows(pg.dsn, batch_id)["bad"]["error"]["type"] == "InvalidRequestError"
        again = await made.batch(
            batch, tmp_path, journal=SharedBatch(pg.dsn, batch_id=batch_id, retry_failed=True)
        )
    assert {o.id: o.status for o in again} == {
        "item-0": "skipped",
        "item-1": "skipped",
        "bad": "failed",
    }
    assert rows(pg.dsn, batch_id)["bad"]["attempts"] == 2  # claimed again after the reset
    assert stats(server, "accepted") == 2


async def test_retry_failed_never_resends_an_item_whose_task_may_have_made_images(
    pg: PostgresServer, server: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    # As if its resume had failed (a client of another base URL, say): the item is failed
    # but holds its accepted task, which may have made its images: never submitted again.
    async with client(server) as made:
        await made.batch(items(1), tmp_path, journal=SharedBatch(pg.dsn, batch_id=batch_id))
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(
                "UPDATE imagebridge_batch.batch_items SET state = 'failed',"
                ' error = \'{"type": "ConfigurationError", "message": "x"}\''
                " WHERE batch_id = %s",
                (batch_id,),
            )
        again = await made.batch(
            items(1), tmp_path, journal=SharedBatch(pg.dsn, batch_id=batch_id, retry_failed=True)
        )
    assert [o.status for o in again] == ["failed"]
    assert rows(pg.dsn, batch_id)["item-0"]["task"] is not None
    assert stats(server, "accepted") == 1


async def test_stopping_releases_the_items_and_another_worker_resumes_them(
    pg: PostgresServer, emulator_slow: EmulatorServer, batch_id: str, tmp_path: Path
) -> None:
    server = emulator_slow
    batch = items(6)
    stop = asyncio.Event()
    async with client(server) as made:
        shared = SharedBatch(pg.dsn, batch_id=batch_id, worker_id="stopped", stop=stop)
        task = asyncio.ensure_future(made.batch(batch, tmp_path, concurrency=4, journal=shared))
        await until(lambda: stats(server, "accepted") == 4, what="4 accepted submits")
        await until(
            lambda: Counter(r["state"] for r in rows(pg.dsn, batch_id).values())["accepted"] == 4,
            what="4 accepted rows",
        )
        stop.set()
        outcomes = await task
        assert outcomes == []  # nothing finished: the tasks take 2 s
        held = rows(pg.dsn, batch_id)
        assert Counter(r["state"] for r in held.values()) == {"accepted": 4, "pending": 2}
        assert {r["worker"] for r in held.values()} == {None}  # released, not left to expire
        resumed = await made.batch(
            batch, tmp_path, concurrency=6, journal=SharedBatch(pg.dsn, batch_id=batch_id)
        )
    assert sorted(o.status for o in resumed) == ["saved"] * 6
    assert sum(o.resumed for o in resumed) == 4
    assert stats(server, "accepted") == 6  # the 4 accepted tasks were not sent again
