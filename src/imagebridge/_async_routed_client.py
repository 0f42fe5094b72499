"""The asynchronous routed client, :class:`AsyncRoutedImageClient` (its twin is
:class:`~imagebridge._routed_client.RoutedImageClient`, whose base it shares).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ._batch import BatchItem, BatchOutcome, BatchPort, run_batch
from ._deadline import CLIENT_DEFAULT
from ._errors import ImageBridgeError
from ._polling import TaskState
from ._preflight import Operation, Plan
from ._request import ImageSource
from ._result import ImageResult
from ._routed_base import RouteCall, RoutedBase
from ._routes import Route, Trip
from ._stream import AsyncImageStream, Completed, StreamEvent
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._base_client import Timeout
    from ._flow import ProgressCallback
    from ._request import GenerateFields, ImageOptions, VaryFields
    from ._retry import RetryPolicy
    from ._shared_batch import SharedBatch

__all__ = ["AsyncRoutedImageClient"]


class AsyncRoutedImageClient(RoutedBase[Any]):
    """The asynchronous twin of :class:`RoutedImageClient`: the same methods, awaited (see
    :meth:`AsyncImageClient.from_routes <imagebridge.AsyncImageClient.from_routes>`), and
    :meth:`batch`.

    Each result's ``route`` names the route that served it, and its ``warnings`` the
    routes skipped or failed before it; when none could, one
    :class:`~imagebridge.RoutesExhaustedError` lists every route's outcome.
    """

    def __init__(
        self,
        routes: Sequence[Route],
        build: Callable[[Route, dict[str, Any]], Any],
        port: Callable[[Any], BatchPort[Plan]],
        **options: Any,
    ) -> None:
        super().__init__(routes, build, **options)
        #: Each route's batch port (``batch_port()`` of imagebridge._async_client: passed in,
        #: as that module imports this one).
        self._ports = [port(client) for client in self._clients]

    async def _call(self, job: RouteCall) -> Any:
        trip = self._router.trip()
        for index in trip.candidates(job.preflight):
            try:
                value = await job.run(index, self.routes[index].fields(job.fields))
            except ImageBridgeError as error:
                if trip.failed(index, error):
                    continue
                raise
            return trip.served(index, value) if isinstance(value, ImageResult) else value
        raise trip.exhausted()

    async def generate(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageResult:
        """Generate images from a prompt, on the first route that can (see the class)."""
        result: ImageResult = await self._call(
            self._generate_job(prompt, timeout, on_progress, retry, fields)
        )
        return result

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
        """Edit ``images`` by a prompt, on the first route that can."""
        result: ImageResult = await self._call(
            self._edit_job(prompt, images, mask, timeout, on_progress, retry, fields)
        )
        return result

    async def vary(
        self,
        image: ImageSource,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[VaryFields],
    ) -> ImageResult:
        """Variations of ``image``, on the first route whose model makes them."""
        result: ImageResult = await self._call(
            self._vary_job(image, timeout, on_progress, retry, fields)
        )
        return result

    def stream(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> AsyncImageStream:
        """The events of a job as they happen, on the first route that can stream it. The
        request is pre-flighted on every route here, before anything is sent; a route that
        fails before its first event moves the job on as :meth:`generate` does."""
        trip, order = self._trip(prompt, operation, fields, stream=True)
        return AsyncImageStream(
            self._stream_events(trip, order, prompt, operation, timeout, retry, fields)
        )

    async def _stream_events(
        self,
        trip: Trip,
        order: list[int],
        prompt: str,
        operation: Operation,
        timeout: Timeout,
        retry: RetryPolicy | None,
        fields: Mapping[str, Any],
    ) -> AsyncGenerator[StreamEvent, None]:
        for index in order:
            routed = self.routes[index].fields(fields)
            client = self._clients[index]
            try:
                async with client.stream(
                    prompt, operation=operation, timeout=timeout, retry=retry, **routed
                ) as events:
                    async for event in events:
                        if isinstance(event, Completed):
                            event = Completed(trip.served(index, event.result))
                        yield event
                return
            except ImageBridgeError as error:
                if trip.failed(index, error):
                    continue
                raise
        raise trip.exhausted()

    async def submit(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> TaskHandle:
        """Submit an asynchronous task on the first route that has tasks and can honour
        the request; its handle names the route's provider and base URL (see :meth:`wait`)."""
        handle: TaskHandle = await self._call(self._submit_job(prompt, timeout, retry, fields))
        return handle

    async def wait(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
    ) -> ImageResult:
        """Wait for an accepted task, on the route whose provider and base URL accepted it."""
        client = self._route_of(task)
        result: ImageResult = self._served(
            client, await client.wait(task, timeout=timeout, on_progress=on_progress, retry=retry)
        )
        return result

    async def cancel(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> bool:
        """Cancel an accepted task, on the route that accepted it (see
        :meth:`ImageClient.cancel <imagebridge.ImageClient.cancel>`)."""
        cancelled: bool = await self._route_of(task).cancel(task, timeout=timeout, retry=retry)
        return cancelled

    async def check(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> ImageResult | TaskState:
        """Ask once, now, how a task is doing, on the route that accepted it."""
        client = self._route_of(task)
        outcome: ImageResult | TaskState = self._served(
            client, await client.check(task, timeout=timeout, retry=retry)
        )
        return outcome

    async def batch(
        self,
        items: Sequence[BatchItem],
        output: str | os.PathLike[str],
        *,
        concurrency: int = 4,
        report: str | os.PathLike[str] | None = None,
        on_outcome: Callable[[BatchOutcome], None] | None = None,
        journal: str | SharedBatch | None = None,
    ) -> list[BatchOutcome]:
        """Run many requests over the routes, at most ``concurrency`` at a time, saving
        images to ``output``, as :meth:`AsyncImageClient.batch
        <imagebridge.AsyncImageClient.batch>` does.

        Each item goes to the route that can honour it and would make it wait least under
        the routes' rate limits (so the items spread over the routes, each at its limit),
        with the same fallbacks as :meth:`generate`; each outcome names its ``route``. A
        re-run resumes an accepted task on the route that accepted it, never elsewhere.
        ``journal``: a batch shared by many workers, as there.
        """
        if journal is not None:
            from ._shared_batch import shared_run

            return await shared_run(self, items, output, journal, concurrency, report, on_outcome)
        return await run_batch(
            self._batch_port(),
            list(items),
            Path(output),
            concurrency=concurrency,
            report=Path(report) if report is not None else None,
            on_outcome=on_outcome,
        )

    def _batch_port(self) -> BatchPort[_Item]:
        """A batch over the routes: each item pre-flighted on every route now (refused when
        none can honour it), then run as :meth:`generate` routes it, under the item's journal
        label on the route that serves it; a re-run resumes on the route that accepted it."""

        def plan(prompt: str, fields: Mapping[str, Any]) -> _Item:
            self.plan(prompt, **fields)
            return _Item(prompt, fields)

        async def run(item: _Item, label: str) -> ImageResult:
            def on_route(index: int, routed: dict[str, Any]) -> Awaitable[ImageResult]:
                planned = self._clients[index].plan(item.prompt, **routed)
                return self._ports[index].run(planned, label)

            call = RouteCall(
                self._preflight(item.prompt, "generate", item.fields), item.fields, on_route
            )
            result: ImageResult = await self._call(call)
            return result

        return BatchPort(
            plan=plan,
            entries=self._ports[0].entries,  # one journal for all the routes
            run=run,
            resume=self.wait,
            route=lambda task: self._label(self._route_of(task)),
        )

    async def aclose(self) -> None:
        """Close every route's client."""
        try:
            for client in self._clients:
                await client.aclose()
        finally:
            self._close_journal()

    async def __aenter__(self) -> AsyncRoutedImageClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Item(NamedTuple):
    prompt: str
    fields: Mapping[str, Any]
