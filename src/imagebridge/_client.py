"""The synchronous client, :class:`ImageClient` (its twin is :mod:`imagebridge._async_client`).

:class:`~imagebridge._base_client.ClientBase` holds everything that is not I/O; the two
clients add only an HTTP client and a driver, so they offer the same methods with the same
behaviour.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from ._base_client import (
    CLIENT_DOC,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_TIMEOUT,
    ClientBase,
    JournalSetting,
    Timeout,
)
from ._budget import BudgetSetting, priced, release_unsent
from ._clock import Clock
from ._deadline import CLIENT_DEFAULT
from ._driver import SyncDriver
from ._driver_base import DEFAULT_MAX_DOWNLOAD, DEFAULT_MAX_RESPONSE
from ._errors import ImageBridgeError
from ._flow import ProgressCallback
from ._limits import RateLimit
from ._plugins import Registry
from ._polling import PollPolicy, TaskState
from ._preflight import Operation, Plan
from ._prices import PricesSetting
from ._request import ImageSource
from ._result import ImageResult
from ._retry import RetryPolicy
from ._stream import Completed, ImageStream, StreamEvent
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._request import GenerateFields, ImageOptions, VaryFields
    from ._routed_client import RoutedImageClient
    from ._routes import Route, Strategy

__all__ = ["ImageClient"]


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
        rate_limit: RateLimit | None = None,
        budget: BudgetSetting = None,
        prices: PricesSetting = None,
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
            rate_limit=rate_limit,
        )
        self._set_costs(budget, prices)  # a spending limit, and the user's prices
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(transport=transport)
        # The job's deadline bounds every socket operation of httpx's own transports. httpx
        # imports httpcore when it builds one (0.28 on): without httpcore loaded there is none
        # to wrap, and a client on another transport (aiohttp, a mock) never loads it.
        if "httpcore" in sys.modules:
            from ._deadline_backend import install as install_deadline

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

    def vary(
        self,
        image: ImageSource,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[VaryFields],
    ) -> ImageResult:
        """Variations of ``image`` (a path as :class:`pathlib.Path`, or bytes), with no
        prompt, where the model makes them (``Capabilities.variations``)."""
        planned = self.plan("", operation="vary", reference_images=[image], **fields)
        return self._run(planned, timeout, on_progress, retry)

    def stream(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageStream:
        """The events of a job as they happen (see :mod:`imagebridge._stream`): acceptance,
        progress, partial images (``partial_images=N``) and, last, the result. Takes what
        :meth:`plan` takes (``operation="edit"`` with ``reference_images=`` streams an edit);
        the request is checked before anything is sent, here, not when iterated.

            with client.stream("a red cube", partial_images=2) as events:
                for event in events:
                    ...
        """
        planned = self.plan(prompt, operation=operation, stream=True, **fields)
        return ImageStream(self._stream_events(planned, timeout, retry))

    def _stream_events(
        self, planned: Plan, timeout: Timeout, retry: RetryPolicy | None
    ) -> Generator[StreamEvent, None, None]:
        results: list[ImageResult] = []
        costs = self._costs(planned)
        for index, flow in enumerate(self._flows(planned)):
            offset = sum(len(result.images) for result in results)
            job = priced(self._job(timeout, retry=retry), costs[index])
            steps = self._driver.steps(flow, job)
            try:
                while True:
                    try:
                        note = next(steps)
                    except StopIteration as stop:
                        results.append(stop.value)
                        break
                    yield self._event(note, planned, offset)
            except ImageBridgeError as error:
                release_unsent(costs[index + 1 :])
                self._keep_partial(error, planned, results)
                raise
            finally:
                steps.close()
        yield Completed(self._finish(results, planned))

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
        [cost] = self._costs(planned)
        job = priced(self._job(timeout, retry=retry), cost)
        return self._driver.run(self._submit_flow(planned), job)

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

    def cancel(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> bool:
        """Ask the provider to stop an accepted task (models that declare ``cancel``).

        True: the provider took the cancel, and the journal records the task as
        ``cancelled``; False: the task had already ended (a finished task's images can still
        be fetched with :meth:`wait`). A provider that cannot cancel raises
        :class:`~imagebridge.ConfigurationError` before anything is sent."""
        handle = self._task(task)
        job = self._job(timeout, retry=retry, task=handle)
        return self._driver.run(self._cancel_flow(handle), job)

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
        costs = self._costs(planned)  # the whole request's estimate, before the first call
        for index, flow in enumerate(self._flows(planned)):
            job = priced(self._job(timeout, on_progress=on_progress, retry=retry), costs[index])
            try:
                results.append(self._driver.run(flow, job))
            except ImageBridgeError as error:
                release_unsent(costs[index + 1 :])
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

    @classmethod
    def from_routes(
        cls,
        routes: Sequence[Route],
        *,
        strategy: Strategy = "ordered",
        cooldown: float = 30.0,
        rng: random.Random | None = None,
        **options: Any,
    ) -> RoutedImageClient:
        """A client over ``routes`` (:class:`~imagebridge.Route`), one ImageClient each, built
        with ``options`` (this class's own) and the route's key, base URL and rate limit.

        Each request is pre-flighted on every route; it goes to the first that can honour
        it (``strategy="weighted"``: a random spread by weight, from ``rng``) and moves on
        only after a failure that created no task. A route that failed so is tried last for
        ``cooldown`` seconds. See :class:`~imagebridge.RoutedImageClient`.
        """
        # Imported here: a program that never routes does not load routing.
        from ._routed_client import RoutedImageClient

        return RoutedImageClient(
            routes,
            lambda route, kwargs: cls(route.provider, **kwargs),
            strategy=strategy,
            cooldown=cooldown,
            rng=rng,
            **options,
        )

    @classmethod
    def from_profile(
        cls,
        name: str,
        *,
        config: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> RoutedImageClient:
        """A routed client (:meth:`from_routes`) of the profile ``name`` of a config file:
        its routes in order, its strategy and cooldown; ``options`` go to every route's
        client, as with :meth:`from_routes`.

        The file is ``config``, else the one ``IMAGEBRIDGE_CONFIG`` names, else
        ``imagebridge.toml`` in the working directory or its nearest parent that has one,
        else ``imagebridge.toml`` in the user config directory (``~/.config/imagebridge`` on
        Linux). Keys are never in the file: each route names the variable holding its key
        (``api_key_env``). A missing file or profile, or a bad one, is a
        :class:`~imagebridge.ConfigurationError` naming the file and what to change.
        """
        from ._profiles import routed_options

        routes, options = routed_options(name, config, options)
        return cls.from_routes(routes, **options)


ImageClient.__doc__ = (ImageClient.__doc__ or "") + CLIENT_DOC
