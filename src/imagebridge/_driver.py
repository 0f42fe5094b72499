"""The two drivers that run sans-I/O adapter flows: one sync, one async.

A driver runs one flow under one :class:`~imagebridge._jobs.Job`: it sends the requests
the flow yields (credentials, retries and the deadline from
:class:`~imagebridge._driver_base.DriverBase`), sleeps, reads the events of a streamed reply
one at a time, and hands progress, acceptance, partial images, the result and any error to
the job. :meth:`SyncDriver.steps` (and its async twin) is that loop, handing each note (a
:class:`~imagebridge.Progress`, an :class:`~imagebridge.Accepted` task, a
:class:`~imagebridge.PartialImage`) to its consumer as it happens: ``stream()`` iterates it,
and :meth:`SyncDriver.run` drains it into the job's progress callback, so ``generate()`` and
``stream()`` are one path. Every reply is read streamed into ``max_response_bytes``
(:mod:`imagebridge._reading`; an event stream as one body, :mod:`imagebridge._sse`), and
every exchange and every event read is bounded by the job's deadline on the wall clock: the
sync driver through :mod:`imagebridge._deadline` (every socket operation gets at most the
time left), the async one by cancelling the read at the deadline; a stream that breaks is
thrown into the flow (:class:`~imagebridge.StreamInterruptedError`, or the deadline's
error), which keeps the images that were complete. Closing a stream early
closes the flow and its open reply (the connection is dropped, not left busy). Downloads of
result images are :mod:`imagebridge._downloads`, which both drivers inherit. Under a client's
``rate_limit`` (:mod:`imagebridge._limits`) a job holds one of its key's slots from its first
request to its end, and every request to the API's origin (each retry too) waits its turn.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import httpx
from httpx_sse import ServerSentEvent

from . import _deadline
from ._downloads import AsyncDownloads, SyncDownloads
from ._errors import APIConnectionError, ImageBridgeError
from ._flow import Flow, NextEvent, Sleep, Stream, is_event_stream
from ._jobs import Job, Note
from ._reading import aread_body, read_body
from ._sse import aiter_events, iter_events

T = TypeVar("T")

__all__ = ["AsyncDriver", "Done", "SyncDriver"]

#: What a flow is sent back: a reply, an event of the open stream, or None.
_Reply = httpx.Response | ServerSentEvent | None


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """The last step of :meth:`AsyncDriver.steps`: the flow's result (an async generator
    cannot return one)."""

    value: T


class SyncDriver(SyncDownloads):
    """Runs flows with an :class:`httpx.Client`."""

    def __init__(self, http: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http = http

    def run(self, flow: Flow[T], job: Job) -> T:
        """Run ``flow`` to its result under ``job``, its notes to the progress callback."""
        steps = self.steps(flow, job)
        while True:
            try:
                note = next(steps)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            self._report(note, job)

    def steps(self, flow: Flow[T], job: Job) -> Generator[Note, None, T]:
        """Run ``flow`` under ``job``, yielding its notes as they happen; return its result."""
        reply: _Reply = None
        pending: ImageBridgeError | None = None
        stream: httpx.Response | None = None
        events: Iterator[ServerSentEvent] | None = None
        held = False
        try:
            job.trace.start(flow, self.provider)
            held = self._hold(job)
            while True:
                try:
                    # An event goes back through the reply channel (see read_event()).
                    sent = cast("httpx.Response | None", reply)
                    effect = flow.send(sent) if pending is None else flow.throw(pending)
                except StopIteration as stop:
                    return job.finished(stop.value)  # type: ignore[no-any-return]
                reply, pending = None, None
                if isinstance(effect, httpx.Request | Stream):
                    keep = isinstance(effect, Stream)
                    request = effect.request if isinstance(effect, Stream) else effect
                    try:
                        reply = self._send(request, job, keep_stream=keep)
                    except APIConnectionError as exc:
                        pending = exc
                    else:
                        if keep and is_event_stream(reply):
                            if stream is not None:
                                stream.close()
                            stream = reply
                            events = iter_events(reply, self._max_response_bytes, self.provider)
                elif isinstance(effect, NextEvent):
                    try:
                        reply = None if events is None else self._next_event(events, job)
                    except ImageBridgeError as exc:
                        pending = exc  # the flow keeps what it has (and may have it all)
                    if reply is None and stream is not None:
                        stream.close()
                        stream, events = None, None
                elif isinstance(effect, Sleep):
                    self._clock.sleep(self._sleep_seconds(effect, job))
                else:
                    yield job.note(effect)
        except ImageBridgeError as error:
            raise job.failed(error) from error.__cause__
        finally:
            job.trace.end()
            if stream is not None:
                stream.close()
            flow.close()
            if held:
                self._release()

    def _hold(self, job: Job) -> bool:
        """Take the job's slot under ``max_concurrent`` (True), waiting within the deadline."""
        if self._limiter is None:
            return False
        if not self._limiter.acquire(self._slot_timeout(job)):
            raise self._no_slot(job)
        return True

    def _throttle(self, request: httpx.Request, job: Job) -> None:
        """Wait for the request's turn under the requests per minute, and for any pause."""
        if not self._limited(request):
            return
        wait = self._rate_wait(job)
        if wait > 0:
            self._clock.sleep(wait)
        wait = self._pause_wait(job)
        if wait > 0:
            self._clock.sleep(wait)

    def _next_event(self, events: Iterator[ServerSentEvent], job: Job) -> ServerSentEvent | None:
        token = _deadline.io_deadline.set(self._io_deadline(job))
        try:
            return next(events, None)
        except httpx.HTTPError as exc:
            raise self._broken(exc, job) from exc
        finally:
            _deadline.io_deadline.reset(token)

    def _send(
        self, request: httpx.Request, job: Job, *, keep_stream: bool = False
    ) -> httpx.Response:
        attempt = 0
        while True:
            self._throttle(request, job)
            self._prepare(request, job)
            span = job.trace.exchange(request, attempt)
            token = _deadline.io_deadline.set(self._io_deadline(job))
            try:
                response = self._http.send(request, stream=True)
                if not (keep_stream and is_event_stream(response)):
                    try:
                        read_body(response, self._max_response_bytes, self.provider)
                    finally:
                        response.close()
            except httpx.HTTPError as exc:
                span.failed(exc)
                delay = self._after_failure(request, exc, attempt, job)
            else:
                span.answered(response)
                self._received(request, response)
                retry_in = self._after_response(request, response, attempt, job)
                if retry_in is None:
                    return response
                delay = retry_in
            finally:
                span.end()
                _deadline.io_deadline.reset(token)
                self._forget_auth(request)
            self._clock.sleep(delay)
            attempt += 1


class AsyncDriver(AsyncDownloads):
    """Runs flows with an :class:`httpx.AsyncClient`.

    At most ``max_in_flight`` requests are handed to the HTTP client at once. httpx's pool
    spends time proportional to the number of waiting requests times connections on every
    request, so a thousand concurrent tasks would otherwise stall the event loop for
    seconds; waiting here, on a semaphore, costs nothing.
    """

    def __init__(self, http: httpx.AsyncClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http = http

    async def run(self, flow: Flow[T], job: Job) -> T:
        """Run ``flow`` to its result under ``job``, its notes to the progress callback."""
        async with contextlib.aclosing(self.steps(flow, job)) as steps:
            async for step in steps:
                if isinstance(step, Done):
                    return step.value
                self._report(step, job)
        raise AssertionError("the steps of a flow end with Done")  # pragma: no cover

    async def steps(self, flow: Flow[T], job: Job) -> AsyncGenerator[Note | Done[T], None]:
        """Run ``flow`` under ``job``, yielding its notes as they happen and last its
        result (:class:`Done`)."""
        reply: _Reply = None
        pending: ImageBridgeError | None = None
        stream: httpx.Response | None = None
        events: AsyncIterator[ServerSentEvent] | None = None
        held = False
        try:
            job.trace.start(flow, self.provider)
            held = await self._hold(job)
            while True:
                try:
                    sent = cast("httpx.Response | None", reply)
                    effect = flow.send(sent) if pending is None else flow.throw(pending)
                except StopIteration as stop:
                    yield Done(job.finished(stop.value))
                    return
                reply, pending = None, None
                if isinstance(effect, httpx.Request | Stream):
                    keep = isinstance(effect, Stream)
                    request = effect.request if isinstance(effect, Stream) else effect
                    try:
                        reply = await self._send(request, job, keep_stream=keep)
                    except APIConnectionError as exc:
                        pending = exc
                    else:
                        if keep and is_event_stream(reply):
                            if stream is not None:
                                await stream.aclose()
                            stream = reply
                            events = aiter_events(reply, self._max_response_bytes, self.provider)
                elif isinstance(effect, NextEvent):
                    try:
                        reply = None if events is None else await self._next_event(events, job)
                    except ImageBridgeError as exc:
                        pending = exc
                    if reply is None and stream is not None:
                        await stream.aclose()
                        stream, events = None, None
                elif isinstance(effect, Sleep):
                    await self._clock.asleep(self._sleep_seconds(effect, job))
                else:
                    yield job.note(effect)
        except ImageBridgeError as error:
            raise job.failed(error) from error.__cause__
        finally:
            job.trace.end()
            if stream is not None:
                await stream.aclose()
            flow.close()
            if held:
                self._release()

    async def _hold(self, job: Job) -> bool:
        """Take the job's slot under ``max_concurrent`` (True), waiting within the deadline."""
        if self._limiter is None:
            return False
        if not await self._limiter.aacquire(self._slot_timeout(job)):
            raise self._no_slot(job)
        return True

    async def _throttle(self, request: httpx.Request, job: Job) -> None:
        """Wait for the request's turn under the requests per minute, and for any pause."""
        if not self._limited(request):
            return
        wait = self._rate_wait(job)
        if wait > 0:
            await self._clock.asleep(wait)
        wait = self._pause_wait(job)
        if wait > 0:
            await self._clock.asleep(wait)

    async def _next_event(
        self, events: AsyncIterator[ServerSentEvent], job: Job
    ) -> ServerSentEvent | None:
        token = _deadline.io_deadline.set(self._io_deadline(job))
        try:
            left = self._left(job)
            if left is not None and left <= 0:
                raise self._timeout(job)
            next_event = events.__anext__
            return await _deadline.bounded(left, contextlib.nullcontext(), None, next_event)
        except StopAsyncIteration:
            return None
        except httpx.HTTPError as exc:
            raise self._broken(exc, job) from exc
        finally:
            _deadline.io_deadline.reset(token)

    async def _send(
        self, request: httpx.Request, job: Job, *, keep_stream: bool = False
    ) -> httpx.Response:
        async def exchange() -> httpx.Response:
            response = await self._http.send(request, stream=True)
            if not (keep_stream and is_event_stream(response)):
                try:
                    await aread_body(response, self._max_response_bytes, self.provider)
                finally:
                    await response.aclose()
            return response

        attempt = 0
        while True:
            await self._throttle(request, job)
            self._prepare(request, job)
            span = job.trace.exchange(request, attempt)
            token = _deadline.io_deadline.set(self._io_deadline(job))
            try:
                response = await _deadline.bounded(self._left(job), self._slot(), request, exchange)
            except httpx.HTTPError as exc:
                span.failed(exc)
                delay = self._after_failure(request, exc, attempt, job)
            else:
                span.answered(response)
                self._received(request, response)
                retry_in = self._after_response(request, response, attempt, job)
                if retry_in is None:
                    return response
                delay = retry_in
            finally:
                span.end()
                _deadline.io_deadline.reset(token)
                self._forget_auth(request)
            await self._clock.asleep(delay)
            attempt += 1
