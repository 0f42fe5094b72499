"""The asynchronous routed client, :class:`AsyncRoutedImageClient` (its twin is
:class:`~imagebridge._routed_client.RoutedImageClient`, whose base it shares).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._deadline import CLIENT_DEFAULT
from ._errors import ImageBridgeError
from ._polling import TaskState
from ._preflight import Operation, Plan
from ._request import ImageSource
from ._result import ImageResult
from ._routed_client import RoutedBase
from ._routes import Trip
from ._stream import AsyncImageStream, Completed, StreamEvent
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._base_client import Timeout
    from ._flow import ProgressCallback
    from ._request import GenerateFields, ImageOptions, VaryFields
    from ._retry import RetryPolicy

__all__ = ["AsyncRoutedImageClient"]


class AsyncRoutedImageClient(RoutedBase[Any]):
    """The asynchronous twin of :class:`RoutedImageClient`: the same methods, awaited (see
    :meth:`AsyncImageClient.from_routes <imagebridge.AsyncImageClient.from_routes>`).

    Each result's ``route`` names the route that served it, and its ``warnings`` the
    routes skipped or failed before it; when none could, one
    :class:`~imagebridge.RoutesExhaustedError` lists every route's outcome.
    """

    async def _call(
        self,
        preflight: Callable[[int], Plan],
        fields: Mapping[str, Any],
        run: Callable[[Any, dict[str, Any]], Awaitable[Any]],
    ) -> Any:
        trip = self._router.trip()
        for index in trip.candidates(preflight):
            try:
                value = await run(self._clients[index], self.routes[index].fields(fields))
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
            self._preflight(prompt, "generate", fields),
            fields,
            lambda client, routed: client.generate(
                prompt, timeout=timeout, on_progress=on_progress, retry=retry, **routed
            ),
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
        planned = {**fields, "reference_images": images, "mask": mask}
        result: ImageResult = await self._call(
            self._preflight(prompt, "edit", planned),
            fields,
            lambda client, routed: client.edit(
                prompt,
                images,
                mask=mask,
                timeout=timeout,
                on_progress=on_progress,
                retry=retry,
                **routed,
            ),
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
            self._preflight("", "vary", {**fields, "reference_images": [image]}),
            fields,
            lambda client, routed: client.vary(
                image, timeout=timeout, on_progress=on_progress, retry=retry, **routed
            ),
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
        trip = self._router.trip()
        order = trip.candidates(self._preflight(prompt, operation, fields, stream=True))
        if not order:
            raise trip.exhausted()
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
        handle: TaskHandle = await self._call(
            self._submit_preflight(prompt, fields),
            fields,
            lambda client, routed: client.submit(prompt, timeout=timeout, retry=retry, **routed),
        )
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
        result: ImageResult = await client.wait(
            task, timeout=timeout, on_progress=on_progress, retry=retry
        )
        result.route = self._label(client)
        return result

    async def check(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> ImageResult | TaskState:
        """Ask once, now, how a task is doing, on the route that accepted it."""
        client = self._route_of(task)
        outcome: ImageResult | TaskState = await client.check(task, timeout=timeout, retry=retry)
        if isinstance(outcome, ImageResult):
            outcome.route = self._label(client)
        return outcome

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
