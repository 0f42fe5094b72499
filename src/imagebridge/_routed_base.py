"""What both routed clients share (:class:`RoutedBase`): one client per
:class:`~imagebridge.Route`, the router, pre-flight on every route, and each job method's
call (:class:`RouteCall`), which :mod:`imagebridge._routed_client` runs and
:mod:`imagebridge._async_routed_client` awaits.

Each request is pre-flighted on every route and sent to the first that can honour it; a
failure moves it on only when no task can exist (:mod:`imagebridge._routes` decides).
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from ._base_client import ClientBase, backlog_of
from ._clock import SYSTEM_CLOCK
from ._dryrun import DryRun
from ._errors import ConfigurationError, InvalidRequestError, Problem
from ._journal import TaskJournal, open_default_journal
from ._preflight import Operation, Plan
from ._request import ImageSource
from ._result import ImageResult
from ._routes import Route, RouteCheck, Router, Strategy, Trip, client_options
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._base_client import Timeout
    from ._flow import ProgressCallback
    from ._request import GenerateFields
    from ._retry import RetryPolicy

__all__ = ["RouteCall", "RoutedBase"]

#: A route's client: an ImageClient or an AsyncImageClient. Bound to their shared base, not
#: named: those modules import this one (``from_routes``), and no import cycle is allowed.
C = TypeVar("C", bound="ClientBase")


class RouteCall(NamedTuple):
    """One routed call: its pre-flight per route, its fields, and how to run it on a route
    (by index, with the fields as that route sends them), returning the result, or for the
    async client an awaitable of it."""

    preflight: Callable[[int], Plan]
    fields: Mapping[str, Any]
    run: Callable[[int, dict[str, Any]], Any]


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
            backlog=lambda index: backlog_of(self._clients[index]),
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

    @property
    def timeout(self) -> float | None:
        """The overall deadline of one job, in seconds (every route's client has it)."""
        timeout: float | None = self._clients[0].timeout
        return timeout

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
        trip, order = self._trip(prompt, operation, fields, stream=stream)
        return trip.plans[order[0]]

    def routes_for(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        stream: bool = False,
        **fields: Unpack[GenerateFields],
    ) -> list[RouteCheck]:
        """Whether each route can honour a request, nothing sent: one
        :class:`~imagebridge.RouteCheck` per route, those that can first, in the order they
        would be tried now, then those that cannot, each with its reason."""
        trip = self._router.trip()
        order = trip.candidates(self._preflight(prompt, operation, fields, stream=stream))
        able = [RouteCheck(self.routes[i], plan=trip.plans[i]) for i in order]
        unable = [
            RouteCheck(route, reason=trip.reasons[i])
            for i, route in enumerate(self.routes)
            if i in trip.reasons
        ]
        return able + unable

    def dry_run(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        stream: bool = False,
        **fields: Unpack[GenerateFields],
    ) -> DryRun:
        """The :class:`~imagebridge.DryRun` of the route that would be tried first, naming it
        and the routes ``skipped`` with their reasons (nothing is sent), or
        :class:`~imagebridge.RoutesExhaustedError` when no route can honour the request."""
        trip, order = self._trip(prompt, operation, fields, stream=stream)
        first = self.routes[order[0]]
        route_fields = first.fields(fields)
        dry = self._clients[order[0]].dry_run(
            prompt, operation=operation, stream=stream, **route_fields
        )
        skipped = {self.routes[i].label: reason for i, reason in sorted(trip.reasons.items())}
        return dataclasses.replace(dry, route=first.label, skipped=skipped)

    def _trip(
        self, prompt: str, operation: Operation, fields: Mapping[str, Any], *, stream: bool
    ) -> tuple[Trip, list[int]]:
        """A request's trip and the routes to try, in order; none able: RoutesExhaustedError."""
        trip = self._router.trip()
        order = trip.candidates(self._preflight(prompt, operation, fields, stream=stream))
        if not order:
            raise trip.exhausted()
        return trip, order

    # -- each method's call, the same for both clients (each awaits it or not) -----------------
    def _generate_job(
        self,
        prompt: str,
        timeout: Timeout,
        on_progress: ProgressCallback | None,
        retry: RetryPolicy | None,
        fields: Mapping[str, Any],
    ) -> RouteCall:
        return RouteCall(
            self._preflight(prompt, "generate", fields),
            fields,
            lambda index, routed: self._any(index).generate(
                prompt, timeout=timeout, on_progress=on_progress, retry=retry, **routed
            ),
        )

    def _edit_job(
        self,
        prompt: str,
        images: Sequence[ImageSource],
        mask: ImageSource | None,
        timeout: Timeout,
        on_progress: ProgressCallback | None,
        retry: RetryPolicy | None,
        fields: Mapping[str, Any],
    ) -> RouteCall:
        planned = {**fields, "reference_images": images, "mask": mask}
        return RouteCall(
            self._preflight(prompt, "edit", planned),
            fields,
            lambda index, routed: self._any(index).edit(
                prompt,
                images,
                mask=mask,
                timeout=timeout,
                on_progress=on_progress,
                retry=retry,
                **routed,
            ),
        )

    def _vary_job(
        self,
        image: ImageSource,
        timeout: Timeout,
        on_progress: ProgressCallback | None,
        retry: RetryPolicy | None,
        fields: Mapping[str, Any],
    ) -> RouteCall:
        return RouteCall(
            self._preflight("", "vary", {**fields, "reference_images": [image]}),
            fields,
            lambda index, routed: self._any(index).vary(
                image, timeout=timeout, on_progress=on_progress, retry=retry, **routed
            ),
        )

    def _submit_job(
        self, prompt: str, timeout: Timeout, retry: RetryPolicy | None, fields: Mapping[str, Any]
    ) -> RouteCall:
        return RouteCall(
            self._submit_preflight(prompt, fields),
            fields,
            lambda index, routed: self._any(index).submit(
                prompt, timeout=timeout, retry=retry, **routed
            ),
        )

    def _any(self, index: int) -> Any:
        """Route ``index``'s client, its job methods typed by the concrete class (each returns a
        result, or for an async client an awaitable of it)."""
        return self._clients[index]

    def _served(self, client: C, outcome: Any) -> Any:
        """``outcome`` of a task's ``wait()``/``check()`` on ``client``, its route named."""
        if isinstance(outcome, ImageResult):
            outcome.route = self._label(client)
        return outcome

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
