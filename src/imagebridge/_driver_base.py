"""What the sync and async drivers share: everything that does not wait on I/O.

Which requests get credentials (only those to the API's own origin), the job's deadline
(per-request timeouts cut to it, waits cut short before it, the wall-clock bound handed to
:mod:`imagebridge._deadline`), turning transport failures into library errors, retries and
progress reports, and the client-side rate limits of :mod:`imagebridge._limits` (each
request to the API's origin waits for its turn, each job for its slot, within the deadline;
a 429 with ``Retry-After`` pauses the limiter's key for every client of it). What a job
does with its task (journal, errors) is :mod:`imagebridge._jobs`'s; downloads are
:mod:`imagebridge._downloads`; the sending, streaming and sleeping are
:mod:`imagebridge._driver`'s.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from ._clock import Clock
from ._errors import (
    APIConnectionError,
    ImageBridgeError,
    ImageTimeoutError,
    StreamInterruptedError,
    SubmitOutcomeUnknownError,
)
from ._flow import Accepted, PartialImage, Progress, Sleep
from ._jobs import Job, Limits, Note
from ._limits import Limiter
from ._provider_errors import parse_retry_after
from ._redact import Redactor
from ._retry import RetryPolicy, is_idempotent
from ._urls import key_may_go

logger = logging.getLogger("imagebridge")

Observer = Callable[[httpx.Request, "httpx.Response | None"], None]

#: The largest result image downloaded (or decoded from base64) by default: a 4K PNG is
#: well under 64 MiB.
DEFAULT_MAX_DOWNLOAD = 256 * 1024 * 1024
#: The largest API reply read by default: room for ten 4K PNGs as base64 in one JSON body.
DEFAULT_MAX_RESPONSE = 256 * 1024 * 1024
#: Time kept for one last request when a wait is cut short by the deadline.
_LAST_ATTEMPT = 1.0


class DriverBase:
    def __init__(
        self,
        *,
        provider: str,
        redactor: Redactor,
        retry: RetryPolicy,
        base_url: str,
        auth_headers: dict[str, str],
        request_timeout: httpx.Timeout,
        clock: Clock,
        observer: Observer | None = None,
        download_auth: bool = False,
        max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE,
        download_timeout: float | None = None,
        allow_link_local_urls: bool = False,
        max_in_flight: int | None = None,
        limiter: Limiter | None = None,
        key_hosts: frozenset[str] = frozenset(),
    ) -> None:
        url = httpx.URL(base_url)
        self._base = url
        self._key_hosts = key_hosts
        self.provider = provider
        self._retry = retry
        self._origin = (url.scheme, url.host, url.port)
        self._auth_headers = auth_headers
        self._timeouts: dict[str, float | None] = request_timeout.as_dict()
        self._clock = clock
        self._redactor = redactor
        self._observer = observer
        self._download_auth = download_auth
        self._max_download_bytes = max_download_bytes
        self._max_response_bytes = max_response_bytes
        self._download_timeout = download_timeout
        self._allow_link_local = allow_link_local_urls
        self._max_in_flight = max_in_flight
        self._gate: Any = None
        self._limiter = limiter

    def _slot(self) -> AbstractAsyncContextManager[Any]:
        """An async context manager that holds one of the ``max_in_flight`` slots (the async
        driver: sends and downloads share them)."""
        if self._max_in_flight is None:
            return contextlib.nullcontext()
        if self._gate is None:
            import asyncio  # created on first use, inside the running loop

            self._gate = asyncio.Semaphore(self._max_in_flight)
        gate: AbstractAsyncContextManager[Any] = self._gate
        return gate

    # -- client-side rate limits (imagebridge._limits) ----------------------------------------
    def _limited(self, request: httpx.Request) -> bool:
        """Whether ``request`` counts against the requests per minute: one to the API's
        origin (a download from another host does not)."""
        return self._limiter is not None and self._same_origin(request.url)

    def _rate_wait(self, job: Limits) -> float:
        """Reserve the next request's turn: the seconds to wait for it (0: go now). A wait
        that would not end before the deadline raises its timeout, and nothing is sent."""
        assert self._limiter is not None
        wait = self._limiter.reserve(self._clock.monotonic(), self._left(job))
        if wait is None:
            raise self._limit_timeout(job, f"the next request's turn under {self._limit_text()}")
        return wait

    def _pause_wait(self, job: Limits) -> float:
        """What is left of a pause another request's 429 set while this one waited its turn
        (raises when it outlasts the deadline)."""
        assert self._limiter is not None
        wait = self._limiter.paused_for(self._clock.monotonic())
        left = self._left(job)
        if wait > 0 and left is not None and wait >= left:
            raise self._limit_timeout(job, "the pause a 429 with Retry-After asked for")
        return wait

    def _slot_timeout(self, job: Limits) -> float | None:
        """How long a job may wait for its slot (on the wall clock: a thread or a task is
        woken by the job that ends); None: no deadline."""
        left = self._left(job)
        if left is not None and left <= 0:
            raise self._timeout(job)
        return left

    def _release(self) -> None:
        """Give back the job's slot (taken when the job started)."""
        assert self._limiter is not None
        self._limiter.release()

    def _no_slot(self, job: Limits) -> ImageTimeoutError:
        return self._limit_timeout(job, f"a free job slot under {self._limit_text()}")

    def _limit_text(self) -> str:
        assert self._limiter is not None
        return f"rate_limit {self._limiter.limit.describe()}"

    def _limit_timeout(self, job: Limits, what: str) -> ImageTimeoutError:
        return ImageTimeoutError(
            f"{self.provider}: waiting for {what} would not end within the {job.timeout:g} s"
            " deadline, so the request was not sent",
            provider=self.provider,
            timeout=job.timeout,
        )

    def _note_refusal(self, request: httpx.Request, response: httpx.Response, job: Limits) -> None:
        """A 429 with ``Retry-After`` from the API's origin (not a download host) pauses the
        key for every client of it (capped at the retry policy's ``max_retry_after``: a longer
        one is not waited for either)."""
        if response.status_code != 429 or not self._limited(request):
            return
        assert self._limiter is not None
        seconds = parse_retry_after(response.headers)
        if seconds is not None and seconds > 0:
            seconds = min(seconds, job.retry.max_retry_after)
            self._limiter.pause(self._clock.monotonic() + seconds)

    # -- requests ---------------------------------------------------------------------------
    def _same_origin(self, url: httpx.URL) -> bool:
        return (url.scheme, url.host, url.port) == self._origin

    def _prepare(self, request: httpx.Request, job: Limits | None, *, auth: bool = True) -> None:
        """Add credentials (the API's origin only, or a host the adapter's ``key_hosts``
        names: :func:`~imagebridge._urls.key_may_go`) and a timeout that respects the deadline.

        Credentials are taken off again by :meth:`_forget_auth` once the request is sent, so
        no request object that outlives the exchange (kept by an observer plugin or by a
        recording transport) holds them.
        """
        if self._observer is not None:
            self._observer(request, None)
        if auth and self._auth_headers and key_may_go(request.url, self._base, self._key_hosts):
            request.headers.update(self._auth_headers)
        timeouts = self._timeouts
        if job is not None and job.deadline is not None:
            remaining = job.deadline - self._clock.monotonic()
            if remaining <= 0:
                raise self._timeout(job)
            timeouts = {key: _min(value, remaining) for key, value in timeouts.items()}
        cap_hold(request, timeouts.get("read"))
        request.extensions["timeout"] = timeouts
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("-> %s %s", request.method, self._redactor.text(str(request.url)))

    def _left(self, job: Limits) -> float | None:
        """The seconds left before the job's deadline, or None without one."""
        return None if job.deadline is None else job.deadline - self._clock.monotonic()

    def _io_deadline(self, job: Limits | None) -> float | None:
        """The job's deadline on the wall clock, for :mod:`imagebridge._deadline`."""
        if job is None or job.deadline is None:
            return None
        return time.monotonic() + (job.deadline - self._clock.monotonic())

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
        self, exc: httpx.HTTPError, job: Limits | None, request: httpx.Request | None = None
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
    def _fits(self, delay: float, job: Limits) -> bool:
        return job.deadline is None or self._clock.monotonic() + delay < job.deadline

    def _after_response(
        self, request: httpx.Request, response: httpx.Response, attempt: int, job: Limits
    ) -> float | None:
        """The wait before resending, or None to hand the response to the flow."""
        if response.status_code < 400:
            return None
        self._note_refusal(request, response, job)
        delay = job.retry.delay(attempt, request, response=response)
        if delay is None or not self._fits(delay, job):
            return None
        logger.debug(
            "retrying %s after HTTP %s in %.2f s", request.method, response.status_code, delay
        )
        return delay

    def _after_failure(
        self, request: httpx.Request, exc: httpx.HTTPError, attempt: int, job: Limits
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

    def _timeout(self, job: Limits) -> ImageTimeoutError:
        error = ImageTimeoutError(
            f"{self.provider} did not finish within the {job.timeout:g} s deadline",
            provider=self.provider,
            timeout=job.timeout,
        )
        return error

    # -- effects that need no I/O -----------------------------------------------------------
    def _sleep_seconds(self, effect: Sleep, job: Limits) -> float:
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

    def _report(self, note: Note, job: Job) -> None:
        """A note of a flow run without a consumer (``generate()``): progress goes to the
        job's callback, acceptance as a ``queued`` report; partial images are only
        delivered by ``stream()`` (pre-flight refuses ``partial_images`` elsewhere)."""
        callback = job.on_progress
        if callback is None or isinstance(note, PartialImage):
            return
        if isinstance(note, Accepted):
            note = Progress("queued", task_id=note.task.task_id, provider=self.provider)
        callback(note)

    def _broken(self, exc: httpx.HTTPError, job: Limits) -> ImageBridgeError:
        """The error for an event stream that broke off: the deadline's, or a
        :class:`~imagebridge.StreamInterruptedError` (never re-sent: the provider was
        making the image)."""
        if job.deadline is not None and self._clock.monotonic() >= job.deadline:
            return self._timeout(job)
        detail = self._redactor.text(str(exc)) or type(exc).__name__
        return StreamInterruptedError(
            f"the event stream from {self.provider} broke off ({detail}); the image was being"
            " made and was not requested again (that could pay twice)",
            provider=self.provider,
        )


#: What a server's hold leaves of a request's bound, for the answer to arrive in (seconds).
HOLD_MARGIN = 2.0
#: RFC 7240's ``wait`` preference in a ``Prefer`` header (bare ``wait``: Replicate's 60 s).
_PREFER_WAIT = re.compile(r"(?i)(?<![\w-])wait(?:\s*=\s*(\d+))?(?![\w-])")
_BARE_WAIT = 60


def cap_hold(request: httpx.Request, bound: float | None) -> None:
    """A request that asks the server to hold it (``Prefer: wait=N``, e.g. Replicate's
    create) never asks for longer than it may take: N is cut to its read bound (the time
    left before the deadline, or the read timeout) minus :data:`HOLD_MARGIN`, and the
    preference is dropped when under a second would be left. Otherwise the server would
    hold the request past its bound: a prediction made (and paid for) whose answer, and
    with it its id, would never arrive."""
    prefer = request.headers.get("prefer")
    if prefer is None or bound is None:
        return
    found = _PREFER_WAIT.search(prefer)
    if found is None:
        return
    allowed = int(bound - HOLD_MARGIN)
    if int(found[1] or _BARE_WAIT) <= allowed:
        return
    head, tail = prefer[: found.start()], prefer[found.end() :]
    if allowed >= 1:
        request.headers["prefer"] = f"{head}wait={allowed}{tail}"
        return
    rest = f"{head.rstrip(' ,;')}, {tail.lstrip(' ,;')}".strip(" ,;")
    if rest:
        request.headers["prefer"] = rest
    else:
        del request.headers["prefer"]


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)
