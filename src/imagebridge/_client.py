"""The two clients: :class:`ImageClient` and :class:`AsyncImageClient`.

:class:`_ClientBase` holds everything that is not I/O: finding the adapter, the key and the
base URL, building and pre-flighting the canonical request, and merging the results of a
request split into several calls. The two clients add only an HTTP client and a driver,
so they offer the same methods with the same behaviour.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import httpx

from ._adapter import Adapter
from ._clock import SYSTEM_CLOCK, Clock
from ._driver import AsyncDriver, ProgressCallback, SyncDriver
from ._errors import ConfigurationError, ImageBridgeError, InvalidRequestError, Problem
from ._flow import Flow
from ._plugins import Registry, default_registry
from ._polling import PollPolicy
from ._preflight import Operation, Plan, plan
from ._redact import Redactor
from ._request import build_request
from ._result import ImageResult, Usage
from ._tasks import TaskHandle

__all__ = ["AsyncImageClient", "ImageClient"]

#: Default overall deadline of one job (submit, polling and download), in seconds.
DEFAULT_TIMEOUT = 600.0
#: Default timeout of one HTTP request, in seconds.
DEFAULT_REQUEST_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class _Default:
    """The "use the client's setting" default of per-call ``timeout=``."""

    def __repr__(self) -> str:
        return "<the client's timeout>"


_UNSET: Any = _Default()


class _ClientBase:
    _driver: SyncDriver | AsyncDriver

    def __init__(
        self,
        provider: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        request_timeout: float | httpx.Timeout = DEFAULT_REQUEST_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        registry: Registry | None = None,
        clock: Clock | None = None,
        poll_policy: PollPolicy | None = None,
    ) -> None:
        self._registry = registry or default_registry()
        adapter_cls = self._registry.adapter(provider)
        prefix = adapter_cls.env_prefix()
        base_url = base_url or os.environ.get(f"{prefix}_BASE_URL") or adapter_cls.default_base_url
        if not base_url:
            raise ConfigurationError(
                f"no base URL for {provider}: pass base_url= or set {prefix}_BASE_URL"
            )
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base URL {base_url!r} for {provider} must start with http:// or https://"
            )
        api_key = api_key or os.environ.get(f"{prefix}_API_KEY") or None
        if api_key is None and adapter_cls.requires_api_key:
            raise ConfigurationError(
                f"no API key for {provider}: pass api_key= or set {prefix}_API_KEY"
            )
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._adapter: Adapter = adapter_cls(self.base_url)
        if poll_policy is not None:
            self._adapter.poll_policy = poll_policy
        self._redactor = Redactor([api_key])
        if isinstance(request_timeout, int | float):
            request_timeout = httpx.Timeout(request_timeout)
        self._driver_options: dict[str, Any] = {
            "provider": provider,
            "base_url": self.base_url,
            "auth_headers": self._adapter.auth_headers(api_key) if api_key else {},
            "request_timeout": request_timeout,
            "clock": clock or SYSTEM_CLOCK,
            "redactor": self._redactor,
            "observer": self._registry.observer(provider),
            "on_progress": on_progress,
            "download_auth": adapter_cls.download_auth,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider!r} base_url={self.base_url!r}>"

    @property
    def adapter(self) -> Adapter:
        return self._adapter

    # -- preparing a job (no I/O) -------------------------------------------------------------
    def _plan(self, operation: Operation, prompt: str, fields: dict[str, Any]) -> Plan:
        request = build_request(prompt, fields, self.provider)
        model = request.model or self._adapter.default_model
        caps = self._registry.capabilities(self._adapter, model)
        problems = self._registry.problems(self.provider, model, operation, request, caps)
        return plan(
            provider=self.provider,
            operation=operation,
            request=request,
            model=model,
            capabilities=caps,
            options_model=self._adapter.options_model,
            extra_problems=problems,
        )

    def _flows(self, job: Plan) -> list[Flow[ImageResult]]:
        method = self._adapter.edit if job.operation == "edit" else self._adapter.generate
        return [method(job.for_batch(n)) for n in job.batches]

    def _submit_flow(self, prompt: str, fields: dict[str, Any]) -> Flow[TaskHandle]:
        job = self._plan("generate", prompt, fields)
        if not job.capabilities.async_tasks:
            raise InvalidRequestError(
                [Problem("submit", self.provider, "this provider has no asynchronous tasks")],
                provider=self.provider,
            )
        if len(job.batches) > 1:
            raise InvalidRequestError(
                [
                    Problem(
                        "n",
                        job.request.n,
                        f"submit() sends one task and {job.model} makes at most"
                        f" {job.capabilities.max_images_per_call} per task",
                    )
                ],
                provider=self.provider,
            )
        return self._adapter.submit(job)

    def _task(self, task: TaskHandle | str) -> TaskHandle:
        if isinstance(task, TaskHandle):
            if task.provider != self.provider:
                raise ConfigurationError(
                    f"task {task.task_id} belongs to {task.provider!r}, not {self.provider!r}"
                )
            return task
        return TaskHandle(provider=self.provider, base_url=self.base_url, task_id=task)

    def _merge(self, job: Plan, results: Sequence[ImageResult]) -> ImageResult:
        first = results[0]
        merged = first
        if len(results) > 1:
            usage: Usage | None = None
            for result in results:
                if result.usage is not None:
                    usage = result.usage if usage is None else usage + result.usage
            merged = ImageResult(
                images=[image for result in results for image in result.images],
                provider=first.provider,
                model=first.model,
                task_ids=[t for result in results for t in result.task_ids],
                created=first.created,
                usage=usage,
                warnings=[w for result in results for w in result.warnings],
                raw=[raw for result in results for raw in result.raw],
            )
        merged.warnings[:0] = job.warnings
        if merged.model is None:
            merged.model = job.model
        return merged

    def _keep_partial(
        self, error: ImageBridgeError, job: Plan, done: Sequence[ImageResult]
    ) -> None:
        """Attach the images of the calls that finished before one of a split request failed."""
        if done:
            partial = self._merge(job, done)
            partial._bind(self._driver, job.expected_size)
            error.partial = partial

    def _deadline(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is _UNSET else timeout


class ImageClient(_ClientBase):
    """Generate and edit images through one provider, synchronously.

    ``timeout`` is the overall deadline of one job in seconds (submit, polling and
    download), ``request_timeout`` that of one HTTP request. ``transport`` (any
    :class:`httpx.BaseTransport`) replaces the network, e.g. for tests. Use the client as a
    context manager, or call :meth:`close`, to release its connections.
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
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        on_progress: ProgressCallback | None = None,
        registry: Registry | None = None,
        clock: Clock | None = None,
        poll_policy: PollPolicy | None = None,
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
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(transport=transport)
        self._driver = SyncDriver(self._http, **self._driver_options)

    def generate(
        self,
        prompt: str,
        *,
        timeout: float | None = _UNSET,
        on_progress: ProgressCallback | None = None,
        **fields: Any,
    ) -> ImageResult:
        """Generate images from a prompt. ``fields`` are :class:`ImageRequest` fields."""
        return self._run(self._plan("generate", prompt, fields), timeout, on_progress)

    def edit(
        self,
        prompt: str,
        images: Sequence[Any],
        *,
        mask: Any = None,
        timeout: float | None = _UNSET,
        on_progress: ProgressCallback | None = None,
        **fields: Any,
    ) -> ImageResult:
        """Edit ``images`` (paths as :class:`pathlib.Path`, bytes or data URLs) by a prompt."""
        fields.update(reference_images=images, mask=mask)
        return self._run(self._plan("edit", prompt, fields), timeout, on_progress)

    def submit(self, prompt: str, *, timeout: float | None = _UNSET, **fields: Any) -> TaskHandle:
        """Submit an asynchronous task and return its handle at once (see :meth:`wait`)."""
        flow = self._submit_flow(prompt, fields)
        return self._driver.run(flow, timeout=self._deadline(timeout))

    def wait(
        self,
        task: TaskHandle | str,
        *,
        timeout: float | None = _UNSET,
        on_progress: ProgressCallback | None = None,
    ) -> ImageResult:
        """Wait for an accepted task (a handle, or a task id of this provider)."""
        handle = self._task(task)
        flow = self._adapter.wait(handle)
        result = self._driver.run(flow, timeout=self._deadline(timeout), on_progress=on_progress)
        result._bind(self._driver, handle.expected_size)
        return result

    def _run(
        self, job: Plan, timeout: float | None, on_progress: ProgressCallback | None
    ) -> ImageResult:
        deadline = self._deadline(timeout)
        results: list[ImageResult] = []
        for flow in self._flows(job):
            try:
                results.append(self._driver.run(flow, timeout=deadline, on_progress=on_progress))
            except ImageBridgeError as error:
                self._keep_partial(error, job, results)
                raise
        result = self._merge(job, results)
        result._bind(self._driver, job.expected_size)
        return result

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ImageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncImageClient(_ClientBase):
    """The asynchronous twin of :class:`ImageClient`: the same methods, awaited.

    Calls that ``n`` splits into several provider calls run them concurrently.
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
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        on_progress: ProgressCallback | None = None,
        registry: Registry | None = None,
        clock: Clock | None = None,
        poll_policy: PollPolicy | None = None,
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
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(transport=transport)
        self._driver = AsyncDriver(self._http, **self._driver_options)

    async def generate(
        self,
        prompt: str,
        *,
        timeout: float | None = _UNSET,
        on_progress: ProgressCallback | None = None,
        **fields: Any,
    ) -> ImageResult:
        """Generate images from a prompt. ``fields`` are :class:`ImageRequest` fields."""
        return await self._run(self._plan("generate", prompt, fields), timeout, on_progress)

    async def edit(
        self,
        prompt: str,
        images: Sequence[Any],
        *,
        mask: Any = None,
        timeout: float | None = _UNSET,
        on_progress: ProgressCallback | None = None,
        **fields: Any,
    ) -> ImageResult:
        """Edit ``images`` (paths as :class:`pathlib.Path`, bytes or data URLs) by a prompt."""
        fields.update(reference_images=images, mask=mask)
        return await self._run(self._plan("edit", prompt, fields), timeout, on_progress)

    async def submit(
        self, prompt: str, *, timeout: float | None = _UNSET, **fields: Any
    ) -> TaskHandle:
        """Submit an asynchronous task and return its handle at once (see :meth:`wait`)."""
        flow = self._submit_flow(prompt, fields)
        return await self._driver.run(flow, timeout=self._deadline(timeout))

    async def wait(
        self,
        task: TaskHandle | str,
        *,
        timeout: float | None = _UNSET,
        on_progress: ProgressCallback | None = None,
    ) -> ImageResult:
        """Wait for an accepted task (a handle, or a task id of this provider)."""
        handle = self._task(task)
        flow = self._adapter.wait(handle)
        result = await self._driver.run(
            flow, timeout=self._deadline(timeout), on_progress=on_progress
        )
        result._bind(self._driver, handle.expected_size)
        return result

    async def _run(
        self, job: Plan, timeout: float | None, on_progress: ProgressCallback | None
    ) -> ImageResult:
        deadline = self._deadline(timeout)
        flows = self._flows(job)
        if len(flows) == 1:
            results = [await self._driver.run(flows[0], timeout=deadline, on_progress=on_progress)]
        else:
            tasks = [
                asyncio.ensure_future(
                    self._driver.run(flow, timeout=deadline, on_progress=on_progress)
                )
                for flow in flows
            ]
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
                    self._keep_partial(error, job, done)
                raise
        result = self._merge(job, results)
        result._bind(self._driver, job.expected_size)
        return result

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncImageClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
