"""Routes: :class:`Route` (one provider, model, key, base URL and options) and the routing
decisions the routed clients (:mod:`imagebridge._routed_client`) make for each request.

For each request every route is pre-flighted (its client's ``plan()``: no I/O); a route that
cannot honour the request is skipped before anything is sent, with the
:class:`~imagebridge.InvalidRequestError`'s problems as its reason. The others are tried in
the strategy's order (``ordered``, or ``weighted``: a random spread by weight), routes that
failed recently last. A failure moves the job to the next route only when it guarantees
that no task was created: :data:`FALLBACK_RULES` decides, one row per error class, each with
its reason. Everything else stops the job with its error, exactly as one client would.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from ._clock import Clock
from ._errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentPolicyError,
    ImageBridgeError,
    ImageTimeoutError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RoutesExhaustedError,
    ServerError,
    StreamInterruptedError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from ._limits import RateLimit
from ._preflight import Plan
from ._result import ImageResult
from ._warnings import ImageWarning

__all__ = ["FALLBACK_RULES", "Route", "RouteCheck", "Strategy"]

Strategy = Literal["ordered", "weighted"]
STRATEGIES: tuple[Strategy, ...] = ("ordered", "weighted")


class Route(BaseModel):
    """One way to serve a request: a provider, its model, key, base URL and options.

    ``name`` defaults to the provider (``provider:model`` when a model is given);
    ``api_key`` is never shown (a :class:`~pydantic.SecretStr`); without it the key comes from
    ``api_key_env`` (default: the provider's ``<PREFIX>_API_KEY``). ``model`` is used when
    a request names none. ``provider_options`` are this provider's options, merged under
    the request's own ``provider_options[provider]`` (the request's win). ``weight``
    spreads the ``weighted`` strategy; ``rate_limit`` is handed to the route's client.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(min_length=1)
    name: str | None = None
    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    #: This route's client-side limits (shared by every client of the same route key).
    rate_limit: RateLimit | None = None
    provider_options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and not data.get("name")
            and isinstance(data.get("provider"), str)
        ):
            model = data.get("model")
            name = f"{data['provider']}:{model}" if model else data["provider"]
            return {**data, "name": name}
        return data

    @property
    def label(self) -> str:
        """The route's name (always set: see ``name``)."""
        return self.name or self.provider

    def fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A request's fields as this route sends them: its model when the request names
        none, and its provider options under the request's own."""
        out = dict(fields)
        if self.model is not None and out.get("model") is None:
            out["model"] = self.model
        if self.provider_options:
            given = dict(out.get("provider_options") or {})
            own = dict(given.get(self.provider) or {})
            given[self.provider] = {**self.provider_options, **own}
            out["provider_options"] = given
        return out


def _route_key(route: Route) -> str | None:
    """The API key to build this route's client with, or None for the provider's
    default variable (read by the client). Never put in a message."""
    if route.api_key is not None:
        return route.api_key.get_secret_value()
    if route.api_key_env is not None:
        value = os.environ.get(route.api_key_env)
        if not value or not value.strip():
            raise ConfigurationError(
                f"route {route.label!r}: api_key_env={route.api_key_env!r} names an"
                " environment variable that is not set (set it, or pass api_key=)"
            )
        return value
    return None


def client_options(route: Route, options: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a route's client: the shared options, then the route's
    key, base URL and rate limit."""
    out = dict(options)
    key = _route_key(route)
    if key is not None:
        out["api_key"] = key
    if route.base_url is not None:
        out["base_url"] = route.base_url
    if route.rate_limit is not None:
        out["rate_limit"] = route.rate_limit
    return out


@dataclass(frozen=True, slots=True)
class RouteCheck:
    """Whether one route can honour a request (``routes_for()`` of a routed client): its
    ``plan`` (what would be sent there) or the ``reason`` it cannot."""

    route: Route
    plan: Plan | None = None
    reason: str | None = None

    @property
    def able(self) -> bool:
        """True when the route can honour the request."""
        return self.plan is not None


# -- which failures move the job to the next route ---------------------------------------------
When = Literal["always", "never", "not_sent", "http_5xx"]


@dataclass(frozen=True, slots=True)
class Rule:
    error: type[ImageBridgeError]
    when: When
    reason: str


#: The one table of what a route's failure means for the next route, first match wins
#: (subclasses before their bases). Before it, two rules hold for every class: an error
#: naming an accepted task (``task_id``) and one holding part of a split request
#: (``partial``) always stop the job, as does any failure of a request split into several
#: calls (its other calls may have been sent).
FALLBACK_RULES: tuple[Rule, ...] = (
    Rule(StreamInterruptedError, "never", "a stream broke off: the image was being made"),
    Rule(SubmitOutcomeUnknownError, "never", "the submit was sent and not answered"),
    Rule(APIConnectionError, "not_sent", "no connection: the request was never written"),
    Rule(ImageTimeoutError, "never", "the deadline passed: what was sent may have run"),
    Rule(RateLimitError, "always", "refused with 429 before any task was accepted"),
    Rule(InsufficientBalanceError, "always", "this route's account has no balance"),
    Rule(AuthenticationError, "always", "this route's key was refused"),
    Rule(PermissionDeniedError, "always", "this route's key may not use this model"),
    Rule(NotFoundError, "always", "this route has no such endpoint or model (404)"),
    Rule(ServerError, "http_5xx", "a 5xx answered the submit with no task id"),
    Rule(BadRequestError, "never", "the request itself was refused: another route would be too"),
    Rule(ContentPolicyError, "never", "the prompt or an image was refused by moderation"),
    Rule(TaskFailedError, "never", "an accepted task ran and failed"),
    Rule(InvalidRequestError, "never", "the request is invalid"),
    Rule(ConfigurationError, "never", "the client is misconfigured"),
    Rule(ImageBridgeError, "never", "not known to leave no task behind"),
)


def may_fall_back(error: ImageBridgeError, *, split: bool = False) -> bool:
    """Whether ``error`` guarantees no task was created, so the next route may be tried."""
    if error.task_id is not None or error.task is not None or error.partial is not None:
        return False
    if split:
        return False
    for rule in FALLBACK_RULES:
        if isinstance(error, rule.error):
            if rule.when == "not_sent":
                return isinstance(error, APIConnectionError) and not error.sent
            if rule.when == "http_5xx":
                status = getattr(error, "status_code", None)
                return isinstance(status, int) and 500 <= status <= 599
            return rule.when == "always"
    return False


# -- one request's trip over the routes ----------------------------------------------------------
class Router:
    """The routes' shared state: the strategy, the random source and the cooldowns."""

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        strategy: Strategy,
        cooldown: float,
        clock: Clock,
        rng: random.Random | None,
        backlog: Callable[[int], float] | None = None,
    ) -> None:
        if not routes:
            raise ConfigurationError("from_routes() needs at least one route (routes=[])")
        if strategy not in STRATEGIES:
            raise ConfigurationError(
                f"strategy={strategy!r} is not a strategy (allowed: {', '.join(STRATEGIES)})"
            )
        if not cooldown >= 0:
            raise ConfigurationError(f"cooldown={cooldown!r}: must be 0 or more seconds")
        names = [route.label for route in routes]
        for name in names:
            if names.count(name) > 1:
                raise ConfigurationError(
                    f"route name {name!r} is used by {names.count(name)} routes: give each"
                    " route its own name="
                )
        self.routes = tuple(routes)
        self.strategy = strategy
        self.cooldown = cooldown
        self._clock = clock
        self._rng = rng or random.Random()
        self._cooling: dict[str, float] = {}
        self._backlog = backlog or (lambda index: 0.0)

    def trip(self) -> Trip:
        return Trip(self)

    def order(self, indexes: Sequence[int]) -> list[int]:
        """The routes able to serve a request in the order to try them: by the strategy;
        then a route whose rate limit would make the request wait after one that can send
        it now (the shortest wait first: so many requests at once spread over the routes,
        each at its limit); routes cooling down after a failure last."""
        if self.strategy == "weighted":
            # Weighted sampling without replacement (Efraimidis-Spirakis keys u ** (1 / w)).
            keys = {i: self._rng.random() ** (1.0 / self.routes[i].weight) for i in indexes}
            indexes = sorted(indexes, key=lambda i: -keys[i])
        now = self._clock.monotonic()
        waits = {i: self._backlog(i) for i in indexes}
        return sorted(
            indexes,
            key=lambda i: (self._cooling.get(self.routes[i].label, 0.0) > now, waits[i]),
        )

    def cool(self, route: Route) -> None:
        self._cooling[route.label] = self._clock.monotonic() + self.cooldown


@dataclass
class Trip:
    """One request over the routes: what happened at each, for its warnings or its error."""

    router: Router
    outcomes: dict[str, str] = field(default_factory=dict)
    warnings: list[ImageWarning] = field(default_factory=list)
    last_error: ImageBridgeError | None = None
    plans: dict[int, Plan] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)

    def candidates(self, preflight: Callable[[int], Plan]) -> list[int]:
        """The routes to try, each pre-flighted by ``preflight(index)`` (which raises
        :class:`InvalidRequestError` when that route cannot honour the request)."""
        able: list[int] = []
        for index, route in enumerate(self.router.routes):
            try:
                self.plans[index] = preflight(index)
            except InvalidRequestError as error:
                reason = "; ".join(str(problem) for problem in error.problems) or str(error)
                self.reasons[index] = reason
                self.outcomes[route.label] = f"skipped: {reason}"
                self.warnings.append(
                    ImageWarning("route_skipped", f"route {route.label!r} skipped: {reason}")
                )
                continue
            able.append(index)
        return self.router.order(able)

    def failed(self, index: int, error: ImageBridgeError) -> bool:
        """Record a route's failure; True when the next route may be tried."""
        route = self.router.routes[index]
        planned = self.plans.get(index)
        split = planned is not None and len(planned.batches) > 1
        if not may_fall_back(error, split=split):
            return False
        what = f"{type(error).__name__}: {error}"
        self.outcomes[route.label] = f"failed: {what}"
        self.warnings.append(ImageWarning("route_failed", f"route {route.label!r} failed: {what}"))
        self.router.cool(route)
        self.last_error = error
        return True

    def served(self, index: int, result: ImageResult) -> ImageResult:
        result.route = self.router.routes[index].label
        result.warnings[:0] = self.warnings
        return result

    def exhausted(self) -> RoutesExhaustedError:
        ordered = {r.label: self.outcomes.get(r.label, "not tried") for r in self.router.routes}
        error = RoutesExhaustedError(ordered, refused=self.last_error is None)
        error.__cause__ = self.last_error
        return error
