"""What ``stream()`` returns: one job's events as they happen, sync and async.

A stream is the same flow ``generate()`` runs (:meth:`SyncDriver.steps
<imagebridge._driver.SyncDriver.steps>`), with a consumer: every note the flow makes reaches
the caller as an event, in order, and the last event is :class:`Completed` with the result
``generate()`` would have returned (usage, warnings, tasks). The events:

* :class:`~imagebridge.Accepted`: the provider accepted a task (already journaled);
* :class:`~imagebridge.Progress`: a stage, the provider's status and a percent when known
  (task dialects report one per poll);
* :class:`~imagebridge.PartialImage`: a partial image (``partial_images=N``, where the model
  streams them), readable and savable like any result image;
* :class:`Completed`: the final :class:`~imagebridge.ImageResult`.

Each event has a ``type`` (``accepted``, ``progress``, ``partial_image``, ``completed``).
Leaving the ``with`` block (or calling ``close()``) before the end stops the job at once: no
further request is sent, the open reply is closed, and an accepted task stays in the journal
to be resumed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import ClassVar, Literal

from ._flow import Accepted, PartialImage, Progress
from ._result import ImageResult

__all__ = ["AsyncImageStream", "Completed", "ImageStream", "StreamEvent"]


@dataclass(frozen=True, slots=True)
class Completed:
    """The job is done: its result, as ``generate()`` returns it."""

    type: ClassVar[Literal["completed"]] = "completed"
    result: ImageResult


#: One event of a stream.
StreamEvent = Accepted | Progress | PartialImage | Completed


class ImageStream:
    """The events of one job (see :meth:`ImageClient.stream <imagebridge.ImageClient.stream>`).

    Iterate it inside ``with``; :attr:`result` is the final result once
    :class:`Completed` has arrived.
    """

    def __init__(self, events: Generator[StreamEvent, None, None]) -> None:
        self._events = events
        #: The final result, once the :class:`Completed` event has been iterated.
        self.result: ImageResult | None = None

    def __iter__(self) -> ImageStream:
        return self

    def __next__(self) -> StreamEvent:
        event = next(self._events)
        if isinstance(event, Completed):
            self.result = event.result
        return event

    def close(self) -> None:
        """Stop the job now (nothing more is sent; an accepted task stays journaled)."""
        self._events.close()

    def __enter__(self) -> ImageStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncImageStream:
    """The events of one job (see :meth:`AsyncImageClient.stream
    <imagebridge.AsyncImageClient.stream>`), for ``async with`` and ``async for``."""

    def __init__(self, events: AsyncGenerator[StreamEvent, None]) -> None:
        self._events = events
        #: The final result, once the :class:`Completed` event has been iterated.
        self.result: ImageResult | None = None

    def __aiter__(self) -> AsyncImageStream:
        return self

    async def __anext__(self) -> StreamEvent:
        event = await self._events.__anext__()
        if isinstance(event, Completed):
            self.result = event.result
        return event

    async def aclose(self) -> None:
        """Stop the job now (nothing more is sent; an accepted task stays journaled)."""
        await self._events.aclose()

    async def __aenter__(self) -> AsyncImageStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
