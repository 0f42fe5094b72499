"""The synchronous routed client, :class:`RoutedImageClient` (its async twin is
:class:`~imagebridge._async_routed_client.AsyncRoutedImageClient`; what they share is
:class:`~imagebridge._routed_base.RoutedBase`). Made by ``ImageClient.from_routes()``.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._deadline import CLIENT_DEFAULT
from ._errors import ImageBridgeError
from ._polling import TaskState
from ._preflight import Operation
from ._request import ImageSource
from ._result import ImageResult
from ._routed_base import RouteCall, RoutedBase
from ._routes import Trip
from ._stream import Completed, ImageStream, StreamEvent
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._base_client import Timeout
    from ._flow import ProgressCallback
    from ._request import GenerateFields, ImageOptions, VaryFields
    from ._retry import RetryPolicy

__all__ = ["RoutedImageClient"]


class RoutedImageClient(RoutedBase[Any]):
    """Generate and edit images over several routes, synchronously (see
    :meth:`ImageClient.from_routes <imagebridge.ImageClient.from_routes>`).

    Each result's ``route`` names the route that served it, and its ``warnings`` the
    routes skipped or failed before it; when none could, one
    :class:`~imagebridge.RoutesExhaustedError` lists every route's outcome.
    """

    def _call(self, job: RouteCall) -> Any:
        trip = self._router.trip()
        for index in trip.candidates(job.preflight):
            try:
                value = job.run(index, self.routes[index].fields(job.fields))
            except ImageBridgeError as error:
                if trip.failed(index, error):
                    continue
                raise
            return trip.served(index, value) if isinstance(value, ImageResult) else value
        raise trip.exhausted()

    def generate(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageResult:
        """Generate images from a prompt, on the first route that can (see the class)."""
        result: ImageResult = self._call(
            self._generate_job(prompt, timeout, on_progress, retry, fields)
        )
        return result

    def edit(
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
        result: ImageResult = self._call(
            self._edit_job(prompt, images, mask, timeout, on_progress, retry, fields)
        )
        return result

    def vary(
        self,
        image: ImageSource,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[VaryFields],
    ) -> ImageResult:
        """Variations of ``image``, on the first route whose model makes them."""
        result: ImageResult = self._call(self._vary_job(image, timeout, on_progress, retry, fields))
        return result

    def stream(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageStream:
        """The events of a job as they happen, on the first route that can stream it. The
        request is pre-flighted on every route here, before anything is sent; a route that
        fails before its first event moves the job on as :meth:`generate` does."""
        trip, order = self._trip(prompt, operation, fields, stream=True)
        return ImageStream(
            self._stream_events(trip, order, prompt, operation, timeout, retry, fields)
        )

    def _stream_events(
        self,
        trip: Trip,
        order: list[int],
        prompt: str,
        operation: Operation,
        timeout: Timeout,
        retry: RetryPolicy | None,
        fields: Mapping[str, Any],
    ) -> Generator[StreamEvent, None, None]:
        for index in order:
            routed = self.routes[index].fields(fields)
            client = self._clients[index]
            try:
                with client.stream(
                    prompt, operation=operation, timeout=timeout, retry=retry, **routed
                ) as events:
                    for event in events:
                        if isinstance(event, Completed):
                            event = Completed(trip.served(index, event.result))
                        yield event
                return
            except ImageBridgeError as error:
                if trip.failed(index, error):
                    continue
                raise
        raise trip.exhausted()

    def submit(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> TaskHandle:
        """Submit an asynchronous task on the first route that has tasks and can honour
        the request; its handle names the route's provider and base URL (see :meth:`wait`)."""
        handle: TaskHandle = self._call(self._submit_job(prompt, timeout, retry, fields))
        return handle

    def wait(
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
            client, client.wait(task, timeout=timeout, on_progress=on_progress, retry=retry)
        )
        return result

    def cancel(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> bool:
        """Cancel an accepted task, on the route that accepted it (see
        :meth:`ImageClient.cancel <imagebridge.ImageClient.cancel>`)."""
        cancelled: bool = self._route_of(task).cancel(task, timeout=timeout, retry=retry)
        return cancelled

    def check(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> ImageResult | TaskState:
        """Ask once, now, how a task is doing, on the route that accepted it."""
        client = self._route_of(task)
        outcome: ImageResult | TaskState = self._served(
            client, client.check(task, timeout=timeout, retry=retry)
        )
        return outcome

    def close(self) -> None:
        """Close every route's client."""
        try:
            for client in self._clients:
                client.close()
        finally:
            self._close_journal()

    def __enter__(self) -> RoutedImageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
