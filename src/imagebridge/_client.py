"""The two clients: :class:`ImageClient` and :class:`AsyncImageClient`.

:class:`~imagebridge._base_client.ClientBase` holds everything that is not I/O; the two
clients add only an HTTP client and a driver, so they offer the same methods with the same
behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ._base_client import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_TIMEOUT,
    ClientBase,
    JournalSetting,
)
from ._batch import BatchItem, BatchOutcome, run_batch
from ._clock import Clock
from ._deadline import CLIENT_DEFAULT, ClientDefault
from ._deadline import install as install_deadline
from ._driver import AsyncDriver, SyncDriver
from ._driver_base import DEFAULT_MAX_DOWNLOAD, DEFAULT_MAX_RESPONSE
from ._errors import ImageBridgeError
from ._flow import ProgressCallback
from ._journal import JournalEntry
from ._plugins import Registry
from ._polling import PollPolicy, TaskState
from ._preflight import Plan
from ._request import ImageSource
from ._result import ImageResult
from ._retry import RetryPolicy
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._request import GenerateFields, ImageOptions

__all__ = ["AsyncImageClient", "ImageClient"]

Timeout = float | ClientDefault | None


_COMMON_DOC = """
    ``timeout`` is the overall deadline of one job in seconds, a wall-clock bound on all of
    it (submit, polling, every byte read), and of each download of a URL result
    (``save()``/``read()``, which take ``timeout=`` too); ``request_timeout`` bounds one
    HTTP request; both can be overridden per call (``timeout=``). ``retry`` decides which
    failed requests are re-sent (never a submit whose outcome is unknown). Accepted tasks
    are written to ``journal`` (default: the user's journal, see
    :mod:`imagebridge._journal`; ``False`` turns it off). Replies are read streamed and
    capped at ``max_response_bytes``; each result image, downloaded or inline (base64,
    ``data:`` URLs), at ``max_download_bytes``. Result URLs (and their redirects) to
    link-local or cloud-metadata addresses are refused unless ``allow_link_local_urls``.
    ``transport`` replaces the network (e.g.
    for tests); ``clock`` replaces time (for tests of polling); ``registry`` replaces the
    installed plugins.
"""


class ImageClient(ClientBase):
    """Generate and edit images through one provider, synchronously.

    Use it as a context manager, or call :meth:`close`, to release its connections.
    """

    _driver: SyncDriver

    def __init__(
        self,
        provider: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        request_timeout: float | httpx.Timeout = DEFAULT_REQUEST_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        journal: JournalSetting = True,
        max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE,
        allow_link_local_urls: bool = False,
        on_progress: ProgressCallback | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        registry: Registry | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            provider,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            request_timeout=request_timeout,
            on_progress=on_progress,
            registry=registry,
            clock=clock,
            poll_policy=poll_policy,
            retry=retry,
            journal=journal,
            max_download_bytes=max_download_bytes,
            max_response_bytes=max_response_bytes,
            allow_link_local_urls=allow_link_local_urls,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(transport=transport)
        # The job's deadline bounds every socket operation of httpx's own transports.
        install_deadline(self._http)
        self._driver = SyncDriver(self._http, **self._driver_options)

    def generate(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageResult:
        """Generate images from a prompt. ``fields`` are :class:`ImageRequest` fields."""
        return self._run(self.plan(prompt, **fields), timeout, on_progress, retry)

    def edit(
        self,
        prompt: str,
        images: Sequence[ImageSource],
        *,
        mask: ImageSource | None = None,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[ImageOptions],
    ) -> ImageResult:
        """Edit ``images`` (paths as :class:`pathlib.Path`, bytes or data URLs) by a prompt."""
        planned = self.plan(prompt, operation="edit", reference_images=images, mask=mask, **fields)
        return self._run(planned, timeout, on_progress, retry)

    def submit(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> TaskHandle:
        """Submit an asynchronous task and return its handle at once (see :meth:`wait`)."""
        planned = self._submit_plan(prompt, fields)
        return self._driver.run(self._adapter.submit(planned), self._job(timeout, retry=retry))

    def wait(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
    ) -> ImageResult:
        """Wait for an accepted task (a handle, or a task id of this provider)."""
        handle = self._task(task)
        job = self._job(timeout, on_progress=on_progress, retry=retry, task=handle)
        result = self._driver.run(self._task_flow(handle, once=False), job)
        assert isinstance(result, ImageResult)
        return self._finish([result], handle)

    def check(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> ImageResult | TaskState:
        """Ask once, now, how a task is doing: its result if it succeeded, else its state
        (a failed task raises its error)."""
        handle = self._task(task)
        job = self._job(timeout, retry=retry, task=handle)
        outcome = self._driver.run(self._task_flow(handle, once=True), job)
        return outcome if isinstance(outcome, TaskState) else self._finish([outcome], handle)

    def _run(
        self,
        planned: Plan,
        timeout: Timeout,
        on_progress: ProgressCallback | None,
        retry: RetryPolicy | None,
    ) -> ImageResult:
        results: list[ImageResult] = []
        for flow in self._flows(planned):
            job = self._job(timeout, on_progress=on_progress, retry=retry)
            try:
                results.append(self._driver.run(flow, job))
            except ImageBridgeError as error:
                self._keep_partial(error, planned, results)
                raise
        return self._finish(results, planned)

    def close(self) -> None:
        """Close the connections (if the client created its own HTTP client)."""
        if self._owns_http:
            self._http.close()
        self._close_journal()

    def __enter__(self) -> ImageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncImageClient(ClientBase):
    """The asynchronous twin of :class:`ImageClient`: the same methods, awaited.

    Calls that ``n`` splits into several provider calls run concurrently; cancelling an
    awaited call cancels all of them and leaves no connection open. At most
    ``max_in_flight`` requests are in flight at once (the others wait their turn), so a
    thousand concurrent jobs stay cheap.
    """

    _driver: AsyncDriver

    def __init__(
        self,
        provider: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        request_timeout: float | httpx.Timeout = DEFAULT_REQUEST_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        journal: JournalSetting = True,
        max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE,
        allow_link_local_urls: bool = False,
        on_progress: ProgressCallback | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_in_flight: int | None = 100,
        registry: Registry | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            provider,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            request_timeout=request_timeout,
            on_progress=on_progress,
            registry=registry,
            clock=clock,
            poll_policy=poll_policy,
            retry=retry,
            journal=journal,
            max_download_bytes=max_download_bytes,
            max_response_bytes=max_response_bytes,
            allow_link_local_urls=allow_link_local_urls,
        )
        self._owns_http = http_client is None
        # httpx's default limits on purpose: keeping more connections alive made its pool's
        # per-request bookkeeping 4x slower at 64 in flight (bench/, section 3).
        self._http = http_client or httpx.AsyncClient(transport=transport)
        self._driver = AsyncDriver(self._http, max_in_flight=max_in_flight, **self._driver_options)

    async def generate(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageResult:
        """Generate images from a prompt. ``fields`` are :class:`ImageRequest` fields."""
        return await self._run(self.plan(prompt, **fields), timeout, on_progress, retry)

    async def edit(
        self,
        prompt: str,
        images: Sequence[ImageSource],
        *,
        mask: ImageSource | None = None,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[ImageOptions],
    ) -> ImageResult:
        """Edit ``images`` (paths as :class:`pathlib.Path`, bytes or data URLs) by a prompt."""
        planned = self.plan(prompt, operation="edit", reference_images=images, mask=mask, **fields)
        return await self._run(planned, timeout, on_progress, retry)

    async def submit(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> TaskHandle:
        """Submit an asynchronous task and return its handle at once (see :meth:`wait`)."""
        planned = self._submit_plan(prompt, fields)
        job = self._job(timeout, retry=retry)
        return await self._driver.run(self._adapter.submit(planned), job)

    async def wait(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
    ) -> ImageResult:
        """Wait for an accepted task (a handle, or a task id of this provider)."""
        handle = self._task(task)
        job = self._job(timeout, on_progress=on_progress, retry=retry, task=handle)
        result = await self._driver.run(self._task_flow(handle, once=False), job)
        assert isinstance(result, ImageResult)
        return self._finish([result], handle)

    async def check(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> ImageResult | TaskState:
        """Ask once, now, how a task is doing: its result if it succeeded, else its state
        (a failed task raises its error)."""
        handle = self._task(task)
        job = self._job(timeout, retry=retry, task=handle)
        outcome = await self._driver.run(self._task_flow(handle, once=True), job)
        return outcome if isinstance(outcome, TaskState) else self._finish([outcome], handle)

    async def _run(
        self,
        planned: Plan,
        timeout: Timeout,
        on_progress: ProgressCallback | None,
        retry: RetryPolicy | None,
        label: str | None = None,
    ) -> ImageResult:
        runs = [
            self._driver.run(
                flow, self._job(timeout, on_progress=on_progress, retry=retry, label=label)
            )
            for flow in self._flows(planned)
        ]
        if len(runs) == 1:
            return self._finish([await runs[0]], planned)
        import asyncio  # only split requests need it; keeps `import imagebridge` light

        tasks = [asyncio.ensure_future(run) for run in runs]
        try:
            results = list(await asyncio.gather(*tasks))
        except BaseException as error:
            # Never leave sibling calls running; keep what finished (it is paid for).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if isinstance(error, ImageBridgeError):
                done = [
                    t.result()
                    for t in tasks
                    if t.done() and not t.cancelled() and t.exception() is None
                ]
                self._keep_partial(error, planned, done)
            raise
        return self._finish(results, planned)

    async def batch(
        self,
        items: Sequence[BatchItem],
        output: str | os.PathLike[str],
        *,
        concurrency: int = 4,
        report: str | os.PathLike[str] | None = None,
        on_outcome: Callable[[BatchOutcome], None] | None = None,
    ) -> list[BatchOutcome]:
        """Run many requests, at most ``concurrency`` at a time, saving images to ``output``.

        Re-running the same batch resumes it: saved items are skipped and accepted tasks are
        waited for, never submitted again (see :mod:`imagebridge._batch`). Async only:
        bounded concurrency is what the async client is for.
        """
        return await run_batch(
            _BatchPort(self),
            list(items),
            Path(output),
            concurrency=concurrency,
            report=Path(report) if report is not None else None,
            on_outcome=on_outcome,
        )

    def _entries(self, label: str) -> list[JournalEntry]:
        return self._recorder.entries(label)

    async def aclose(self) -> None:
        """Close the connections (if the client created its own HTTP client)."""
        if self._owns_http:
            await self._http.aclose()
        self._close_journal()

    async def __aenter__(self) -> AsyncImageClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _BatchPort:
    """What a batch needs of its client (:class:`imagebridge._batch.BatchTarget`)."""

    def __init__(self, client: AsyncImageClient) -> None:
        self._client = client

    def plan(self, prompt: str, fields: Mapping[str, Any]) -> Plan:
        return self._client.plan(prompt, **fields)

    def entries(self, label: str) -> list[JournalEntry]:
        return self._client._entries(label)

    async def run(self, planned: Plan, label: str) -> ImageResult:
        # A request of one call is journaled under the item's label the moment its task is
        # accepted, so that a re-run resumes it instead of paying again.
        one_call = len(planned.batches) == 1
        return await self._client._run(
            planned, CLIENT_DEFAULT, None, None, label if one_call else None
        )

    async def resume(self, task: TaskHandle) -> ImageResult:
        return await self._client.wait(task)


ImageClient.__doc__ = (ImageClient.__doc__ or "") + _COMMON_DOC
AsyncImageClient.__doc__ = (AsyncImageClient.__doc__ or "") + _COMMON_DOC
