"""The task guarantees checked on every replayed scenario, from what the client did on the wire.

A task-based adapter owes its users more than the right images: the task must be journaled
before anything waits on it, its statuses must mean what they say, polls must keep to the
adapter's :class:`~imagebridge.adapter.PollPolicy`, and the key must go to the API's own
origin only. Replaying a cassette through the real client shows all of it (see
:class:`~._watch.Watch`); each broken guarantee is one line that names it, says what
happened and what to fix. The scenarios of their own (a task that never ends, a poll
answered 429, a resumed handle...) are :mod:`._guarantees`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from .._flow import Progress
from .._polling import MAX_RETRY_AFTER, PollPolicy
from ._watch import Sent

__all__ = [
    "QUEUED_STATUSES",
    "RUNNING_STATUSES",
    "GuaranteeError",
    "accepted_problem",
    "broken",
    "credentials_problem",
    "interval_problem",
    "phase_problem",
]

#: Provider statuses of a task waiting for its turn: reported as the ``queued`` phase.
QUEUED_STATUSES = frozenset(
    {
        *("queued", "pending", "waiting", "submitted", "created", "scheduled", "enqueued"),
        *("in_queue", "not_started"),
    }
)
#: Provider statuses of a task being worked on: reported as the ``running`` phase.
RUNNING_STATUSES = frozenset(
    {
        *("running", "working", "processing", "in_progress", "inprogress", "rendering"),
        *("generating", "started", "active", "executing", "dispatched", "busy"),
    }
)
#: Slack for float arithmetic on the fake clock.
_EPSILON = 1e-6


class GuaranteeError(AssertionError):
    """A task guarantee the adapter breaks (the message names it and says what to fix)."""


def broken(guarantee: str, what: str, fix: str) -> str:
    """The one line of a broken guarantee."""
    return f"task guarantee {guarantee!r} broken: {what}. {fix}"


def _normal(status: str) -> str:
    return status.strip().lower().replace("-", "_").replace(" ", "_")


def credentials_problem(sent: Sequence[Sent], api_origin: str) -> str | None:
    """The first request that carried the API key to another origin than the API's."""
    for item in sent:
        if item.key_in is not None and item.origin != api_origin:
            return broken(
                "credentials only on the API's origin",
                f"the API key was sent to {item.origin} (request {item.label}, in"
                f" {item.key_in}), which is not the API's origin {api_origin}",
                "Never put the key on a request yourself: the client adds auth_headers() to"
                " the requests to the base URL's origin, and nowhere else. Return result"
                " links as GeneratedImage(url=...): the client downloads them without the key"
                " (download_auth = True sends it to links on the API's own origin only)",
            )
    return None


def accepted_problem(sent: Sequence[Sent], task_id: str) -> str | None:
    """The first request about an accepted task sent before the task was journaled."""
    for item in sent:
        if item.during_call and item.journaled is False:
            return broken(
                "accepted before the first poll",
                f"the provider answered with task {task_id}, but when request {item.label}"
                " was sent the task was not in the client's task journal",
                "submit() must yield Accepted(task) as soon as the provider returns a task"
                " id, before polling it: without it the task is never journaled, a timeout"
                " or a crash loses the paid image, and errors after the submit carry no task"
                " id (imagebridge tasks cannot resume it)",
            )
    return None


def phase_problem(reports: Sequence[Progress]) -> str | None:
    """The first provider status reported as a phase its name (or its progress) rules out.

    The statuses are the cassette's recorded poll answers as the adapter's ``read_task``
    read them (the engine reports each one with its phase as the progress stage): a status
    named like one of :data:`RUNNING_STATUSES` must be ``running``, one named like
    :data:`QUEUED_STATUSES` must be ``queued``, and a status of any other name reported
    with progress strictly between 0 and 100 % is ``running``.
    """
    for report in reports:
        if report.status is None or report.stage not in ("queued", "running"):
            continue
        status = _normal(report.status)
        if status in RUNNING_STATUSES:
            wanted, why = "running", "names a task being worked on"
        elif status in QUEUED_STATUSES:
            wanted, why = "queued", "names a task waiting for its turn"
        elif report.percent is not None and 0 < report.percent < 100:
            wanted, why = "running", f"came with progress ({report.percent:g} %)"
        else:
            continue
        if report.stage != wanted:
            progress = "" if report.percent is None else f" at {report.percent:g} %"
            return broken(
                "status -> phase mapping",
                f"read_task read the recorded status {report.status!r}{progress} as phase"
                f" {report.stage!r}, but {report.status!r} {why}",
                f"Return TaskState({report.status!r}, {wanted!r}, ...) for it in read_task."
                " The kit derives the phase from the cassette's recorded statuses: running for"
                f" {', '.join(sorted(RUNNING_STATUSES))} or any status with progress between 0"
                f" and 100 %; queued for {', '.join(sorted(QUEUED_STATUSES))}",
            )
    return None


def _policy_text(policy: PollPolicy) -> str:
    return (
        f"PollPolicy(interval={policy.interval:g}, backoff={policy.backoff:g},"
        f" max_interval={policy.max_interval:g}, min_interval={policy.floor:g})"
    )


def interval_problem(polls: Sequence[Sent], policy: PollPolicy, provider: str) -> str | None:
    """The first wait between two polls that the adapter's ``poll_policy`` does not allow.

    After a poll answered normally the next one comes between the policy's floor and the
    longest interval it grows to; after an answer with ``Retry-After``, not before it (capped
    at the engine's :data:`~imagebridge._polling.MAX_RETRY_AFTER`). Waits after an error
    answer are the client's retries, not the policy's: they are not checked here.
    """
    longest = max(policy.interval, policy.max_interval, policy.floor)
    for first, second in itertools.pairwise(polls):
        if first.status is None or first.status >= 400:
            continue
        gap = second.at - first.at
        if first.retry_after is not None:
            low, high = policy.clamp(min(first.retry_after, MAX_RETRY_AFTER)), None
        else:
            low, high = policy.floor, longest
        if gap + _EPSILON >= low and (high is None or gap <= high + _EPSILON):
            continue
        allowed = f"at least {low:g} s" if high is None else f"{low:g} to {high:g} s"
        return broken(
            "poll intervals within PollPolicy",
            f"polls {first.label} and #{second.number} were {gap:g} s apart on the client's"
            f" clock; {provider}'s poll_policy ({_policy_text(policy)}) allows {allowed}"
            " between two polls",
            "Poll through the shared engine (poll_request() and read_task(): it waits by"
            " poll_policy and honours Retry-After), or yield Sleep(seconds) within the policy"
            " between the polls of your own wait()",
        )
    return None
