"""One batch shared by many workers (processes, machines) through a PostgreSQL database.

``client.batch(items, output, journal="postgresql://...")`` (and ``imagebridge batch FILE
--journal postgresql://...``) runs a batch as one of any number of workers: the first
loads every item under the batch id (default :func:`~imagebridge._batch.batch_key` of the
items; loading is idempotent, a second worker with the same file joins, a different file
under the same id is refused), then each worker claims items with leases on the database's
clock, renewed by a heartbeat every ``lease / 3``, and runs them. The records are the
database's own (:mod:`imagebridge._shared_store`): the local task journal is not needed.

The guarantees:

* **at most one submit per item, ever**: an item goes ``claimed -> submitting`` (committed
  before the submit is sent) ``-> accepted`` (the task handle, committed as soon as it is
  accepted, before waiting) ``-> saved``. Where the provider has tasks and the request is
  one call it is sent with ``submit`` then ``wait``; otherwise with one ``generate`` call.
  A lease that expires on ``submitting`` (its worker died, or lost the database, after it
  may have sent the submit) makes the item ``unknown``: reported, never resent. One that
  expires on ``accepted`` lets another worker resume the task (``wait`` on the route of its
  provider and base URL), never resubmit it. A :class:`~imagebridge.SubmitOutcomeUnknownError`
  makes the item ``unknown``; a failure that created no task makes it ``failed`` (``retry_failed``
  puts failed items back to pending);
* **saving is idempotent**: an item's files are named after its id (and the image's index),
  written to a temporary name and renamed, so two workers or a retry never make two copies;
* **the database may go away**: every statement is retried with backoff for ``patience``
  seconds while the server is unreachable; provider work in flight goes on, and an accepted
  task's handle is kept in memory until it is written;
* **stop** (SIGTERM in the CLI, or setting ``stop``): no more claims; items not yet
  submitting go back to pending and accepted ones are released (another worker resumes them
  at once); submits in flight get their answer (for at most ``grace`` seconds), which is
  recorded; then :func:`run_shared_batch` returns.

Shared rate limits: each worker's local :class:`~imagebridge._limits.Limiter` gets
``requests_per_minute / live workers`` (live: a heartbeat within one lease), recomputed at
every heartbeat. Chosen over a token bucket in PostgreSQL because that costs a round trip
to the database for every HTTP request (polls included), and puts the database on the path
of every call, so an outage would stop polling too; the share costs nothing per request and
is off only while workers join or leave (for at most one heartbeat), erring low when a
worker stops and high for one heartbeat when one joins. Workers sharing one process (and so
one limiter) should not be given a limit.
"""

# S608: the status statements name the table by its constant; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._batch import BatchItem, BatchOutcome, batch_key
from ._errors import ConfigurationError
from ._files import usable_folder
from ._journal_store import is_dsn
from ._shared_store import ITEMS, OPEN_STATES, STATES, Store
from ._shared_worker import SharedClient, Worker

if TYPE_CHECKING:
    import asyncio

__all__ = ["SharedBatch", "batch_status", "run_shared_batch"]


@dataclass(frozen=True)
class SharedBatch:
    """How a worker joins a shared batch: ``dsn`` (``postgresql://user@host/db``), the
    ``batch_id`` (default: a hash of the items), this worker's id (default: host, process
    id and a random suffix), the ``lease`` in seconds, ``retry_failed`` (failed items back to
    pending first), ``patience`` (seconds the database may be unreachable), ``grace``
    (seconds a stop waits for submits in flight) and ``stop`` (an event: set it to stop)."""

    dsn: str
    batch_id: str | None = None
    worker_id: str | None = None
    lease: float = 30.0
    retry_failed: bool = False
    patience: float = 300.0
    grace: float = 30.0
    stop: asyncio.Event | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dsn, str) or not is_dsn(self.dsn):
            raise ConfigurationError(
                "journal must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE)"
            )
        for name in ("lease", "patience", "grace"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"SharedBatch.{name}={value!r}: expected seconds")
            if not math.isfinite(value) or value <= 0:
                raise ConfigurationError(
                    f"SharedBatch.{name}={value!r}: it must be a positive, finite number of seconds"
                )
        for name in ("batch_id", "worker_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigurationError(
                    f"SharedBatch.{name}={value!r}: it must be a non-empty string"
                )


async def shared_run(
    client: SharedClient,
    items: Sequence[BatchItem],
    output: str | os.PathLike[str],
    journal: str | SharedBatch,
    concurrency: int,
    report: str | os.PathLike[str] | None,
    on_outcome: Callable[[BatchOutcome], None] | None,
) -> list[BatchOutcome]:
    """``client.batch(..., journal=...)``: a DSN or :class:`SharedBatch`, checked."""
    if report is not None:
        raise ConfigurationError(
            "report= is not used by a shared batch: its records are in the database"
            " (imagebridge batch-status BATCH_ID --journal ...)"
        )
    shared = SharedBatch(journal) if isinstance(journal, str) else journal
    return await run_shared_batch(
        client, list(items), Path(output), shared, concurrency=concurrency, on_outcome=on_outcome
    )


async def batch_status(dsn: str, batch_id: str, *, patience: float = 10.0) -> dict[str, Any]:
    """The state of the shared batch ``batch_id`` (see :meth:`Store.status`); an unknown id
    is a :class:`ConfigurationError`."""
    store = Store(SharedBatch(dsn).dsn, patience=patience)
    await store.open()
    try:
        await store.ensure_schema()
        status = await _status(store, batch_id)
    finally:
        await store.close()
    if status is None:
        raise ConfigurationError(f"no shared batch {batch_id!r} in {store.shown}")
    return status


async def run_shared_batch(
    client: SharedClient,
    items: Sequence[BatchItem],
    output: Path,
    shared: SharedBatch,
    *,
    concurrency: int = 4,
    on_outcome: Callable[[BatchOutcome], None] | None = None,
) -> list[BatchOutcome]:
    """Run ``items`` as one worker of the shared batch ``shared`` names; save under
    ``output`` (a folder every worker sees). Returns the outcome of every finished item of
    the batch (``skipped``: saved by another worker or an earlier run), once no item is left
    to run, or once stopped."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("batch item ids must be unique")
    usable_folder(output)
    store = Store(shared.dsn, patience=shared.patience)
    await store.open()
    try:
        await store.ensure_schema()
        batch_id = shared.batch_id or batch_key(items)
        rows = [
            (
                item.id,
                json.dumps({"prompt": item.prompt, "fields": dict(item.fields)}, default=str),
            )
            for item in items
        ]
        await store.load(batch_id, batch_key(items), rows)
        if shared.retry_failed:
            await store.retry_failed(batch_id)
        worker = Worker(
            client,
            items,
            output,
            store,
            batch_id,
            worker_id=shared.worker_id,
            lease=shared.lease,
            grace=shared.grace,
            stop=shared.stop,
            concurrency=concurrency,
            on_outcome=on_outcome,
        )
        return await worker.run()
    finally:
        await store.close()


async def _status(store: Store, batch_id: str) -> dict[str, Any] | None:
    """The batch at a glance (None when there is no such batch): counts per state, per
    worker, the oldest lease, the saving rate of the last minute and the time left."""
    found = await store.run(
        "SELECT total, created_at, extract(epoch FROM now() - created_at)"
        " FROM imagebridge_batch.batches WHERE batch_id = %s",
        (batch_id,),
    )
    if not found:
        return None
    [(total, created, age)] = found
    states = dict.fromkeys(STATES, 0)
    for state, count in await store.run(
        f"SELECT state, count(*) FROM {ITEMS} WHERE batch_id = %s GROUP BY state", (batch_id,)
    ):
        states[state] = int(count)
    workers: dict[str, dict[str, Any]] = {}
    for worker_id, host, pid, beat, stopped in await store.run(
        "SELECT worker_id, host, pid, extract(epoch FROM now() - heartbeat_at),"
        " stopped_at IS NOT NULL FROM imagebridge_batch.workers WHERE batch_id = %s"
        " ORDER BY started_at",
        (batch_id,),
    ):
        workers[worker_id] = {
            "host": host,
            "pid": pid,
            "heartbeat_age": round(float(beat), 1),
            "stopped": bool(stopped),
            "states": {},
        }
    for worker_id, state, count in await store.run(
        f"SELECT worker, state, count(*) FROM {ITEMS} WHERE batch_id = %s AND worker IS NOT"
        " NULL GROUP BY worker, state",
        (batch_id,),
    ):
        entry = workers.setdefault(worker_id, {"host": None, "pid": None, "states": {}})
        entry["states"][state] = int(count)
    oldest = await store.run(
        f"SELECT item_id, worker, state, extract(epoch FROM lease_until - now()) FROM {ITEMS}"
        " WHERE batch_id = %s AND lease_until IS NOT NULL AND state = ANY(%s)"
        " ORDER BY lease_until LIMIT 1",
        (batch_id, list(OPEN_STATES)),
    )
    [(recent,)] = await store.run(
        f"SELECT count(*) FROM {ITEMS} WHERE batch_id = %s AND state = 'saved'"
        " AND updated_at > now() - interval '60 seconds'",
        (batch_id,),
    )
    left = sum(states[s] for s in OPEN_STATES)
    window = min(60.0, max(1.0, float(age)))
    rate = int(recent) / window
    return {
        "batch_id": batch_id,
        "total": int(total),
        "created_at": created.isoformat(),
        "states": states,
        "left": left,
        "workers": workers,
        "oldest_lease": None
        if not oldest
        else {
            "item": oldest[0][0],
            "worker": oldest[0][1],
            "state": oldest[0][2],
            "expires_in": round(float(oldest[0][3]), 1),
        },
        "rate_per_second": round(rate, 3),
        "eta_seconds": 0.0 if left == 0 else (round(left / rate, 1) if rate else None),
    }
