"""The loop of one worker of a shared batch (:mod:`imagebridge._shared_batch`): claim items,
run each (``submit`` + ``wait``, or one ``generate``), save, record every step, renew the
leases, and on a stop give back what it holds.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base_client import limiter_of
from ._batch import BatchItem, BatchOutcome, Status
from ._errors import (
    BadRequestError,
    ContentPolicyError,
    ImageBridgeError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from ._shared_store import Store
from ._tasks import TaskHandle

if TYPE_CHECKING:
    import asyncio

    from ._limits import Limiter
    from ._result import ImageResult

#: An :class:`~imagebridge.AsyncImageClient` or :class:`~imagebridge.AsyncRoutedImageClient`
#: (not imported: they import this module when a batch is shared). A routed client is told
#: apart by its ``clients`` (one per route).
SharedClient = Any


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_stem(item_id: str) -> str:
    """The file name stem of an item's images: its id where that is a safe file name, else
    the id made safe plus a short hash of it (so two ids never share a name)."""
    safe = _UNSAFE.sub("_", item_id)[:80]
    if safe == item_id and not item_id.startswith("."):
        return item_id
    return f"{safe.lstrip('.') or 'item'}-{hashlib.sha256(item_id.encode()).hexdigest()[:8]}"


#: Waits of a task that fail without ending it (a timeout, a lost connection) before the
#: item is ``failed`` (its task recorded).
MAX_RESUMES = 3


class Worker:
    """One worker's loop: claim, run, heartbeat; see the module docstring."""

    def __init__(
        self,
        client: SharedClient,
        items: Sequence[BatchItem],
        output: Path,
        store: Store,
        batch_id: str,
        *,
        worker_id: str | None,
        lease: float,
        grace: float,
        stop: asyncio.Event | None,
        concurrency: int,
        on_outcome: Callable[[BatchOutcome], None] | None,
    ) -> None:
        import asyncio

        self.client = client
        self.items = {item.id: item for item in items}
        self.output = output
        self.store = store
        self.batch_id = batch_id
        self.worker = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.on_outcome = on_outcome
        self.stop = stop or asyncio.Event()
        self.lease = lease
        self.grace = grace
        #: What each running item is doing: claimed, submitting, waiting, saving.
        self.phase: dict[str, str] = {}
        self.mine: dict[str, BatchOutcome] = {}
        self.limiters = _limiters(client)

    async def run(self) -> list[BatchOutcome]:
        import asyncio

        await self.store.register(self.batch_id, self.worker, socket.gethostname(), os.getpid())
        await self._share(await self.store.heartbeat(self.batch_id, self.worker, self.lease))
        beat = asyncio.ensure_future(self._heartbeat())
        running: dict[str, asyncio.Task[None]] = {}
        stopping = asyncio.ensure_future(self.stop.wait())
        poll = min(1.0, self.lease / 3)
        try:
            while not self.stop.is_set():
                for item_id in [i for i, t in running.items() if t.done()]:
                    running.pop(item_id).result()
                claimed: list[tuple[str, str, Any]] = []
                free = self.concurrency - len(running)
                if free > 0:
                    await self.store.expire(self.batch_id)
                    claimed = await self.store.claim(self.batch_id, self.worker, free, self.lease)
                    for item_id, state, task in claimed:
                        self.phase[item_id] = "claimed"
                        running[item_id] = asyncio.ensure_future(self._item(item_id, state, task))
                if not running and not claimed and not await self.store.open_items(self.batch_id):
                    break
                waits: list[asyncio.Future[Any]] = [*running.values(), stopping, beat]
                timeout = None if len(running) >= self.concurrency else poll
                await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
                if beat.done():
                    beat.result()  # the database stayed away longer than the patience
            if self.stop.is_set():
                await self._wind_down(running)
            for task in running.values():
                task.result()
        finally:
            stopping.cancel()
            beat.cancel()
            for task in running.values():
                task.cancel()
            await asyncio.gather(beat, stopping, *running.values(), return_exceptions=True)
            await self._share(1)
        await self.store.stopped(self.batch_id, self.worker)
        return await self._outcomes()

    async def _wind_down(self, running: dict[str, asyncio.Task[None]]) -> None:
        """Stop: cancel what has sent nothing or only waits (each releases its item), let
        submits in flight get their answer for at most ``grace`` seconds."""
        import asyncio

        for item_id, task in running.items():
            if self.phase.get(item_id) in ("claimed", "waiting"):
                task.cancel()
        pending = [t for t in running.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.grace)
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)
        running.clear()

    async def _heartbeat(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(self.lease / 3)
            held = list(self.phase)
            await self._share(
                await self.store.heartbeat(self.batch_id, self.worker, self.lease, held)
            )

    async def _share(self, live: int) -> None:
        for limiter in self.limiters:
            limiter.share(live)

    # -- one item -----------------------------------------------------------------------------

    async def _item(self, item_id: str, state: str, task: Any) -> None:
        import asyncio

        item = self.items[item_id]
        try:
            if state == "accepted":
                handle = TaskHandle.model_validate(task)
                await self._waited(item, handle, resumed=True)
            else:
                await self._fresh(item)
        except asyncio.CancelledError:
            await self._cancelled(item)
            raise
        finally:
            self.phase.pop(item_id, None)

    async def _cancelled(self, item: BatchItem) -> None:
        """Leave the item as another worker can take it on: claimed back to pending,
        accepted released; a submit cancelled in flight is ``unknown``."""
        phase = self.phase.get(item.id)
        move = self.store.move
        if phase == "claimed":  # nothing sent: the move to submitting may have landed
            await move(
                self.batch_id,
                item.id,
                self.worker,
                "pending",
                frm=["claimed", "submitting"],
                release=True,
            )
        elif phase == "waiting":
            await move(
                self.batch_id, item.id, self.worker, "accepted", frm=["accepted"], release=True
            )
        elif phase == "submitting":
            error = {"type": "SubmitOutcomeUnknownError", "message": "stopped while submitting"}
            await move(
                self.batch_id,
                item.id,
                self.worker,
                "unknown",
                frm=["submitting"],
                error=error,
            )

    async def _fresh(self, item: BatchItem) -> None:
        """An item never sent: pre-flight, mark ``submitting``, then send it."""
        import asyncio

        batch, worker, move = self.batch_id, self.worker, self.store.move
        try:
            tasks = _one_task(self.client, item)
        except ImageBridgeError as error:  # invalid, or no route can honour it: nothing sent
            await move(batch, item.id, worker, "failed", frm=["claimed"], error=describe(error))
            self._done(BatchOutcome(item.id, "failed", error=describe(error)))
            return
        if not await move(
            batch, item.id, worker, "submitting", frm=["claimed", "submitting"], lease=self.lease
        ):
            return  # the lease was lost (and the item taken) before anything was sent
        self.phase[item.id] = "submitting"
        fields = dict(item.fields)
        try:
            if not tasks:
                result = await self.client.generate(item.prompt, **fields)
                await self._save(item, result)
                return
            handle = await self.client.submit(item.prompt, **fields)
        except SubmitOutcomeUnknownError as error:
            await self._final(item, "unknown", error, frm=["submitting", "unknown"])
            return
        except ImageBridgeError as error:
            status = "unknown" if error.task_id is not None else "failed"
            await self._final(item, status, error, frm=["submitting", "unknown"])
            return
        # Recorded while the task runs: a database outage must not hold up the provider's
        # work, and the handle stays in memory (this task) until it is written.
        record = asyncio.ensure_future(
            move(
                batch,
                item.id,
                worker,
                "accepted",
                frm=["submitting", "unknown", "accepted"],
                task=handle.to_json(),
                lease=self.lease,
            )
        )
        try:
            if self.stop.is_set():
                await asyncio.shield(record)
                await move(batch, item.id, worker, "accepted", frm=["accepted"], release=True)
                return
            self.phase[item.id] = "waiting"
            await self._waited(item, handle, record=record)
        finally:
            if not record.done():
                await asyncio.shield(record)

    async def _waited(
        self,
        item: BatchItem,
        handle: TaskHandle,
        *,
        resumed: bool = False,
        record: asyncio.Future[bool] | None = None,
    ) -> None:
        """Wait for an accepted task and save its images (a resumed one: no new submit)."""
        self.phase[item.id] = "waiting"
        try:
            result = await self.client.wait(handle)
        except ImageBridgeError as error:
            if record is not None:
                await record
            if isinstance(
                error, TaskFailedError | ContentPolicyError | NotFoundError | BadRequestError
            ) or not await self._resumable(item):
                await self._final(item, "failed", error, frm=["accepted"], task=handle)
                return
            await self.store.move(
                self.batch_id, item.id, self.worker, "accepted", frm=["accepted"], release=True
            )
            return
        if record is not None:
            await record
        await self._save(item, result, resumed=resumed)

    async def _resumable(self, item: BatchItem) -> bool:
        rows = await self.store.run(
            "SELECT attempts FROM imagebridge_batch.batch_items WHERE batch_id = %s"
            " AND item_id = %s",
            (self.batch_id, item.id),
        )
        return bool(rows) and int(rows[0][0]) < MAX_RESUMES

    async def _save(self, item: BatchItem, result: ImageResult, *, resumed: bool = False) -> None:
        self.phase[item.id] = "saving"
        stem = file_stem(item.id)
        paths: list[str] = []
        many = len(result.images) > 1
        for index, image in enumerate(result.images, start=1):
            await image.aread()
            name = f"{stem}-{index}.{image.extension}" if many else f"{stem}.{image.extension}"
            paths.append(str(await image.asave(self.output / name)))
        await self.store.saved(self.batch_id, item.id, self.worker, paths)
        self._done(
            BatchOutcome(
                item.id,
                "saved",
                result.task_id,
                paths,
                [w.message for w in result.warnings],
                resumed=resumed,
                route=result.route,
            )
        )

    async def _final(
        self,
        item: BatchItem,
        status: str,
        error: ImageBridgeError,
        *,
        frm: list[str],
        task: TaskHandle | None = None,
    ) -> None:
        task = task or error.task
        await self.store.move(
            self.batch_id,
            item.id,
            self.worker,
            status,
            frm=frm,
            error=describe(error),
            task=task.to_json() if task is not None else None,
        )
        final: Status = "unknown" if status == "unknown" else "failed"
        self._done(BatchOutcome(item.id, final, error.task_id, error=describe(error)))

    def _done(self, outcome: BatchOutcome) -> None:
        self.mine[outcome.id] = outcome
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    async def _outcomes(self) -> list[BatchOutcome]:
        """Every finished item of the batch: this worker's own, then the others'."""
        outcomes: list[BatchOutcome] = []
        for item_id, state, _worker, task, paths, error in await self.store.items(self.batch_id):
            if item_id in self.mine:
                outcomes.append(self.mine[item_id])
            elif state in ("saved", "failed", "unknown"):
                status: Any = "skipped" if state == "saved" else state
                task_id = task.get("task_id") if isinstance(task, dict) else None
                outcomes.append(
                    BatchOutcome(item_id, status, task_id, list(paths or []), error=error)
                )
        return outcomes


def _one_task(client: SharedClient, item: BatchItem) -> bool:
    """Whether the item goes as ``submit`` + ``wait`` (one task of a provider with tasks)
    rather than one ``generate`` call; pre-flights it (:class:`InvalidRequestError`). On
    routes: as the first route that can honour it would send it (``submit`` goes there)."""
    fields = dict(item.fields)
    client.plan(item.prompt, **fields)
    for one in _route_clients(client):
        try:
            planned = one.plan(item.prompt, **fields)
        except ImageBridgeError:
            continue
        return bool(planned.capabilities.async_tasks and len(planned.batches) == 1)
    return False


def _route_clients(client: SharedClient) -> list[Any]:
    routes = getattr(client, "clients", None)
    return [client] if routes is None else list(routes.values())


def _limiters(client: SharedClient) -> list[Limiter]:
    found = [limiter_of(one) for one in _route_clients(client)]
    return [limiter for limiter in found if limiter is not None]


def describe(error: ImageBridgeError) -> dict[str, Any]:
    """What is recorded of a failure (never a key: errors are scrubbed by the client)."""
    described: dict[str, Any] = {"type": type(error).__name__, "message": error.message}
    if isinstance(error, ProviderError):
        described["code"] = error.code
    if isinstance(error, InvalidRequestError):
        described["field"] = error.field
    if error.task_id is not None:
        described["task_id"] = error.task_id
    return described
