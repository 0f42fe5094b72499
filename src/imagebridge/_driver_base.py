"""What the sync and async drivers share: everything that does not wait on I/O.

Which requests get credentials (only those to the API's own origin), the job's deadline
(per-request timeouts cut to it, waits cut short before it, the wall-clock bound handed to
:mod:`imagebridge._deadline`), turning transport failures into library errors, retries,
progress reports, keeping an accepted task's id on every later error, journaling and
scrubbing secrets. :mod:`imagebridge._driver` adds the sending, streaming and sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx

from ._clock import Clock
from ._deadline import _Default
from ._errors import (
    APIConnectionError,
    ContentPolicyError,
    ImageBridgeError,
    ImageTimeoutError,
    InsufficientBalanceError,
    ServerError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from ._flow import Accepted, Progress, Sleep
from ._journal import State, TaskJournal
from ._reading import too_large
from ._redact import Redactor
from ._result import ImageResult
from ._retry import DEFAULT_RETRY, RetryPolicy, is_idempotent
from ._tasks import TaskHandle
from ._urls import check_result_url

T = TypeVar("T")
logger = logging.getLogger("imagebridge")

ProgressCallback = Callable[[Progress], None]
Observer = Callable[[httpx.Request, "httpx.Response | None"], None]

#: The largest result image downloaded (or decoded from base64) by default: a 4K PNG is
#: well under 64 MiB.
DEFAULT_MAX_DOWNLOAD = 256 * 1024 * 1024
#: The largest API reply read by default: room for ten 4K PNGs as base64 in one JSON body.
DEFAULT_MAX_RESPONSE = 256 * 1024 * 1024
#: Redirects followed by one result download (httpx's own default is 20).
_MAX_REDIRECTS = 10
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
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE,
        download_timeout: float | None = None,
        allow_link_local_urls: bool = False,
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
        self._max_response_bytes = max_response_bytes
        self._download_timeout = download_timeout
        self._allow_link_local = allow_link_local_urls

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

    def _io_deadline(self, job: _Job | None) -> float | None:
        """The job's deadline on the wall clock, for :mod:`imagebridge._deadline`."""
        if job is None or job.deadline is None:
            return None
        return time.monotonic() + (job.deadline - self._clock.monotonic())

    def _download_job(self, timeout: float | _Default | None) -> _Job:
        """A download is a job of its own, with its own deadline (the client's ``timeout``
        unless the caller gives one); retries apply as to a poll."""
        seconds = self._download_timeout if isinstance(timeout, _Default) else timeout
        return _Job(seconds, self._clock.monotonic(), None, self._retry)

    def _download_retry(
        self, request: httpx.Request, response: httpx.Response, attempt: int, job: _Job
    ) -> float | None:
        """None to read the body; a wait to retry; or the download's error raised."""
        if not response.is_error:
            return None
        delay = self._after_response(request, response, attempt, job)
        if delay is None:
            _check_download(response, self.provider, self._redactor)
        return delay

    def _download_request(self, url: str | httpx.URL, job: _Job) -> httpx.Request:
        """A GET for a result image (or a hop of its redirects): a fresh request each time,
        so credentials go only where :meth:`_prepare` allows (the adapter says its links
        need them, and only on the API's own origin) and never follow a redirect. Every
        hop's URL is checked first (:func:`~imagebridge._urls.check_result_url`; the API's
        own origin is what the user chose, so it is never refused as link-local)."""
        try:
            request = httpx.Request("GET", url)
        except httpx.InvalidURL as exc:
            raise ServerError(
                f"the result URL cannot be fetched: {exc}",
                provider=self.provider,
                code="invalid_result_url",
            ) from None
        allow = self._allow_link_local or self._same_origin(request.url)
        check_result_url(request.url, provider=self.provider, allow_link_local=allow)
        self._prepare(request, job, auth=self._download_auth)
        return request

    def _redirect(self, response: httpx.Response, hops: int, job: _Job) -> httpx.Request | None:
        """The next hop of a download that answered with a redirect, or None."""
        target = response.next_request
        if target is None:
            return None
        if hops >= _MAX_REDIRECTS:
            raise ServerError(
                f"the result URL redirected more than {_MAX_REDIRECTS} times",
                provider=self.provider,
                code="too_many_redirects",
            )
        return self._download_request(target.url, job)

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
            logger.warning("could not journal task %s: %s", self._redactor.text(task.task_id), exc)

    def journal_mark(
        self, task: TaskHandle, state: State, *, paths: Sequence[Any] = (), error: str | None = None
    ) -> None:
        if self._journal is None:
            return
        try:
            self._journal.mark(task, state, paths=paths, error=error)
        except Exception as exc:
            logger.warning("could not journal task %s: %s", self._redactor.text(task.task_id), exc)

    def _done(self, value: Any, job: _Job) -> Any:
        """A flow's result: inline images within ``max_download_bytes`` like downloaded
        ones, and a task's images journaled as fetched."""
        if isinstance(value, ImageResult):
            self.check_inline(value)
            if job.task is not None:
                if job.task not in value.tasks:
                    value.tasks.append(job.task)
                self.journal_mark(job.task, "fetched")
        return value

    def check_inline(self, result: ImageResult, task: TaskHandle | None = None) -> None:
        """Count each inline image (base64, ``data:`` URLs, bytes) against
        ``max_download_bytes`` as a download would be, without decoding it; an error names
        ``task``, which stays resumable."""
        limit = self._max_download_bytes
        if limit is None:
            return
        for index, image in enumerate(result.images):
            # Base64 is 4 characters for 3 bytes: the decoded size, without decoding.
            size = len(image._data) if image._data is not None else len(image._b64 or "") * 3 // 4
            if size > limit:
                error = too_large(self.provider, f"inline image {index}", limit, "download")
                if task is not None:
                    error.task, error.task_id = task, task.task_id
                raise error.scrub(self._redactor)

    def _fail(self, error: ImageBridgeError, job: _Job) -> ImageBridgeError:
        """Keep the task on the error and make sure no secret is in it."""
        if job.task is not None:
            error.task = job.task
            if error.task_id is None:
                error.task_id = job.task.task_id
            if _task_ended(error):
                # The task itself ended as failed: it is finished, not resumable. Errors the
                # library raises about a reply (too large, a bad URL) leave it resumable.
                self.journal_mark(job.task, "failed", error=self._redactor.text(error.message))
        return error.scrub(self._redactor)

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


def _check_download(response: httpx.Response, provider: str, redactor: Redactor) -> None:
    if response.is_error:
        from ._provider_errors import error_from_response

        error = error_from_response(response, provider=provider, redactor=redactor)
        error.message = f"downloading the image failed: {error.message}"
        error.args = (error.message,)
        raise error


def _task_ended(error: ImageBridgeError) -> bool:
    """Whether ``error`` is the task's own failure (as :func:`error_from_task` makes it):
    no HTTP status, and one of the classes a failed task ends with."""
    failed = TaskFailedError | ContentPolicyError | InsufficientBalanceError
    return isinstance(error, failed) and error.status_code is None
