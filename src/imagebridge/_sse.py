"""Server-sent events from an open reply, parsed by httpx-sse and bounded like any reply.

:class:`httpx_sse.EventSource` reads a response's headers and its text; it is handed a
:class:`_MeteredReply` instead of the response itself, whose text is the response's decoded
bytes (SSE is UTF-8 by definition), each chunk counted against ``max_response_bytes`` and
the job's deadline as it arrives (:mod:`imagebridge._reading`), exactly as a plain reply's
body is. The whole stream is one body: a server that streams forever, or one endless line,
ends in the same "larger than the response limit" error as an endless JSON reply.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator, Iterator
from typing import cast

import httpx
from httpx_sse import EventSource, ServerSentEvent

from ._reading import StreamMeter

__all__ = ["aiter_events", "iter_events"]


class _MeteredReply:
    """The two things :class:`~httpx_sse.EventSource` reads of a response, metered."""

    __slots__ = ("_meter", "_response", "headers")

    def __init__(self, response: httpx.Response, meter: StreamMeter) -> None:
        self._response = response
        self._meter = meter
        self.headers = response.headers

    def iter_text(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        for chunk in self._response.iter_bytes():
            self._meter.count(chunk)
            if text := decoder.decode(chunk):
                yield text
        if text := decoder.decode(b"", final=True):
            yield text

    async def aiter_text(self) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        async for chunk in self._response.aiter_bytes():
            self._meter.count(chunk)
            if text := decoder.decode(chunk):
                yield text
        if text := decoder.decode(b"", final=True):
            yield text


def _source(response: httpx.Response, limit: int | None, provider: str) -> EventSource:
    meter = StreamMeter(response, limit, provider)
    # EventSource takes an httpx.Response and uses only .headers and .iter_text()/.aiter_text().
    return EventSource(cast(httpx.Response, _MeteredReply(response, meter)))


def iter_events(
    response: httpx.Response, limit: int | None, provider: str
) -> Iterator[ServerSentEvent]:
    """The events of an open event-stream ``response`` (sent with ``stream=True``).

    A block with no data (``event: ping``, ``retry: 10``, an ``id:`` alone) is no event:
    the SSE standard does not dispatch one, and httpx-sse does, with empty data."""
    return (event for event in _source(response, limit, provider).iter_sse() if event.data)


def aiter_events(
    response: httpx.Response, limit: int | None, provider: str
) -> AsyncIterator[ServerSentEvent]:
    return (event async for event in _source(response, limit, provider).aiter_sse() if event.data)
