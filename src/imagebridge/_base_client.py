"""What both clients share, with no I/O: finding the adapter, the key and the base URL,
building and pre-flighting the canonical request, and merging the results of a request
split into several calls. :mod:`imagebridge._client` adds an HTTP client and a driver.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import httpx

from ._adapter import Adapter
from ._apikey import check_auth_headers, credentials_redactor, resolve_api_key, restore_task
from ._clock import SYSTEM_CLOCK, Clock
from ._deadline import UNSET
from ._driver import (
    DEFAULT_MAX_DOWNLOAD,
    DEFAULT_MAX_RESPONSE,
    AsyncDriver,
    ProgressCallback,
    SyncDriver,
)
from ._errors import ConfigurationError, ImageBridgeError, InvalidRequestError, Problem
from ._flow import Flow
from ._journal import TaskJournal, open_default_journal
from ._plugins import Registry, default_registry
from ._polling import PollPolicy, TaskState
from ._preflight import ImageWarning, Operation, Plan, plan
from ._request import build_request
from ._result import ImageResult, Usage
from ._retry import DEFAULT_RETRY, RetryPolicy
from ._tasks import TaskHandle

#: Default overall deadline of one job (submit, polling and download), in seconds.
DEFAULT_TIMEOUT = 600.0
#: Default timeout of one HTTP request, in seconds.
DEFAULT_REQUEST_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


#: The "use the client's setting" default of per-call ``timeout=``.
_UNSET: Any = UNSET


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
        retry: RetryPolicy | None = None,
        journal: TaskJournal | str | os.PathLike[str] | bool | None = True,
        max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE,
        allow_link_local_urls: bool = False,
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
        api_key = resolve_api_key(api_key, prefix)
        if api_key is None and adapter_cls.requires_api_key:
            raise ConfigurationError(
                f"no API key for {provider}: pass api_key= or set {prefix}_API_KEY"
            )
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._adapter: Adapter = adapter_cls(self.base_url)
        self._adapter.allow_link_local_urls = allow_link_local_urls
        if poll_policy is not None:
            self._adapter.poll_policy = poll_policy
        # Declarations are static: computing the default model's now keeps the first call cheap.
        self._registry.capabilities(self._adapter, self._adapter.default_model)
        auth_headers = self._adapter.auth_headers(api_key) if api_key else {}
        check_auth_headers(auth_headers, provider)
        self._redactor = credentials_redactor(api_key, auth_headers)
        self._journal = _journal(journal)
        if self._journal is not None:
            self._journal.scrub_with(self._redactor)
        # A journal the client opened itself is closed with it; one passed in is the caller's.
        self._owns_journal = not isinstance(journal, TaskJournal)
        if isinstance(request_timeout, int | float):
            request_timeout = httpx.Timeout(request_timeout)
        self._driver_options: dict[str, Any] = {
            "provider": provider,
            "base_url": self.base_url,
            "auth_headers": auth_headers,
            "request_timeout": request_timeout,
            "clock": clock or SYSTEM_CLOCK,
            "redactor": self._redactor,
            "observer": self._registry.observer(provider),
            "on_progress": on_progress,
            "download_auth": adapter_cls.download_auth,
            "retry": retry or DEFAULT_RETRY,
            "journal": self._journal,
            "max_download_bytes": max_download_bytes,
            "max_response_bytes": max_response_bytes,
            "download_timeout": timeout,
            "allow_link_local_urls": allow_link_local_urls,
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
        return [_at_most(method(job.for_batch(n)), n) for n in job.batches]

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
        """A handle this client may poll: its provider and API, so the key goes nowhere else,
        and an id that names one task (not ``..``, nor a path or a query)."""
        task = restore_task(task, self._redactor)
        task_id = task.task_id if isinstance(task, TaskHandle) else task
        reason = TaskHandle.id_problem(task_id) if isinstance(task_id, str) else "is not a string"
        if reason is not None:
            raise InvalidRequestError([Problem("task_id", task_id, reason)], provider=self.provider)
        if isinstance(task, TaskHandle):
            if task.provider != self.provider:
                raise ConfigurationError(
                    f"task {task.task_id} belongs to {task.provider!r}, not {self.provider!r}"
                )
            if task.base_url.rstrip("/") != self.base_url:
                raise ConfigurationError(
                    f"task {task.task_id} was accepted by {task.base_url}, not {self.base_url}:"
                    " use a client with that base URL"
                )
            return task
        if not self._adapter.capabilities(self._adapter.default_model).async_tasks:
            raise ConfigurationError(f"{self.provider} has no asynchronous tasks to wait for")
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
                tasks=[t for result in results for t in result.tasks],
                created=first.created,
                usage=usage,
                warnings=[w for result in results for w in result.warnings],
                raw=[raw for result in results for raw in result.raw],
            )
        merged.warnings[:0] = job.warnings
        if merged.model is None:
            merged.model = job.model
        _check_count(merged, job.request.n)
        return merged

    def _keep_partial(
        self, error: ImageBridgeError, job: Plan, done: Sequence[ImageResult]
    ) -> None:
        """Attach the images of the calls that finished before one of a split request failed."""
        if done:
            error.partial = self._finish(
                self._merge(job, done), job.expected_size, job.request.output_format
            )
            error.scrub(self._redactor)

    def _close_journal(self) -> None:
        if self._journal is not None and self._owns_journal:
            self._journal.close()

    def _deadline(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is _UNSET else timeout

    def _finish(
        self,
        result: ImageResult,
        expected: tuple[int, int] | None,
        output_format: str | None = None,
    ) -> ImageResult:
        result._bind(self._driver, expected, self._driver.journal_mark, output_format)
        for image in result.images:
            image.name = self._redactor.text(image.name)  # files named after a task id
        return result

    def _collect(self, task: TaskHandle, state: TaskState) -> ImageResult | TaskState:
        if state.phase != "succeeded":
            return state
        result = self._adapter.collect(task, state)
        result.tasks.append(task)
        if not result.task_ids:
            result.task_ids.append(task.task_id)
        if "n" in task.model_fields_set:
            _keep_requested(result, task.n)
        else:
            # A task resumed by its id alone: how many images it makes is not known.
            model = task.model or self._adapter.default_model
            cap = self._registry.capabilities(self._adapter, model).max_images_per_call
            _keep_requested(result, cap, f"{model} makes at most {cap} per task")
        _check_count(result, task.n)
        self._driver.check_inline(result, task)
        self._driver.journal_mark(task, "fetched")
        return self._finish(result, task.expected_size)


def _at_most(flow: Flow[ImageResult], n: int) -> Flow[ImageResult]:
    """The flow of one call, keeping no more than the ``n`` images that call asked for."""
    result = yield from flow
    _keep_requested(result, n)
    return result


def _keep_requested(result: ImageResult, n: int, why: str | None = None) -> None:
    """Drop the images beyond ``n`` (a server answering 10,000 for one is not trusted:
    they would all be downloaded), with a warning that says how many."""
    extra = len(result.images) - n
    if extra > 0:
        del result.images[n:]
        reason = why or f"{n} image(s) were requested"
        result.warnings.append(
            ImageWarning(
                "extra_images",
                f"{reason} and {n + extra} came back: the {extra} extra were dropped",
                "n",
            )
        )


def _check_count(result: ImageResult, requested: int) -> None:
    if len(result.images) < requested:
        result.warnings.append(
            ImageWarning(
                "fewer_images",
                f"{requested} image(s) were requested and {len(result.images)} came back",
                "n",
            )
        )


def _journal(value: TaskJournal | str | os.PathLike[str] | bool | None) -> TaskJournal | None:
    if value is True:
        return open_default_journal()
    if value is None or value is False:
        return None
    if isinstance(value, TaskJournal):
        return value
    return TaskJournal(value)
