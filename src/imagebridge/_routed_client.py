"""The routed clients: :class:`RoutedImageClient` here, its async twin in
:mod:`imagebridge._async_routed_client`; both made by ``from_routes()`` on the clients.

A routed client holds one client per :class:`~imagebridge.Route` and offers the clients' job
methods. Each request is pre-flighted on every route and sent to the first that can honour
it; a failure moves it on only when no task can exist (:mod:`imagebridge._routes` decides).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._base_client import ClientBase
from ._clock import SYSTEM_CLOCK
from ._deadline import CLIENT_DEFAULT
from ._errors import ConfigurationError, ImageBridgeError, InvalidRequestError, Problem
from ._journal import TaskJournal, open_default_journal
from ._polling import TaskState
from ._preflight import Operation, Plan
from ._request import ImageSource
from ._result import ImageResult
from ._routes import Route, Router, Strategy, Trip, client_options
from ._stream import Completed, ImageStream, StreamEvent
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._base_client import Timeout
    from ._flow import ProgressCallback
    from ._request import GenerateFields, ImageOptions, VaryFields
    from ._retry import RetryPolicy

__all__ = ["RoutedImageClient"]

#: A route's client: an ImageClient or an AsyncImageClient. Bound to their shared base, not
#: named: those modules import this one (``from_routes``), and no import cycle is allowed.
C = TypeVar("C", bound="ClientBase")


class RoutedBase(Generic[C]):
    """What both routed clients share: the routes' clients, the router, pre-flight."""

    def __init__(
        self,
        routes: Sequence[Route],
        build: Callable[[Route, dict[str, Any]], C],
        *,
        strategy: Strategy = "ordered",
        cooldown: float = 30.0,
        rng: random.Random | None = None,
        **options: Any,
    ) -> None:
        self._router = Router(
            routes,
            strategy=strategy,
            cooldown=cooldown,
            clock=options.get("clock") or SYSTEM_CLOCK,
            rng=rng,
        )
        # One journal for all the routes (each client would otherwise open its own).
        journal = options.get("journal", True)
        self._own_journal: TaskJournal | None = None
        if journal is True:
            self._own_journal = open_default_journal()
        elif isinstance(journal, str | os.PathLike):
            self._own_journal = TaskJournal(journal)
        if self._own_journal is not None or journal is True:
            options = {**options, "journal": self._own_journal}
        self._clients: list[C] = []
        try:
            for route in self._router.routes:
                self._clients.append(build(route, client_options(route, options)))
        except BaseException:
            # A route that cannot be set up (no key...): release what the others opened.
            for client in self._clients:
                close = getattr(client, "close", None)  # an async client holds no connection yet
                if callable(close):
                    close()
            self._close_journal()
            raise

    def __repr__(self) -> str:
        names = ", ".join(repr(route.label) for route in self._router.routes)
        return f"<{type(self).__name__} routes=[{names}] strategy={self._router.strategy!r}>"

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes, in their order."""
        return self._router.routes

    @property
    def clients(self) -> dict[str, C]:
        """Each route's client, by route name."""
        return {
            route.label: client for route, client in zip(self.routes, self._clients, strict=True)
        }

    def plan(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        stream: bool = False,
        **fields: Unpack[GenerateFields],
    ) -> Plan:
        """The plan of the route that would be tried first (nothing is sent), or
        :class:`~imagebridge.RoutesExhaustedError` when no route can honour the request."""
        trip = self._router.trip()
        order = trip.candidates(self._preflight(prompt, operation, fields, stream=stream))
        if not order:
            raise trip.exhausted()
        return trip.plans[order[0]]

    def _preflight(
        self, prompt: str, operation: Operation, fields: Mapping[str, Any], *, stream: bool = False
    ) -> Callable[[int], Plan]:
        def preflight(index: int) -> Plan:
            route_fields = self.routes[index].fields(fields)
            client = self._clients[index]
            return client.plan(prompt, operation=operation, stream=stream, **route_fields)

        return preflight

    def _submit_preflight(self, prompt: str, fields: Mapping[str, Any]) -> Callable[[int], Plan]:
        plan = self._preflight(prompt, "generate", fields)

        def preflight(index: int) -> Plan:
            planned = plan(index)
            provider = self.routes[index].provider
            if not planned.capabilities.async_tasks:
                why = "this provider has no asynchronous tasks"
                raise InvalidRequestError([Problem("submit", provider, why)], provider=provider)
            if len(planned.batches) > 1:
                why = f"submit() sends one task and {planned.model} makes fewer per task"
                problem = Problem("n", planned.request.n, why)
                raise InvalidRequestError([problem], provider=provider)
            return planned

        return preflight

    def _route_of(self, task: TaskHandle | str) -> C:
        """The client of the route that accepted ``task``: its provider and base URL."""
        if isinstance(task, TaskHandle):
            where = (task.provider, task.base_url.rstrip("/"))
            for client in self._clients:
                if (client.provider, client.base_url) == where:
                    return client
            raise ConfigurationError(
                f"task {task.task_id} was accepted by {task.provider} at {task.base_url}:"
                f" no route has that provider and base URL (routes: {self._names()})"
            )
        able = {
            (client.provider, client.base_url): client
            for client in self._clients
            if client.adapter.capabilities(client.adapter.default_model).async_tasks
        }
        if len(able) != 1:
            raise ConfigurationError(
                f"a bare task id ({task!r}) names no route when {len(able)} routes have"
                f" asynchronous tasks (routes: {self._names()}): pass the TaskHandle"
            )
        return next(iter(able.values()))

    def _label(self, client: C) -> str:
        return self.routes[self._clients.index(client)].label

    def _names(self) -> str:
        return ", ".join(route.label for route in self.routes)

    def _close_journal(self) -> None:
        if self._own_journal is not None:
            self._own_journal.close()


class RoutedImageClient(RoutedBase[Any]):
    """Generate and edit images over several routes, synchronously (see
    :meth:`ImageClient.from_routes <imagebridge.ImageClient.from_routes>`).

    Each result's ``route`` names the route that served it, and its ``warnings`` the
    routes skipped or failed before it; when none could, one
    :class:`~imagebridge.RoutesExhaustedError` lists every route's outcome.
    """

    def _call(
        self,
        preflight: Callable[[int], Plan],
        fields: Mapping[str, Any],
        run: Callable[[Any, dict[str, Any]], Any],
    ) -> Any:
        trip = self._router.trip()
        for index in trip.candidates(preflight):
            try:
                value = run(self._clients[index], self.routes[index].fields(fields))
            except ImageBridgeError as error:
                if trip.failed(index, error):
                    continue
                raise
            return trip.served(index, value) if isinstance(value, ImageResult) else value
        raise trip.exhausted()

    def generate(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageResult:
        """Generate images from a prompt, on the first route that can (see the class)."""
        result: ImageResult = self._call(
            self._preflight(prompt, "generate", fields),
            fields,
            lambda client, routed: client.generate(
                prompt, timeout=timeout, on_progress=on_progress, retry=retry, **routed
            ),
        )
        return result

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
        """Edit ``images`` by a prompt, on the first route that can."""
        planned = {**fields, "reference_images": images, "mask": mask}
        result: ImageResult = self._call(
            self._preflight(prompt, "edit", planned),
            fields,
            lambda client, routed: client.edit(
                prompt,
                images,
                mask=mask,
                timeout=timeout,
                on_progress=on_progress,
                retry=retry,
                **routed,
            ),
        )
        return result

    def vary(
        self,
        image: ImageSource,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        **fields: Unpack[VaryFields],
    ) -> ImageResult:
        """Variations of ``image``, on the first route whose model makes them."""
        result: ImageResult = self._call(
            self._preflight("", "vary", {**fields, "reference_images": [image]}),
            fields,
            lambda client, routed: client.vary(
                image, timeout=timeout, on_progress=on_progress, retry=retry, **routed
            ),
        )
        return result

    def stream(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> ImageStream:
        """The events of a job as they happen, on the first route that can stream it. The
        request is pre-flighted on every route here, before anything is sent; a route that
        fails before its first event moves the job on as :meth:`generate` does."""
        trip = self._router.trip()
        order = trip.candidates(self._preflight(prompt, operation, fields, stream=True))
        if not order:
            raise trip.exhausted()
        return ImageStream(
            self._stream_events(trip, order, prompt, operation, timeout, retry, fields)
        )

    def _stream_events(
        self,
        trip: Trip,
        order: list[int],
        prompt: str,
        operation: Operation,
        timeout: Timeout,
        retry: RetryPolicy | None,
        fields: Mapping[str, Any],
    ) -> Generator[StreamEvent, None, None]:
        for index in order:
            routed = self.routes[index].fields(fields)
            client = self._clients[index]
            try:
                with client.stream(
                    prompt, operation=operation, timeout=timeout, retry=retry, **routed
                ) as events:
                    for event in events:
                        if isinstance(event, Completed):
                            event = Completed(trip.served(index, event.result))
                        yield event
                return
            except ImageBridgeError as error:
                if trip.failed(index, error):
                    continue
                raise
        raise trip.exhausted()

    def submit(
        self,
        prompt: str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        **fields: Unpack[GenerateFields],
    ) -> TaskHandle:
        """Submit an asynchronous task on the first route that has tasks and can honour
        the request; its handle names the route's provider and base URL (see :meth:`wait`)."""
        handle: TaskHandle = self._call(
            self._submit_preflight(prompt, fields),
            fields,
            lambda client, routed: client.submit(prompt, timeout=timeout, retry=retry, **routed),
        )
        return handle

    def wait(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
    ) -> ImageResult:
        """Wait for an accepted task, on the route whose provider and base URL accepted it."""
        client = self._route_of(task)
        result: ImageResult = client.wait(
            task, timeout=timeout, on_progress=on_progress, retry=retry
        )
        result.route = self._label(client)
        return result

    def check(
        self,
        task: TaskHandle | str,
        *,
        timeout: Timeout = CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
    ) -> ImageResult | TaskState:
        """Ask once, now, how a task is doing, on the route that accepted it."""
        client = self._route_of(task)
        outcome: ImageResult | TaskState = client.check(task, timeout=timeout, retry=retry)
        if isinstance(outcome, ImageResult):
            outcome.route = self._label(client)
        return outcome

    def close(self) -> None:
        """Close every route's client."""
        try:
            for client in self._clients:
                client.close()
        finally:
            self._close_journal()

    def __enter__(self) -> RoutedImageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
