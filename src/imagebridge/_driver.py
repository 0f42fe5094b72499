"""The two drivers that run sans-I/O adapter flows: one sync, one async.

Everything that is not waiting on I/O lives in :class:`_DriverBase` and is shared: which
requests get credentials (only those to the API's own origin), per-request timeouts cut to
the job's overall deadline, turning transport failures into library errors, progress
reports, keeping an accepted task's id on every later error, and scrubbing secrets. The
sync and async subclasses differ only in how they send, stream and sleep.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Sequence
from typing import IO, Any, TypeVar

import httpx

from ._clock import Clock
from ._errors import (
    APIConnectionError,
    ImageBridgeError,
    ImageTimeoutError,
    ProviderError,
    ServerError,
    SubmitOutcomeUnknownError,
)
from ._flow import Accepted, Flow, Progress, Sleep
from ._imageinfo import HEADER_BYTES
from ._journal import State, TaskJournal
from ._redact import Redactor
from ._result import ImageResult
from ._retry import DEFAULT_RETRY, RetryPolicy, is_idempotent
from ._tasks import TaskHandle

T = TypeVar("T")
logger = logging.getLogger("imagebridge")

ProgressCallback = Callable[[Progress], None]
Observer = Callable[[httpx.Request, "httpx.Response | None"], None]

_CHUNK = 64 * 1024
#: The largest result image downloaded by default (a 4K PNG is well under 64 MiB).
DEFAULT_MAX_DOWNLOAD = 256 * 1024 * 1024
#: Time kept for one last request when a wait is cut short by the deadline.
_LAST_ATTEMPT = 1.0


class _Job:
    """The state of one running flow: its deadline and, once accepted, its task."""

    __slots__ = ("deadline", "label", "on_progress", "retry", "task", "timeout")

    def __init__(
        self,
        timeout: float | None,
        now: float,
        on_progress: ProgressCallback | None,
        retry: RetryPolicy,
    ) -> None:
        self.retry = retry
        self.timeout = timeout
        self.deadline = None if timeout is None else now + timeout
        self.task: TaskHandle | None = None
        self.label: str | None = None
        self.on_progress = on_progress


class _DriverBase:
    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        auth_headers: dict[str, str],
        request_timeout: httpx.Timeout,
        clock: Clock,
        redactor: Redactor,
        observer: Observer | None = None,
        on_progress: ProgressCallback | None = None,
        download_auth: bool = False,
        retry: RetryPolicy = DEFAULT_RETRY,
        journal: TaskJournal | None = None,
        max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD,
    ) -> None:
        url = httpx.URL(base_url)
        self.provider = provider
        self._origin = (url.scheme, url.host, url.port)
        self._auth_headers = auth_headers
        self._timeouts: dict[str, float | None] = request_timeout.as_dict()
        self._clock = clock
        self._redactor = redactor
        self._observer = observer
        self._on_progress = on_progress
        self._download_auth = download_auth
        self._retry = retry
        self._journal = journal
        self._max_download_bytes = max_download_bytes

    # -- requests ---------------------------------------------------------------------------
    def _same_origin(self, url: httpx.URL) -> bool:
        return (url.scheme, url.host, url.port) == self._origin

    def _prepare(self, request: httpx.Request, job: _Job | None, *, auth: bool = True) -> None:
        """Add credentials (API origin only) and a timeout that respects the deadline.

        Credentials are taken off again by :meth:`_forget_auth` once the request is sent, so
        no request object that outlives the exchange (kept by an observer plugin or by a
        recording transport) holds them.
        """
        if self._observer is not None:
            self._observer(request, None)
        if auth and self._auth_headers and self._same_origin(request.url):
            request.headers.update(self._auth_headers)
        timeouts = self._timeouts
        if job is not None and job.deadline is not None:
            remaining = job.deadline - self._clock.monotonic()
            if remaining <= 0:
                raise self._timeout(job)
            timeouts = {key: _min(value, remaining) for key, value in timeouts.items()}
        request.extensions["timeout"] = timeouts
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("-> %s %s", request.method, self._redactor.text(str(request.url)))

    def _download_job(self) -> _Job:
        """Downloads happen after the job, outside its deadline; retries still apply."""
        return _Job(None, self._clock.monotonic(), None, self._retry)

    def _download_retry(
        self, request: httpx.Request, response: httpx.Response, attempt: int, job: _Job
    ) -> float | None:
        """None to read the body; a wait to retry; or the download's error raised."""
        if not response.is_error:
            return None
        delay = self._after_response(request, response, attempt, job)
        if delay is None:
            _check_download(response, self.provider)
        return delay

    def _download_request(self, url: str) -> httpx.Request:
        """A GET for a result image: credentials only if the adapter says its links need
        them and only on the API's own origin."""
        try:
            request = httpx.Request("GET", url)
        except httpx.InvalidURL as exc:
            raise ServerError(
                f"the result URL cannot be fetched: {exc}",
                provider=self.provider,
                code="invalid_result_url",
            ) from None
        self._prepare(request, None, auth=self._download_auth)
        return request

    def _forget_auth(self, request: httpx.Request) -> None:
        for name in self._auth_headers:
            request.headers.pop(name, None)

    def _received(self, request: httpx.Request, response: httpx.Response) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "<- %s %s %s",
                response.status_code,
                request.method,
                self._redactor.text(str(request.url)),
            )
        if self._observer is not None:
            self._observer(request, response)

    def _transport_error(
        self, exc: httpx.HTTPError, job: _Job | None, request: httpx.Request | None = None
    ) -> ImageBridgeError:
        sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if job is not None and job.deadline is not None and self._clock.monotonic() >= job.deadline:
            if sent and request is not None and not is_idempotent(request):
                # A submit left and no answer came in time: the task may exist.
                return SubmitOutcomeUnknownError(
                    f"{self.provider} did not answer within the {job.timeout:g} s deadline;"
                    " the request was sent and may have created a task, so it was not sent"
                    " again (that could pay twice)",
                    provider=self.provider,
                )
            return self._timeout(job)
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        detail = self._redactor.text(str(exc)) or type(exc).__name__
        return APIConnectionError(
            f"request to {self.provider} {kind}: {detail}", provider=self.provider, sent=sent
        )

    # -- retries (the rules are in imagebridge._retry) ---------------------------------------------
    def _fits(self, delay: float, job: _Job) -> bool:
        return job.deadline is None or self._clock.monotonic() + delay < job.deadline

    def _after_response(
        self, request: httpx.Request, response: httpx.Response, attempt: int, job: _Job
    ) -> float | None:
        """The wait before resending, or None to hand the response to the flow."""
        if response.status_code < 400:
            return None
        delay = job.retry.delay(attempt, request, response=response)
        if delay is None or not self._fits(delay, job):
            return None
        logger.debug(
            "retrying %s after HTTP %s in %.2f s", request.method, response.status_code, delay
        )
        return delay

    def _after_failure(
        self, request: httpx.Request, exc: httpx.HTTPError, attempt: int, job: _Job
    ) -> float:
        """The wait before resending after no response came; raise when it must not be."""
        error = self._transport_error(exc, job, request)
        if not isinstance(error, APIConnectionError) or isinstance(
            error, SubmitOutcomeUnknownError
        ):
            raise error from exc
        delay = job.retry.delay(attempt, request, error=error)
        if delay is not None and self._fits(delay, job):
            logger.debug(
                "retrying %s after %s in %.2f s", request.method, type(exc).__name__, delay
            )
            return delay
        if error.sent and not is_idempotent(request):
            raise SubmitOutcomeUnknownError(
                f"{error.message}; the request was sent and may have created a task, so it"
                " was not sent again (that could pay twice)",
                provider=self.provider,
            ) from exc
        raise error from exc

    def _timeout(self, job: _Job) -> ImageTimeoutError:
        error = ImageTimeoutError(
            f"{self.provider} did not finish within the {job.timeout:g} s deadline",
            provider=self.provider,
            timeout=job.timeout,
        )
        return error

    # -- effects that need no I/O -----------------------------------------------------------
    def _sleep_seconds(self, effect: Sleep, job: _Job) -> float:
        """How long to sleep: the flow's wish, cut short before the deadline so that one
        last attempt (a final poll) still fits; none left at all is a timeout."""
        seconds = max(0.0, effect.seconds)
        if job.deadline is None:
            return seconds
        remaining = job.deadline - self._clock.monotonic()
        if seconds < remaining:
            return seconds
        if remaining > _LAST_ATTEMPT + 0.1 and seconds > _LAST_ATTEMPT:
            return remaining - _LAST_ATTEMPT
        raise self._timeout(job)

    def _note(self, effect: Progress | Accepted, job: _Job) -> None:
        if isinstance(effect, Accepted):
            job.task = effect.task
            self._journal_record(effect.task, job.label)
            effect = Progress("queued", task_id=effect.task.task_id, provider=self.provider)
        callback = job.on_progress or self._on_progress
        if callback is not None:
            callback(effect)

    def _journal_record(self, task: TaskHandle, label: str | None = None) -> None:
        """Write an accepted task down before anything waits on it. A journal that cannot
        be written is logged, never a reason to abandon a paid task."""
        if self._journal is None:
            return
        try:
            self._journal.record(task, label=label)
        except Exception as exc:
            logger.warning("could not journal task %s: %s", task.task_id, exc)

    def journal_mark(
        self, task: TaskHandle, state: State, *, paths: Sequence[Any] = (), error: str | None = None
    ) -> None:
        if self._journal is None:
            return
        try:
            self._journal.mark(task, state, paths=paths, error=error)
        except Exception as exc:
            logger.warning("could not journal task %s: %s", task.task_id, exc)

    def _done(self, value: Any, job: _Job) -> Any:
        """A flow's result: a task's images are journaled as fetched."""
        if job.task is not None and isinstance(value, ImageResult):
            if job.task not in value.tasks:
                value.tasks.append(job.task)
            self.journal_mark(job.task, "fetched")
        return value

    def _fail(self, error: ImageBridgeError, job: _Job) -> ImageBridgeError:
        """Keep the task on the error and make sure no secret is in it."""
        if job.task is not None:
            error.task = job.task
            if error.task_id is None:
                error.task_id = job.task.task_id
            if isinstance(error, ProviderError) and error.status_code is None:
                # The task itself ended as failed: it is finished, not resumable.
                self.journal_mark(job.task, "failed", error=self._redactor.text(error.message))
        if self._redactor:
            error.message = self._redactor.text(error.message)
            error.args = tuple(
                self._redactor.text(a) if isinstance(a, str) else a for a in error.args
            )
            if isinstance(error, ProviderError):
                error.body = self._redactor.obj(error.body)
        return error

    def _job(
        self,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        task: TaskHandle | None,
        retry: RetryPolicy | None,
    ) -> _Job:
        job = _Job(timeout, self._clock.monotonic(), on_progress, retry or self._retry)
        job.task = task
        return job


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


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
            try:
                response = self._http.send(request)
                response.read()
            except httpx.HTTPError as exc:
                delay = self._after_failure(request, exc, attempt, job)
            else:
                self._received(request, response)
                retry_in = self._after_response(request, response, attempt, job)
                if retry_in is None:
                    return response
                delay = retry_in
            finally:
                self._forget_auth(request)
            self._clock.sleep(delay)
            attempt += 1

    # -- downloads (GeneratedImage.read/save) -------------------------------------------------
    def fetch(self, url: str) -> bytes:
        buffer = io.BytesIO()
        self.fetch_to(url, buffer)
        return buffer.getvalue()

    def fetch_to(self, url: str, file: IO[bytes]) -> bytes:
        """Stream a download into ``file`` (retried like a poll, size-capped); return its
        first bytes, for sniffing."""
        job = self._download_job()
        attempt = 0
        while True:
            request = self._download_request(url)
            sink = _Sink(file, self._max_download_bytes, self.provider)
            try:
                response = self._http.send(request, stream=True, follow_redirects=True)
                try:
                    if response.is_error:
                        response.read()
                    self._received(request, response)
                    delay = self._download_retry(request, response, attempt, job)
                    if delay is None:
                        for chunk in response.iter_bytes(_CHUNK):
                            sink.feed(chunk)
                        return sink.head
                finally:
                    response.close()
            except httpx.HTTPError as exc:
                delay = self._after_failure(request, exc, attempt, job)
            finally:
                self._forget_auth(request)
            sink.discard()
            self._clock.sleep(delay)
            attempt += 1


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

    async def _send(self, request: httpx.Request, job: _Job) -> httpx.Response:
        attempt = 0
        while True:
            self._prepare(request, job)
            try:
                async with self._slot():
                    response = await self._http.send(request)
                    await response.aread()
            except httpx.HTTPError as exc:
                delay = self._after_failure(request, exc, attempt, job)
            else:
                self._received(request, response)
                retry_in = self._after_response(request, response, attempt, job)
                if retry_in is None:
                    return response
                delay = retry_in
            finally:
                self._forget_auth(request)
            await self._clock.asleep(delay)
            attempt += 1

    async def afetch(self, url: str) -> bytes:
        buffer = io.BytesIO()
        await self.afetch_to(url, buffer)
        return buffer.getvalue()

    async def afetch_to(self, url: str, file: IO[bytes]) -> bytes:
        job = self._download_job()
        attempt = 0
        while True:
            request = self._download_request(url)
            sink = _Sink(file, self._max_download_bytes, self.provider)
            try:
                async with self._slot():
                    response = await self._http.send(request, stream=True, follow_redirects=True)
                    try:
                        if response.is_error:
                            await response.aread()
                        self._received(request, response)
                        delay = self._download_retry(request, response, attempt, job)
                        if delay is None:
                            async for chunk in response.aiter_bytes(_CHUNK):
                                sink.feed(chunk)
                            return sink.head
                    finally:
                        await response.aclose()
            except httpx.HTTPError as exc:
                delay = self._after_failure(request, exc, attempt, job)
            finally:
                self._forget_auth(request)
            sink.discard()
            await self._clock.asleep(delay)
            attempt += 1


class _Sink:
    """Where a download goes: written through, counted against the cap, head kept."""

    def __init__(self, file: IO[bytes], limit: int | None, provider: str) -> None:
        self.file = file
        self.limit = limit
        self.provider = provider
        self.start = file.tell() if file.seekable() else 0
        self.size = 0
        self.head = b""

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            raise ServerError(
                f"the image is larger than the {self.limit}-byte download limit"
                " (max_download_bytes)",
                provider=self.provider,
                code="download_too_large",
            )
        if len(self.head) < HEADER_BYTES:
            self.head += chunk[: HEADER_BYTES - len(self.head)]
        self.file.write(chunk)

    def discard(self) -> None:
        """Forget what a failed attempt wrote, before the next one."""
        if self.file.seekable():
            self.file.seek(self.start)
            self.file.truncate()


def _check_download(response: httpx.Response, provider: str) -> None:
    if response.is_error:
        from ._provider_errors import error_from_response

        error = error_from_response(response, provider=provider)
        error.message = f"downloading the image failed: {error.message}"
        error.args = (error.message,)
        raise error
