"""The asynchronous client, :class:`AsyncImageClient` (its twin is :mod:`imagebridge._client`).

:class:`~imagebridge._base_client.ClientBase` holds everything that is not I/O; the two
clients add only an HTTP client and a driver, so they offer the same methods with the same
behaviour.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ._base_client import (
    CLIENT_DOC,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_TIMEOUT,
    ClientBase,
    JournalSetting,
    Timeout,
)
from ._budget import Budget, BudgetSetting, budget_of, priced, release_unsent
from ._clock import Clock
from ._costing import estimate
from ._deadline import CLIENT_DEFAULT
from ._driver import AsyncDriver, Done
from ._driver_base import DEFAULT_MAX_DOWNLOAD, DEFAULT_MAX_RESPONSE
from ._errors import ImageBridgeError
from ._flow import ProgressCallback
from ._journal import JournalEntry
from ._limits import RateLimit
from ._plugins import Registry
from ._polling import PollPolicy, TaskState
from ._preflight import Operation, Plan
from ._prices import PricesSetting
from ._request import ImageSource
from ._result import ImageResult
from ._retry import RetryPolicy
from ._stream import AsyncImageStream, Completed, StreamEvent
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._async_routed_client import AsyncRoutedImageClient
    from ._batch import BatchItem, BatchOutcome, BatchPort
    from ._request import GenerateFields, ImageOptions, VaryFields
    from ._routes import Route, Strategy
    from ._shared_batch import SharedBatch

__all__ = ["AsyncImageClient"]


class AsyncImageClient(ClientBase):
    """The asynchronous twin of :class:`ImageClient`: the same methods, awaited.

    Calls that ``n`` splits into several provider calls run concurrently; cancelling an
    awaited call cancels all of them and leaves no connection open. At most
    ``max_in_flight`` requests are in flight at once (the others wait their turn), so a
    thousand concurrent jobs stay cheap.
    """

    _driver: AsyncDriver

    def __init__(
        self,
        provider: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        request_timeout: float | httpx.Timeout = DEFAULT_REQUEST_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        journal: JournalSetting = True,
        max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE,
        allow_link_local_urls: bool = False,
        rate_limit: RateLimit | None = None,
        budget: BudgetSetting = None,
        prices: PricesSetting = None,
        on_progress: ProgressCallback | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_in_flight: int | None = 100,
        registry: Registry | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            provider,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            request_timeout=request_timeout,
            on_progress=on_progress,
            registry=registry,
            clock=clock,
            poll_policy=poll_policy,
            retry=retry,
            journal=journal,
            max_download_bytes=max_download_bytes,
            max_response_bytes=max_response_bytes,
            allow_link_local_urls=allow_link_local_urls,
            rate_limit=rate_limit,
        )
        self._set_costs(budget, prices)  # a spending limit, and the user's prices
        self._owns_http = http_client is None
        # httpx's default limits on purpose: keeping more connections alive made its pool's
        # per-request bookkeeping 4x slower at 64 in flight (bench/, section 3).
        self._http = http_client or httpx.AsyncClient(transport=transport)
        self._driver = AsyncDriver(self._http, max_in_flight=max_in_flight, **self._driver_options)

    async def generate(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageResult:
        """Generate images from a prompt. ``fields`` are :class:`ImageRequest` fields."""
        return await self._run(self.plan(prompt, **fields), timeout, on_progress, retry)

    async def edit(
        self,
        prompt: str,
        images: Sequence[ImageSource],
        *,
        mask: ImageSource | None = None,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[ImageOptions],
    ) -> ImageResult:
        """Edit ``images`` (paths as :class:`pathlib.Path`, bytes or data URLs) by a prompt."""
        planned = self.plan(prompt, operation="edit", reference_images=images, mask=mask, **fields)
        return await self._run(planned, timeout, on_progress, retry)

    async def vary(
        self,
        image: ImageSource,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[VaryFields],
    ) -> ImageResult:
        """Variations of ``image`` (a path as :class:`pathlib.Path`, or bytes), with no
        prompt, where the model makes them (``Capabilities.variations``)."""
        planned = self.plan("", operation="vary", reference_images=[image], **fields)
        return await self._run(planned, timeout, on_progress, retry)

    def stream(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> AsyncImageStream:
        """The events of a job as they happen, for ``async with`` and ``async for`` (see
        :meth:`ImageClient.stream <imagebridge.ImageClient.stream>`). The request is
        checked here, before anything is sent."""
        planned = self.plan(prompt, operation=operation, stream=True, **fields)
        return AsyncImageStream(self._stream_events(planned, timeout, retry))

    async def _stream_events(
        self, planned: Plan, timeout: Timeout, retry: RetryPolicy | None
    ) -> AsyncGenerator[StreamEvent, None]:
        results: list[ImageResult] = []
        costs = self._costs(planned)
        for index, flow in enumerate(self._flows(planned)):
            offset = sum(len(result.images) for result in results)
            try:
                job = priced(self._job(timeout, retry=retry), costs[index])
                steps = self._driver.steps(flow, job)
                async with contextlib.aclosing(steps):
                    async for step in steps:
                        if isinstance(step, Done):
                            results.append(step.value)
                            break
                        yield self._event(step, planned, offset)
            except ImageBridgeError as error:
                release_unsent(costs[index + 1 :])
                self._keep_partial(error, planned, results)
                raise
        yield Completed(self._finish(results, planned))

    async def submit(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> TaskHandle:
        """Submit an asynchronous task and return its handle at once (see :meth:`wait`)."""
        planned = self._submit_plan(prompt, fields)
        [cost] = self._costs(planned)
        job = priced(self._job(timeout, retry=retry), cost)
        return await self._driver.run(self._submit_flow(planned), job)

    async def wait(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
    ) -> ImageResult:
        """Wait for an accepted task (a handle, or a task id of this provider)."""
        handle = self._task(task)
        job = self._job(timeout, on_progress=on_progress, retry=retry, task=handle)
        result = await self._driver.run(self._task_flow(handle, once=False), job)
        assert isinstance(result, ImageResult)
        return self._finish([result], handle)

    async def cancel(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> bool:
        """Ask the provider to stop an accepted task (models that declare ``cancel``).

        True: the provider took the cancel, and the journal records the task as
        ``cancelled``; False: the task had already ended (a finished task's images can still
        be fetched with :meth:`wait`). A provider that cannot cancel raises
        :class:`~imagebridge.ConfigurationError` before anything is sent."""
        handle = self._task(task)
        job = self._job(timeout, retry=retry, task=handle)
        return await self._driver.run(self._cancel_flow(handle), job)

    async def check(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> ImageResult | TaskState:
        """Ask once, now, how a task is doing: its result if it succeeded, else its state
        (a failed task raises its error)."""
        handle = self._task(task)
        job = self._job(timeout, retry=retry, task=handle)
        outcome = await self._driver.run(self._task_flow(handle, once=True), job)
        return outcome if isinstance(outcome, TaskState) else self._finish([outcome], handle)

    async def _run(
        self,
        planned: Plan,
        timeout: Timeout,
        on_progress: ProgressCallback | None,
        retry: RetryPolicy | None,
        label: str | None = None,
        budget: Budget | None = None,
        ledger_label: str | None = None,
    ) -> ImageResult:
        # The whole request's estimate is reserved before the first call is sent; a call
        # cancelled with its siblings keeps its part (it may have been paid).
        costs = self._costs(planned, budget, label=ledger_label or label)
        runs = [
            self._driver.run(
                flow,
                priced(self._job(timeout, on_progress=on_progress, retry=retry, label=label), cost),
            )
            for flow, cost in zip(self._flows(planned), costs, strict=True)
        ]
        if len(runs) == 1:
            return self._finish([await runs[0]], planned)
        import asyncio  # only split requests need it; keeps `import imagebridge` light

        tasks = [asyncio.ensure_future(run) for run in runs]
        try:
            results = list(await asyncio.gather(*tasks))
        except BaseException as error:
            # Never leave sibling calls running; keep what finished (it is paid for).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if isinstance(error, ImageBridgeError):
                done = [
                    t.result()
                    for t in tasks
                    if t.done() and not t.cancelled() and t.exception() is None
                ]
                self._keep_partial(error, planned, done)
            raise
        return self._finish(results, planned)

    async def batch(
        self,
        items: Sequence[BatchItem],
        output: str | os.PathLike[str],
        *,
        concurrency: int = 4,
        report: str | os.PathLike[str] | None = None,
        on_outcome: Callable[[BatchOutcome], None] | None = None,
        budget: BudgetSetting = None,
        journal: str | SharedBatch | None = None,
    ) -> list[BatchOutcome]:
        """Run many requests, at most ``concurrency`` at a time, saving images to ``output``.

        Re-running the same batch resumes it: saved items are skipped and accepted tasks are
        waited for, never submitted again (see :mod:`imagebridge._batch`). Async only:
        bounded concurrency is what the async client is for. ``budget`` (a
        :class:`~imagebridge.Budget` or US dollars; default the client's): the estimate of
        every item to send is checked against it before any request (a
        :class:`~imagebridge.BudgetExceededError` refuses the whole batch), then each item
        reserves its own as it goes.

        ``journal="postgresql://..."`` (or a :class:`~imagebridge._shared_batch.SharedBatch`)
        runs the batch shared with every other worker given that database, each claiming
        items under leases (see :mod:`imagebridge._shared_batch`); no report or budget then.
        """
        if journal is not None:
            from ._shared_batch import shared_run

            return await shared_run(self, items, output, journal, concurrency, report, on_outcome)
        # Imported here, like routing below: a program that makes single calls loads neither.
        from ._batch import run_batch

        limit = budget_of(budget) or self.budget
        return await run_batch(
            batch_port(self, limit),
            list(items),
            Path(output),
            concurrency=concurrency,
            report=Path(report) if report is not None else None,
            on_outcome=on_outcome,
            budget=limit,
        )

    def _entries(self, label: str) -> list[JournalEntry]:
        return self._recorder.entries(label)

    async def aclose(self) -> None:
        """Close the connections (if the client created its own HTTP client)."""
        if self._owns_http:
            await self._http.aclose()
        self._close_journal()

    async def __aenter__(self) -> AsyncImageClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @classmethod
    def from_routes(
        cls,
        routes: Sequence[Route],
        *,
        strategy: Strategy = "ordered",
        cooldown: float = 30.0,
        rng: random.Random | None = None,
        **options: Any,
    ) -> AsyncRoutedImageClient:
        """A client over ``routes`` (:class:`~imagebridge.Route`), one AsyncImageClient each, built
        with ``options`` (this class's own) and the route's key, base URL and rate limit.

        Each request is pre-flighted on every route; it goes to the first that can honour
        it (``strategy="weighted"``: a random spread by weight, from ``rng``) and moves on
        only after a failure that created no task. A route that failed so is tried last for
        ``cooldown`` seconds. See :class:`~imagebridge.AsyncRoutedImageClient`.
        """
        from ._async_routed_client import AsyncRoutedImageClient

        return AsyncRoutedImageClient(
            routes,
            lambda route, kwargs: cls(route.provider, **kwargs),
            batch_port,
            strategy=strategy,
            cooldown=cooldown,
            rng=rng,
            **options,
        )

    @classmethod
    def from_profile(
        cls,
        name: str,
        *,
        config: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> AsyncRoutedImageClient:
        """A routed client (:meth:`from_routes`) of the profile ``name`` of a config file:
        its routes in order, its strategy and cooldown; ``options`` go to every route's
        client, as with :meth:`from_routes`.

        The file is ``config``, else the one ``IMAGEBRIDGE_CONFIG`` names, else
        ``imagebridge.toml`` in the working directory or its nearest parent that has one,
        else ``imagebridge.toml`` in the user config directory (``~/.config/imagebridge`` on
        Linux). Keys are never in the file: each route names the variable holding its key
        (``api_key_env``). A missing file or profile, or a bad one, is a
        :class:`~imagebridge.ConfigurationError` naming the file and what to change.
        """
        from ._profiles import routed_options

        routes, options = routed_options(name, config, options)
        return cls.from_routes(routes, **options)


def batch_port(client: AsyncImageClient, budget: Budget | None = None) -> BatchPort[Plan]:
    """What a batch needs of ``client`` (see :class:`imagebridge._batch.BatchPort`); its
    items reserve their estimates on ``budget`` (default: the client's)."""

    async def run(planned: Plan, label: str) -> ImageResult:
        # A request of one call is journaled under the item's label the moment its task is
        # accepted, so that a re-run resumes it instead of paying again.
        one_call = len(planned.batches) == 1
        return await client._run(
            planned,
            CLIENT_DEFAULT,
            None,
            None,
            label if one_call else None,
            budget=budget,
            ledger_label=label,
        )

    from ._batch import BatchPort

    return BatchPort(
        plan=lambda prompt, fields: client.plan(prompt, **fields),
        entries=client._entries,
        run=run,
        resume=client.wait,
        estimate=lambda planned: estimate(planned, prices=client.prices),
    )


AsyncImageClient.__doc__ = (AsyncImageClient.__doc__ or "") + CLIENT_DOC
