"""The one polling engine every asynchronous-task dialect uses.

An adapter supplies two small functions: one that builds the poll request and one that reads
a poll response into a :class:`TaskState` (its statuses mapped to not-finished, succeeded or
failed). :func:`poll_task` does the rest, the same way for every provider:

* waits between polls on the client's clock, growing the interval by ``backoff`` up to
  ``max_interval``, and honours a ``Retry-After`` header on any poll response, but never
  waits less than ``min_interval`` (a server saying ``Retry-After: 0`` cannot make it spin);
* stops at once on HTTP 404 (the task does not exist) with :class:`NotFoundError`;
* retries transient failures (no response, 429, 5xx, an HTML error page or a body it cannot
  read) up to ``max_transient_failures`` in a row, never dropping the task id;
* reports every status change as :class:`Progress`.

The overall deadline is not here: the driver enforces it on every sleep and request, and the
resulting :class:`ImageTimeoutError` carries the task id.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ._errors import (
    APIConnectionError,
    ConfigurationError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from ._flow import Flow, Progress, Sleep
from ._provider_errors import parse_retry_after

TaskPhase = Literal["queued", "running", "succeeded", "failed"]

#: Longest wait a provider's Retry-After may impose between two polls.
MAX_RETRY_AFTER = 60.0
#: The default floor between two polls (when ``interval`` is not shorter).
DEFAULT_MIN_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often to poll. ``interval`` is the first wait after submitting.

    ``min_interval`` is the floor of every wait between two polls, whatever the server's
    ``Retry-After`` says (zero, negative, a past date); None means the smaller of
    ``interval`` and 0.5 s, so a policy with a shorter interval keeps it.
    """

    #: Seconds before the first poll after acceptance, and between the first polls.
    interval: float = 2.0
    #: Each wait is the last one times this, up to ``max_interval``.
    backoff: float = 1.25
    #: The longest wait between two polls (a server's ``Retry-After`` may ask for more).
    max_interval: float = 5.0
    #: Polls in a row that may fail (no answer, 5xx, an unreadable body) before the task's
    #: error is raised; each failure waits as a poll would.
    max_transient_failures: int = 5
    #: The floor of every wait (see above).
    min_interval: float | None = None

    def __post_init__(self) -> None:
        for name in ("interval", "max_interval", "min_interval"):
            value = getattr(self, name)
            if value is not None and not _seconds(value):
                raise ConfigurationError(
                    f"PollPolicy {name}={value!r} is not allowed: it must be a finite number"
                    " of seconds >= 0"
                )
        if not _seconds(self.backoff) or self.backoff <= 0:
            raise ConfigurationError(
                f"PollPolicy backoff={self.backoff!r} is not allowed: it must be a finite"
                " number > 0"
            )

    @property
    def floor(self) -> float:
        """The shortest wait between two polls."""
        if self.min_interval is not None:
            return float(self.min_interval)
        return min(float(self.interval), DEFAULT_MIN_INTERVAL)

    def next_interval(self, current: float) -> float:
        return min(self.max_interval, current * self.backoff)

    def clamp(self, seconds: float) -> float:
        """``seconds`` (an interval or a server's Retry-After), but at least the floor."""
        return seconds if seconds >= self.floor else self.floor  # NaN: the floor


def _seconds(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


@dataclass(frozen=True, slots=True)
class TaskState:
    """One poll's answer: the provider's raw ``status``, what it means and its payload."""

    #: The provider's own status word, as it sent it (shown in progress reports).
    status: str
    #: What the status means: ``queued``, ``running``, ``succeeded`` or ``failed``.
    phase: TaskPhase
    #: Progress from 0 to 100, when the provider reports it.
    percent: float | None = None
    #: The adapter's parsed success payload (anything it needs to build the result).
    payload: Any = None
    #: For a failed task: the error to raise (usually from ``error_from_task``).
    error: ProviderError | None = None

    @property
    def finished(self) -> bool:
        return self.phase in ("succeeded", "failed")


def poll_task(
    *,
    task_id: str,
    provider: str,
    request: Callable[[], httpx.Request],
    read: Callable[[httpx.Response], TaskState],
    error: Callable[[httpx.Response], ProviderError],
    policy: PollPolicy,
    first_wait: float | None = None,
    max_polls: int | None = None,
    report: bool = True,
) -> Flow[TaskState]:
    """Poll until the task succeeds (return its state) or fails (raise its error).

    ``error`` turns an error response into the adapter's :class:`ProviderError`.
    ``first_wait`` overrides the wait before the first poll; with ``max_polls`` the engine
    returns the last state (possibly unfinished) after that many answered polls. With
    ``report=False`` it yields no progress (a follow-up fetch after the status said done).
    """
    polls = 0
    interval = policy.interval
    wait = policy.clamp(interval) if first_wait is None else first_wait
    failures = 0
    last: tuple[str, float | None] | None = None
    pace = _Pace()
    while True:
        if wait > 0:
            yield Sleep(wait)
            pace.slept(wait)
        try:
            response = yield request()
        except APIConnectionError:
            failures += 1
            if failures > policy.max_transient_failures:
                raise
            interval = policy.next_interval(interval)
            wait = policy.clamp(interval)
            continue
        assert response is not None
        retry_after = parse_retry_after(response.headers)
        try:
            if response.status_code == 404:
                raise _not_found(error(response), task_id)
            if response.is_error:
                raise error(response)
            state = read(response)
        except (ServerError, RateLimitError) as exc:
            exc.task_id = exc.task_id or task_id
            failures += 1
            if failures > policy.max_transient_failures:
                raise
            interval = policy.next_interval(interval)
            wait = policy.clamp(_capped(retry_after) if retry_after is not None else interval)
            continue
        failures = 0
        polls += 1
        if state.phase == "failed":
            failure = state.error or ServerError(
                f"task ended as {state.status!r}", provider=provider, code=state.status
            )
            failure.task_id = failure.task_id or task_id
            raise failure
        if report and (state.status, state.percent) != last:
            last = (state.status, state.percent)
            stage: Literal["queued", "running", "done"] = (
                "done" if state.phase == "succeeded" else state.phase
            )
            yield Progress(stage, state.status, state.percent, task_id, provider)
        if state.phase == "succeeded" or (max_polls is not None and polls >= max_polls):
            return state
        if retry_after is not None:
            wait = policy.clamp(_capped(retry_after))
        else:
            wait = policy.clamp(pace.wait(state.percent, interval, policy.max_interval))
            interval = policy.next_interval(interval)


class _Pace:
    """When a task that reports its percentage should be done, from the rate it advances at.

    A task at 40 % after 2 s of a 5 s job is polled again when it should be done (just
    after 5 s), neither at the policy's next interval (too early: one more poll) nor after it
    (late), within the policy's bounds (its floor and ``max_interval``): this cuts both the
    delay between "ready" and "fetched" and the polls per task. Time here is the
    sum of the engine's own sleeps (the flow is sans-I/O and sees no clock): request time is
    left out, so the estimate errs early, and an early poll only costs one more at the
    policy's floor. The first rate counts from the first sleep (the task was just accepted:
    for a resumed task the estimate is early, never late); later ones from the last two
    observations. Without a percentage, or with one that does not advance, the policy's
    interval stands.
    """

    #: Aim a little past the estimate, so the poll finds the task done.
    MARGIN = 1.05
    SLACK = 0.05

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.seen: tuple[float, float] | None = None

    def slept(self, seconds: float) -> None:
        self.elapsed += seconds

    def wait(self, percent: float | None, interval: float, longest: float) -> float:
        """The wait before the next poll: when the task should be done, at most ``longest``
        (the policy's ``max_interval``); the policy's ``interval`` without an estimate."""
        if percent is None or not 0.0 < percent < 100.0:
            return interval
        since, before = self.seen if self.seen is not None else (0.0, 0.0)
        self.seen = (self.elapsed, percent)
        span, gain = self.elapsed - since, percent - before
        if span <= 0.0 or gain <= 0.0:
            return interval
        left = (100.0 - percent) / (gain / span)
        return min(longest, left * self.MARGIN + self.SLACK)


def _capped(retry_after: float) -> float:
    return min(MAX_RETRY_AFTER, retry_after)


def _not_found(error: ProviderError, task_id: str) -> ProviderError:
    if not isinstance(error, NotFoundError):
        error = NotFoundError(
            error.message,
            provider=error.provider,
            status_code=404,
            code=error.code or "not_found",
            body=error.body,
        )
    error.message = f"task {task_id} was not found: {error.message}"
    error.args = (error.message,)
    error.task_id = task_id
    return error
