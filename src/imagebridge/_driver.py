"""The two drivers that run sans-I/O adapter flows: one sync, one async.

A driver runs one flow under one :class:`~imagebridge._jobs.Job`: it sends the requests
the flow yields (credentials, retries and the deadline from
:class:`~imagebridge._driver_base.DriverBase`), sleeps, and hands progress, acceptance, the
result and any error to the job. Every reply is read streamed into ``max_response_bytes``
(:mod:`imagebridge._reading`), and every exchange is bounded by the job's deadline on the
wall clock: the sync driver through :mod:`imagebridge._deadline` (every socket operation
gets at most the time left), the async one by cancelling the exchange at the deadline.
Downloads of result images are :mod:`imagebridge._downloads`, which both drivers inherit.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx

from . import _deadline
from ._downloads import AsyncDownloads, SyncDownloads
from ._errors import APIConnectionError, ImageBridgeError
from ._flow import Flow, Sleep
from ._jobs import Job
from ._reading import aread_body, read_body

T = TypeVar("T")

__all__ = ["AsyncDriver", "SyncDriver"]


class SyncDriver(SyncDownloads):
    """Runs flows with an :class:`httpx.Client`."""

    def __init__(self, http: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http = http

    def run(self, flow: Flow[T], job: Job) -> T:
        """Run ``flow`` to its result under ``job``."""
        reply: httpx.Response | None = None
        pending: ImageBridgeError | None = None
        try:
            while True:
                try:
                    effect = flow.send(reply) if pending is None else flow.throw(pending)
                except StopIteration as stop:
                    return job.finished(stop.value)  # type: ignore[no-any-return]
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
            raise job.failed(error) from error.__cause__
        finally:
            flow.close()

    def _send(self, request: httpx.Request, job: Job) -> httpx.Response:
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
        """Run ``flow`` to its result under ``job``."""
        reply: httpx.Response | None = None
        pending: ImageBridgeError | None = None
        try:
            while True:
                try:
                    effect = flow.send(reply) if pending is None else flow.throw(pending)
                except StopIteration as stop:
                    return job.finished(stop.value)  # type: ignore[no-any-return]
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
            raise job.failed(error) from error.__cause__
        finally:
            flow.close()

    async def _send(self, request: httpx.Request, job: Job) -> httpx.Response:
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
                response = await _deadline.bounded(self._left(job), self._slot(), request, exchange)
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
