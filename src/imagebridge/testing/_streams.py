"""Event streams in cassettes: a ``text/event-stream`` answer recorded as the client reads it,
and replayed as a real event stream, one chunk per event.

Recording keeps the client side as it is: :class:`RecordingStream` is the body the client
reads, passing each chunk on as it arrives and keeping it with the time since the headers
(and whether the connection broke). :meth:`StreamCapture.events` parses the kept chunks with
httpx-sse, the parser the library's driver uses, so a cassette holds exactly the events the
client saw, each with the time of the chunk that completed it. :class:`ReplayStream` serves
recorded events, each as its own chunk (with the recorded delays when asked), then the
transport error of a stream that broke.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx
from httpx_sse import EventSource, ServerSentEvent

from .._flow import EVENT_STREAM
from ._bodies import EventData, JsonBody, RecordedEvent, TextBody

__all__ = [
    "BROKEN_STREAM",
    "EVENT_STREAM",
    "RecordingStream",
    "ReplayStream",
    "StreamCapture",
    "encode_event",
    "event_data",
]

#: The message of the transport error a replayed broken stream ends with.
BROKEN_STREAM = "the recorded event stream broke off here (replayed from a cassette)"


@dataclass
class StreamCapture:
    """What a streamed answer sent, as the client read it: each chunk with the seconds since
    the headers came, and whether the connection broke after the last one."""

    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    broken: bool = False

    def events(self) -> list[tuple[float, ServerSentEvent]]:
        """The events of the chunks, each with the time of the chunk that completed it (an
        event cut off by a broken connection is not one, as for the client)."""
        now = [0.0]

        def chunks() -> Iterator[bytes]:
            for at, chunk in self.chunks:
                now[0] = at
                yield chunk

        response = httpx.Response(200, headers={"content-type": EVENT_STREAM}, content=chunks())
        return [(now[0], event) for event in EventSource(response).iter_sse()]


class RecordingStream(httpx.SyncByteStream):
    """The body handed to the client: ``response``'s decoded chunks, passed on as they
    arrive and kept in ``capture``; a transport error is kept as a break, then raised."""

    def __init__(
        self,
        response: httpx.Response,
        capture: StreamCapture,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.response = response
        self.capture = capture
        self.clock = clock
        self.started = clock()

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.response.iter_bytes():
                self.capture.chunks.append((self.clock() - self.started, chunk))
                yield chunk
        except httpx.HTTPError:
            self.capture.broken = True
            raise

    def close(self) -> None:
        self.response.close()


def event_data(text: str) -> EventData:
    """An event's data as a body: JSON when it parses, else text."""
    try:
        return JsonBody(value=json.loads(text))
    except ValueError:
        return TextBody(text=text)


def encode_event(event: RecordedEvent, data: str) -> bytes:
    """One event in the ``text/event-stream`` syntax, ``data`` being its (filled-in) text."""
    lines = [] if event.event == "message" else [f"event: {event.event}"]
    if event.id is not None:
        lines.append(f"id: {event.id}")
    if event.retry is not None:
        lines.append(f"retry: {event.retry}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


class ReplayStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Recorded events as a streamed body, one chunk each, for both clients. With
    ``delays``, each chunk waits until its recorded time since the response began; a broken
    stream ends with :class:`httpx.RemoteProtocolError`, as a connection closed mid-body."""

    def __init__(
        self, chunks: list[tuple[float | None, bytes]], *, broken: bool, delays: bool
    ) -> None:
        self.chunks = chunks
        self.broken = broken
        self.delays = delays
        self.started = time.monotonic()

    def _wait(self, at: float | None) -> float:
        if not self.delays or at is None:
            return 0.0
        return max(0.0, self.started + at - time.monotonic())

    def __iter__(self) -> Iterator[bytes]:
        for at, chunk in self.chunks:
            wait = self._wait(at)
            if wait:
                time.sleep(wait)
            yield chunk
        if self.broken:
            raise httpx.RemoteProtocolError(BROKEN_STREAM)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for at, chunk in self.chunks:
            wait = self._wait(at)
            if wait:
                await asyncio.sleep(wait)
            yield chunk
        if self.broken:
            raise httpx.RemoteProtocolError(BROKEN_STREAM)
