"""The effects a sans-I/O adapter flow yields, and the flow type itself.

An adapter never touches a socket. Its ``generate``/``edit``/``submit``/``wait`` methods are
generators (like httpx's auth flows) that yield effects and receive their outcome:

* an :class:`httpx.Request`: the driver sends it and sends back the :class:`httpx.Response`
  (body read), or throws :class:`~imagebridge.APIConnectionError` into the flow when no
  response came, so a flow can retry an idempotent poll and keep its task id;
* :class:`Sleep`: wait (on the client's clock; the overall deadline is enforced by the driver);
* :class:`Progress`: report progress to the caller's callback;
* :class:`Accepted`: the provider accepted a task; from here on every error carries its id;
* :class:`Stream`: send a request whose answer may be server-sent events. The driver sends
  back the :class:`httpx.Response`: an event stream (:func:`is_event_stream`) is left open,
  anything else (an error, a server that ignored the stream) is read as usual;
* :data:`NEXT_EVENT` (through :func:`read_event`): the next event of the open stream, or
  None once it ended;
* :class:`PartialImage`: a partial image arrived, for the caller of ``stream()``.

The flow's return value is its result. One sync and one async driver run every flow, so the
two clients behave the same by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar, Union

import httpx
from httpx_sse import ServerSentEvent

from ._tasks import TaskHandle

if TYPE_CHECKING:
    from ._image import GeneratedImage

T = TypeVar("T")

Stage = Literal["submitting", "queued", "running", "downloading", "done"]


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds before the flow continues."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider accepted a task: it exists and is paid for (journaled before a stream
    hands this event on)."""

    type: ClassVar[Literal["accepted"]] = "accepted"
    task: TaskHandle


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress report: the stage, the provider's own status and a percentage when known."""

    type: ClassVar[Literal["progress"]] = "progress"
    stage: Stage
    status: str | None = None
    percent: float | None = None
    task_id: str | None = None
    provider: str | None = None

    def __str__(self) -> str:
        text: str = self.stage
        if self.status and self.status != self.stage:
            text += f" ({self.status})"
        if self.percent is not None:
            text += f" {self.percent:.0f}%"
        return text


@dataclass(frozen=True, slots=True)
class Stream:
    """Send ``request`` and keep its answer open when it is an event stream."""

    request: httpx.Request


class NextEvent:
    """Read the next server-sent event of the open stream (yield :data:`NEXT_EVENT`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEXT_EVENT"


NEXT_EVENT = NextEvent()


@dataclass(frozen=True, slots=True)
class PartialImage:
    """A partial image of a streamed call: ``index`` is the provider's partial-image index
    (0 up, each more complete than the last), ``image_index`` the place in the result of the
    image it previews. ``image`` reads and saves like any result image."""

    type: ClassVar[Literal["partial_image"]] = "partial_image"
    index: int
    image: GeneratedImage
    image_index: int = 0


Effect = Union[httpx.Request, Sleep, Progress, Accepted, Stream, NextEvent, PartialImage]  # noqa: UP007
Flow = Generator[Effect, "httpx.Response | None", T]


def read_event() -> Generator[Effect, object, ServerSentEvent | None]:
    """The next event of the stream a :class:`Stream` effect opened (None: it ended), in a
    flow: ``event = yield from read_event()``. The driver sends the event through the
    flow's reply channel, whose declared type is that of ordinary replies."""
    event = yield NEXT_EVENT
    assert event is None or isinstance(event, ServerSentEvent)
    return event


#: The media type of server-sent events.
EVENT_STREAM = "text/event-stream"


def announces_events(headers: httpx.Headers) -> bool:
    """Whether ``headers`` announce server-sent events, whatever the status (the kit records
    an error sent as events as it came)."""
    media_type: str = headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == EVENT_STREAM


def is_event_stream(response: httpx.Response) -> bool:
    """Whether ``response`` is a successful ``text/event-stream`` answer (left open)."""
    return response.status_code < 300 and announces_events(response.headers)


#: What ``on_progress=`` takes: called with every :class:`Progress` report.
ProgressCallback = Callable[[Progress], None]
