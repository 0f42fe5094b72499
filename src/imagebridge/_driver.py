"""The two drivers that run sans-I/O adapter flows: one sync, one async.

Everything that is not waiting on I/O lives in :class:`~imagebridge._driver_base._DriverBase`
and is shared; the sync and async drivers differ only in how they send, stream and sleep.
Every reply is read streamed into ``max_response_bytes`` and every download into
``max_download_bytes`` (:mod:`imagebridge._reading`), and every exchange is bounded by the
job's deadline on the wall clock: the sync driver through :mod:`imagebridge._deadline`
(every socket operation gets at most the time left), the async one by cancelling the
exchange at the deadline.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Awaitable, Callable
from typing import IO, Any, TypeVar

import httpx

from . import _deadline
from ._deadline import UNSET
from ._driver_base import (
    DEFAULT_MAX_DOWNLOAD,
    DEFAULT_MAX_RESPONSE,
    ProgressCallback,
    _DriverBase,
    _Job,
)
from ._errors import (
    APIConnectionError,
    ImageBridgeError,
)
from ._flow import Flow, Sleep
from ._reading import Sink, aread_body, read_body
from ._retry import RetryPolicy
from ._tasks import TaskHandle

T = TypeVar("T")

__all__ = [
    "DEFAULT_MAX_DOWNLOAD",
    "DEFAULT_MAX_RESPONSE",
    "AsyncDriver",
    "ProgressCallback",
    "SyncDriver",
]


class SyncDriver(_DriverBase):
    """Runs flows with an :class:`httpx.Client`."""

    def __init__(self, http: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http = http

    def run(
        self,
        flow: Flow[T],
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None = None,
        task: TaskHandle | None = None,
        retry: RetryPolicy | None = None,
        label: str | None = None,
    ) -> T:
        """Run ``flow`` to its result; ``task`` is the already-accepted task it is about,
        ``label`` the journal label of a task it will submit."""
        job = self._job(timeout, on_progress, task, retry)
        job.label = label
        reply: httpx.Response | None = None
        pending: ImageBridgeError | None = None
        try:
            while True:
                try:
                    effect = flow.send(reply) if pending is None else flow.throw(pending)
                except StopIteration as stop:
                    return self._done(stop.value, job)  # type: ignore[no-any-return]
                reply, pending = None, None
                if isinstance(effect, httpx.Request):
                    try:
                        reply = self._send(effect, job)
                    except APIConnectionError as exc:
                        pending = exc
                elif isinstance(effect, Sleep):
                    self._clock.sleep(self._sleep_seconds(effect, job))
                else:
                    self._note(effect, job)
        except ImageBridgeError as error:
            raise self._fail(error, job) from error.__cause__
        finally:
            flow.close()

    def _send(self, request: httpx.Request, job: _Job) -> httpx.Response:
        attempt = 0
        while True:
            self._prepare(request, job)
            token = _deadline.io_deadline.set(self._io_deadline(job))
            try:
                response = self._http.send(request, stream=True)
                try:
                    read_body(response, self._max_response_bytes, self.provider)
                finally:
                    response.close()
            except httpx.HTTPError as exc:
                delay = self._after_failure(request, exc, attempt, job)
            else:
                self._received(request, response)
                retry_in = self._after_response(request, response, attempt, job)
                if retry_in is None:
                    return response
                delay = retry_in
            finally:
                _deadline.io_deadline.reset(token)
                self._forget_auth(request)
            self._clock.sleep(delay)
            attempt += 1

    # -- downloads (GeneratedImage.read/save) -------------------------------------------------
    def fetch(self, url: str, *, timeout: float | None = UNSET) -> bytes:
        buffer = io.BytesIO()
        self.fetch_to(url, buffer, timeout=timeout)
        return buffer.getvalue()

    def fetch_to(self, url: str, file: IO[bytes], *, timeout: float | None = UNSET) -> bytes:
        """Stream a download into ``file`` (redirects followed one hop at a time, retried
        like a poll, size-capped, within its deadline); return its first bytes, for
        sniffing."""
        job = self._download_job(timeout)
        attempt = hops = 0
        request = self._download_request(url, job)
        while True:
            token = _deadline.io_deadline.set(self._io_deadline(job))
            try:
                outcome = self._download_once(request, file, hops, attempt, job)
            except httpx.HTTPError as exc:
                outcome = self._after_failure(request, exc, attempt, job)
            finally:
                _deadline.io_deadline.reset(token)
                self._forget_auth(request)
            if isinstance(outcome, bytes):
                return outcome
            if isinstance(outcome, httpx.Request):
                request, hops = outcome, hops + 1
                continue
            self._clock.sleep(outcome)
            attempt += 1
            request, hops = self._download_request(url, job), 0

    def _download_once(
        self, request: httpx.Request, file: IO[bytes], hops: int, attempt: int, job: _Job
    ) -> bytes | httpx.Request | float:
        """One hop of a download: the image's head once it is in ``file``, the next hop's
        request, or the wait before retrying."""
        response = self._http.send(request, stream=True)
        try:
            if response.is_error:
                read_body(response, self._max_response_bytes, self.provider)
            self._received(request, response)
            following = self._redirect(response, hops, job)
            if following is not None:
                return following
            delay = self._download_retry(request, response, attempt, job)
            if delay is not None:
                return delay
            sink = Sink(file, self._max_download_bytes, self.provider, response)
            try:
                for chunk in response.iter_bytes():
                    sink.feed(chunk)
            except BaseException:
                sink.discard()
                raise
            return sink.head
        finally:
            response.close()


class AsyncDriver(_DriverBase):
    """Runs flows with an :class:`httpx.AsyncClient`.

    At most ``max_in_flight`` requests are handed to the HTTP client at once. httpx's pool
    spends time proportional to the number of waiting requests times connections on every
    request, so a thousand concurrent tasks would otherwise stall the event loop for
    seconds; waiting here, on a semaphore, costs nothing.
    """

    def __init__(
        self, http: httpx.AsyncClient, *, max_in_flight: int | None = 100, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._http = http
        self._max_in_flight = max_in_flight
        self._gate: Any = None

    def _slot(self) -> Any:
        """An async context manager that holds one of the ``max_in_flight`` slots."""
        if self._max_in_flight is None:
            return contextlib.nullcontext()
        if self._gate is None:
            import asyncio  # created on first use, inside the running loop

            self._gate = asyncio.Semaphore(self._max_in_flight)
        return self._gate

    async def run(
        self,
        flow: Flow[T],
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None = None,
        task: TaskHandle | None = None,
        retry: RetryPolicy | None = None,
        label: str | None = None,
    ) -> T:
        """Run ``flow`` to its result; ``task`` is the already-accepted task it is about,
        ``label`` the journal label of a task it will submit."""
        job = self._job(timeout, on_progress, task, retry)
        job.label = label
        reply: httpx.Response | None = None
        pending: ImageBridgeError | None = None
        try:
            while True:
                try:
                    effect = flow.send(reply) if pending is None else flow.throw(pending)
                except StopIteration as stop:
                    return self._done(stop.value, job)  # type: ignore[no-any-return]
                reply, pending = None, None
                if isinstance(effect, httpx.Request):
                    try:
                        reply = await self._send(effect, job)
                    except APIConnectionError as exc:
                        pending = exc
                elif isinstance(effect, Sleep):
                    await self._clock.asleep(self._sleep_seconds(effect, job))
                else:
                    self._note(effect, job)
        except ImageBridgeError as error:
            raise self._fail(error, job) from error.__cause__
        finally:
            flow.close()

    async def _bounded(
        self, job: _Job, request: httpx.Request, exchange: Callable[[], Awaitable[T]]
    ) -> T:
        """Run ``exchange`` (hand ``request`` to the HTTP client, read what comes back) and
        cancel it at the job's deadline, whatever the transport. A cancelled exchange is
        the timeout httpx would have raised: a pool timeout while it waited for a slot
        (nothing was sent), a read timeout once the request was handed over."""
        if job.deadline is None:
            async with self._slot():
                return await exchange()
        import anyio  # httpx's own dependency, already imported by httpx.AsyncClient

        handed = False
        with anyio.move_on_after(job.deadline - self._clock.monotonic()) as scope:
            async with self._slot():
                handed = True
                return await exchange()
        assert scope.cancelled_caught
        if handed:
            raise httpx.ReadTimeout("the job's deadline has passed", request=request)
        raise httpx.PoolTimeout("the job's deadline has passed", request=request)

    async def _send(self, request: httpx.Request, job: _Job) -> httpx.Response:
        async def exchange() -> httpx.Response:
            response = await self._http.send(request, stream=True)
            try:
                await aread_body(response, self._max_response_bytes, self.provider)
            finally:
                await response.aclose()
            return response

        attempt = 0
        while True:
            self._prepare(request, job)
            token = _deadline.io_deadline.set(self._io_deadline(job))
            try:
                response = await self._bounded(job, request, exchange)
            except httpx.HTTPError as exc:
                delay = self._after_failure(request, exc, attempt, job)
            else:
                self._received(request, response)
                retry_in = self._after_response(request, response, attempt, job)
                if retry_in is None:
                    return response
                delay = retry_in
            finally:
                _deadline.io_deadline.reset(token)
                self._forget_auth(request)
            await self._clock.asleep(delay)
            attempt += 1

    async def afetch(self, url: str, *, timeout: float | None = UNSET) -> bytes:
        buffer = io.BytesIO()
        await self.afetch_to(url, buffer, timeout=timeout)
        return buffer.getvalue()

    async def afetch_to(self, url: str, file: IO[bytes], *, timeout: float | None = UNSET) -> bytes:
        """:meth:`SyncDriver.fetch_to`, awaited."""
        job = self._download_job(timeout)
        attempt = hops = 0
        request = self._download_request(url, job)
        while True:
            token = _deadline.io_deadline.set(self._io_deadline(job))
            try:
                exchange = functools.partial(self._download_once, request, file, hops, attempt, job)
                outcome = await self._bounded(job, request, exchange)
            except httpx.HTTPError as exc:
                outcome = self._after_failure(request, exc, attempt, job)
            finally:
                _deadline.io_deadline.reset(token)
                self._forget_auth(request)
            if isinstance(outcome, bytes):
                return outcome
            if isinstance(outcome, httpx.Request):
                request, hops = outcome, hops + 1
                continue
            await self._clock.asleep(outcome)
            attempt += 1
            request, hops = self._download_request(url, job), 0

    async def _download_once(
        self, request: httpx.Request, file: IO[bytes], hops: int, attempt: int, job: _Job
    ) -> bytes | httpx.Request | float:
        """One hop of a download: the image's head once it is in ``file``, the next hop's
        request, or the wait before retrying."""
        response = await self._http.send(request, stream=True)
        try:
            if response.is_error:
                await aread_body(response, self._max_response_bytes, self.provider)
            self._received(request, response)
            following = self._redirect(response, hops, job)
            if following is not None:
                return following
            delay = self._download_retry(request, response, attempt, job)
            if delay is not None:
                return delay
            sink = Sink(file, self._max_download_bytes, self.provider, response)
            try:
                async for chunk in response.aiter_bytes():
                    sink.feed(chunk)
            except BaseException:
                sink.discard()
                raise
            return sink.head
        finally:
            await response.aclose()
