"""What both clients share: finding the adapter, the key and the base URL, opening the task
journal, pre-flighting the canonical request, building the one flow of every operation and
finishing its results. No request is sent from here: :mod:`imagebridge._client` adds an HTTP
client and a driver.

Every operation goes the same way: a :class:`~imagebridge._preflight.Plan` (or an accepted
task's handle) becomes one flow per provider call (:meth:`ClientBase._flows`,
:meth:`ClientBase._task_flow`), each run by the driver under a
:class:`~imagebridge._jobs.Job` (which journals the task and keeps it on errors), and the
results are finished in one place (:meth:`ClientBase._finish`: merged, counted, bound to
the driver for downloads). ``generate``, ``edit``, ``submit``, ``wait``, ``check``,
resuming a journaled task and batch items all take that path.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from ._adapter import Adapter
from ._apikey import check_auth_headers, credentials_redactor, resolve_api_key, restore_task
from ._budget import Costing
from ._clock import SYSTEM_CLOCK, Clock
from ._counting import at_most, check_count, keep_requested, merge
from ._deadline import ClientDefault
from ._driver import AsyncDriver, SyncDriver
from ._driver_base import DEFAULT_MAX_DOWNLOAD, DEFAULT_MAX_RESPONSE
from ._dryrun import DryRunning
from ._errors import ConfigurationError, ImageBridgeError, InvalidRequestError, Problem
from ._flow import Flow, PartialImage, ProgressCallback
from ._jobs import Job, JobSettings, Note, TaskRecorder
from ._journal import TaskJournal, open_default_journal
from ._limits import Limiter, RateLimit, limiter_for
from ._plugins import Registry, default_registry
from ._polling import PollPolicy, TaskState
from ._preflight import Operation, Plan, plan
from ._request import build_request
from ._result import ImageResult
from ._retry import DEFAULT_RETRY, RetryPolicy
from ._stream import StreamEvent
from ._tasks import TaskHandle
from ._telemetry import Telemetry, described

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._request import GenerateFields

#: Default overall deadline of one job (submit, polling and download), in seconds.
DEFAULT_TIMEOUT = 600.0
#: Default timeout of one HTTP request, in seconds.
DEFAULT_REQUEST_TIMEOUT = httpx.Timeout(120.0, connect=10.0)

JournalSetting = TaskJournal | str | os.PathLike[str] | bool | None
#: A per-call ``timeout=``: seconds, None for no bound, or the client's own.
Timeout = float | ClientDefault | None

#: What both clients' docstrings end with.
CLIENT_DOC = """
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
    ``rate_limit`` (:class:`~imagebridge.RateLimit`) limits the requests per minute and the
    concurrent jobs of every client of this provider, base URL and key in the process, within
    each job's deadline; a 429 with ``Retry-After`` pauses them all.
    ``transport`` replaces the network (e.g.
    for tests); ``clock`` replaces time (for tests of polling); ``registry`` replaces the
    installed plugins.
"""


class ClientBase(Costing, DryRunning):
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
        journal: JournalSetting = True,
        max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE,
        allow_link_local_urls: bool = False,
        rate_limit: RateLimit | None = None,
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
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigurationError(
                f"rate_limit must be an imagebridge.RateLimit or None, not {rate_limit!r}"
            )
        #: The client-side limits, shared with every client of this provider, base URL and key.
        self.rate_limit = rate_limit
        self._adapter: Adapter = adapter_cls(self.base_url)
        self._adapter.allow_link_local_urls = allow_link_local_urls
        if poll_policy is not None:
            self._adapter.poll_policy = poll_policy
        # Declarations are static: computing the default model's now keeps the first call cheap.
        self._registry.capabilities(self._adapter, self._adapter.default_model)
        auth_headers = self._adapter.auth_headers(api_key) if api_key else {}
        check_auth_headers(auth_headers, provider)
        self._redactor = credentials_redactor(api_key, auth_headers)
        self._recorder = TaskRecorder(
            _journal(journal), self._redactor, owned=not isinstance(journal, TaskJournal)
        )
        self._clock = clock or SYSTEM_CLOCK
        self._settings = JobSettings(
            provider=provider,
            recorder=self._recorder,
            redactor=self._redactor,
            retry=retry or DEFAULT_RETRY,
            on_progress=on_progress,
            max_download_bytes=max_download_bytes,
            telemetry=Telemetry.from_env(),
        )
        if isinstance(request_timeout, int | float):
            request_timeout = httpx.Timeout(request_timeout)
        self._driver_options: dict[str, Any] = {
            "provider": provider,
            "redactor": self._redactor,
            "retry": self._settings.retry,
            "max_download_bytes": max_download_bytes,
            "base_url": self.base_url,
            "auth_headers": auth_headers,
            "request_timeout": request_timeout,
            "clock": self._clock,
            "observer": self._registry.observer(provider),
            "download_auth": adapter_cls.download_auth,
            "key_hosts": adapter_cls.key_hosts,
            "max_response_bytes": max_response_bytes,
            "download_timeout": timeout,
            "allow_link_local_urls": allow_link_local_urls,
            "limiter": None
            if rate_limit is None
            else limiter_for(provider, self.base_url, rate_limit, api_key),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider!r} base_url={self.base_url!r}>"

    @property
    def adapter(self) -> Adapter:
        return self._adapter

    @property
    def journal(self) -> TaskJournal | None:
        """The task journal this client writes accepted tasks to, or None."""
        return self._recorder.journal

    # -- planning (no I/O) --------------------------------------------------------------------
    def plan(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        stream: bool = False,
        **fields: Unpack[GenerateFields],
    ) -> Plan:
        """Pre-flight a request without sending anything: the validated
        :class:`~imagebridge.adapter.Plan` of the call (wire size, calls, warnings), or
        :class:`~imagebridge.InvalidRequestError` naming every problem. ``operation`` is
        ``generate``, ``edit`` (the images in ``reference_images``) or ``vary`` (the image
        in ``reference_images``, and an empty prompt); ``stream``: the plan of
        ``stream()``."""
        request = build_request(prompt, fields, self.provider, operation)
        model = request.model or self._adapter.default_model
        caps = self._registry.capabilities(self._adapter, model)
        problems = self._registry.problems(self._adapter, model, operation, request, caps)
        return plan(
            provider=self.provider,
            operation=operation,
            request=request,
            model=model,
            capabilities=caps,
            options_model=self._adapter.options_model,
            extra_problems=problems,
            stream=stream,
        )

    def _submit_plan(self, prompt: str, fields: Mapping[str, Any]) -> Plan:
        """The plan of a ``submit()``: one asynchronous task."""
        planned = self.plan(prompt, **fields)
        if not planned.capabilities.async_tasks:
            raise InvalidRequestError(
                [Problem("submit", self.provider, "this provider has no asynchronous tasks")],
                provider=self.provider,
            )
        if len(planned.batches) > 1:
            raise InvalidRequestError(
                [
                    Problem(
                        "n",
                        planned.request.n,
                        f"submit() sends one task and {planned.model} makes at most"
                        f" {planned.capabilities.max_images_per_call} per task",
                    )
                ],
                provider=self.provider,
            )
        return planned

    def _job(
        self,
        timeout: float | ClientDefault | None,
        *,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        task: TaskHandle | None = None,
        label: str | None = None,
    ) -> Job:
        seconds = self.timeout if isinstance(timeout, ClientDefault) else timeout
        return Job(
            self._settings,
            timeout=seconds,
            now=self._clock.monotonic(),
            retry=retry,
            on_progress=on_progress,
            task=task,
            label=label,
        )

    # -- the flows of every operation ---------------------------------------------------------
    def _flows(self, planned: Plan) -> list[Flow[ImageResult]]:
        """One flow per provider call of a generate, an edit or a variation."""
        # Each operation is the adapter method of the same name (generate, edit, vary).
        method: Callable[[Plan], Flow[ImageResult]] = getattr(self._adapter, planned.operation)
        calls = [planned.for_batch(n) for n in planned.batches]  # described for their spans
        return [described(at_most(method(c), c.n), planned.operation, c) for c in calls]

    def _submit_flow(self, planned: Plan) -> Flow[TaskHandle]:
        """The flow of a ``submit()``: the adapter's own, until the task is accepted."""
        return described(self._adapter.submit(planned), "submit", planned)

    def _task_flow(self, task: TaskHandle, *, once: bool) -> Flow[ImageResult | TaskState]:
        """Finish an accepted task: the adapter's own :meth:`~Adapter.wait` (polling until
        it ends), or with ``once`` one poll (:meth:`~Adapter.check`) and, when it succeeded,
        its result (:meth:`~Adapter.collect`)."""
        return described(self._task_steps(task, once=once), "check" if once else "wait", task)

    def _task_steps(self, task: TaskHandle, *, once: bool) -> Flow[ImageResult | TaskState]:
        if once:
            state = yield from self._adapter.check(task)
            if state.phase != "succeeded":
                return state
            result = self._adapter.collect(task, state)
        else:
            result = yield from self._adapter.wait(task)
        if "n" in task.model_fields_set:
            keep_requested(result, task.n)
        else:
            # A task resumed by its id alone: how many images it makes is not known.
            model = task.model or self._adapter.default_model
            cap = self._registry.capabilities(self._adapter, model).max_images_per_call
            keep_requested(result, cap, f"{model} makes at most {cap} per task")
        return result

    def _cancel_flow(self, task: TaskHandle) -> Flow[bool]:
        """Cancel an accepted task: refused before anything is sent when its model does not
        declare ``cancel``; a cancel the provider took is journaled (state ``cancelled``)."""
        model = task.model or self._adapter.default_model
        if not self._registry.capabilities(self._adapter, model).cancel:
            raise ConfigurationError(f"{self.provider} cannot cancel tasks of {model}")
        return described(self._cancel_steps(task), "cancel", task)

    def _cancel_steps(self, task: TaskHandle) -> Flow[bool]:
        cancelled = yield from self._adapter.cancel(task)
        if cancelled:
            self._recorder.mark(task, "cancelled")
        return cancelled

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

    # -- finishing results --------------------------------------------------------------------
    def _finish(self, results: Sequence[ImageResult], planned: Plan | TaskHandle) -> ImageResult:
        """The one result of a job: the results of its calls merged, the plan's warnings
        first, fewer images than asked for warned about, and every image bound to the
        driver (downloads) and named after its task, with no secret in the name."""
        merged = merge(results)
        if isinstance(planned, Plan):
            merged.warnings[:0] = planned.warnings
            if merged.model is None:
                merged.model = planned.model
            requested, expected, output_format = (
                planned.request.n,
                planned.expected_size,
                planned.request.output_format,
            )
        else:
            requested, expected, output_format = planned.n, planned.expected_size, None
        check_count(merged, requested)
        merged.bind(self._driver, expected, self._recorder.saved, output_format)
        for image in merged.images:
            image.name = self._redactor.text(image.name)  # files named after a task id
        return merged

    def _keep_partial(
        self, error: ImageBridgeError, planned: Plan, done: Sequence[ImageResult]
    ) -> None:
        """Attach the images of the calls that finished before one of a split request failed,
        and those the failed call had completed (a stream that broke after some)."""
        made = [*done, *([error.partial] if error.partial is not None else [])]
        if made:
            error.partial = self._finish(made, planned)
            error.scrub(self._redactor)

    def _event(self, note: Note, planned: Plan, offset: int) -> StreamEvent:
        """A flow's note as a stream event: a partial image gets its place among the
        images of the whole job (``offset`` came before its call) and can be read and
        saved like a result image."""
        if not isinstance(note, PartialImage):
            return note
        index = offset + note.image_index
        note.image.bind(
            self._driver,
            provider=self.provider,
            index=index,
            name=f"{self.provider}-partial-{note.index}",
            expected_size=planned.expected_size,
            expected_format=planned.request.output_format,
        )
        return dataclasses.replace(note, image_index=index)

    def _close_journal(self) -> None:
        self._recorder.close()


def _journal(value: JournalSetting) -> TaskJournal | None:
    if value is True:
        return open_default_journal()
    if value is None or value is False:
        return None
    if isinstance(value, TaskJournal):
        return value
    return TaskJournal(value)


def limiter_of(client: ClientBase) -> Limiter | None:
    """The client's rate limiter (None without ``rate_limit``): a shared batch's worker
    gives it its share of the limit (see :mod:`imagebridge._shared_batch`)."""
    limiter: Limiter | None = client._driver_options["limiter"]
    return limiter


def backlog_of(client: ClientBase) -> float:
    """Seconds a request of ``client`` would wait now under its rate limit (0 without one):
    how a routed client picks the route that would make a request wait least."""
    limiter = client._driver_options["limiter"]
    return 0.0 if limiter is None else float(limiter.backlog(client._clock.monotonic()))
