"""Taking a recorded task cassette apart, and what every derived guarantee scenario shares.

A :class:`Base` is a recorded success that accepted a task: the interaction whose answer
first names the task (its submit) and the ones that poll it. :mod:`._guarantees` changes a
copy of one (a task that never ends, a poll answered 429...) and replays it watched
(:class:`Derivation`); :func:`settle` then applies what every replay must do, and the
helpers below word the guarantees' failures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ._cassette import (
    Body,
    Cassette,
    Interaction,
    JsonBody,
    RecordedResponse,
    TextBody,
    load_cassette,
)
from ._context import ProviderContext
from ._invariants import GuaranteeError, broken, credentials_problem
from ._match import normalize_url
from ._observed import Mode, WatchedRun, accepted_task, invariant_problems, poll_target, run_watched

__all__ = [
    "MAX_POLLS",
    "Base",
    "Derivation",
    "downloads_last",
    "error_problem",
    "fail",
    "journal_problem",
    "poll_bounds",
    "sample_answer",
    "settle",
    "take_apart",
    "text_answer",
    "unfinished_poll",
]

#: The most polls a never-ending task is answered (an adapter that does not wait between
#: polls would otherwise poll it forever on the fake clock).
MAX_POLLS = 400


@dataclass(frozen=True)
class Base:
    """A recorded task cassette, taken apart: the task, its submit and its polls."""

    cassette: Cassette
    task_id: str
    #: The interaction whose answer first names the task.
    submit: int
    #: The interactions that poll it, in order.
    polls: list[int]

    def copy(self) -> Cassette:
        return self.cassette.model_copy(deep=True)

    def poll(self, at: int) -> Interaction:
        """A fresh interaction polling the task, answered as interaction ``at`` was."""
        item = self.cassette.interactions[self.polls[0]]
        answer = self.cassette.interactions[at].response
        return Interaction(request=item.request.model_copy(deep=True), response=answer)


def names_task(body: Body | None, task_id: str) -> bool:
    if isinstance(body, JsonBody):
        return task_id in json.dumps(body.value)
    return isinstance(body, TextBody) and task_id in body.text


def take_apart(cassette: Cassette, context: ProviderContext) -> Base | str:
    """The task, submit and polls of a recorded success, or why it has none."""
    task_id = accepted_task(cassette)
    call, expected = cassette.call, cassette.expected
    if task_id is None or expected is None or expected.result is None or call is None:
        return "it records no accepted task that succeeded"
    items = cassette.interactions
    submit = next(
        (i for i, item in enumerate(items) if names_task(item.response.body, task_id)), None
    )
    if submit is None or submit + 1 >= len(items):
        return "no request follows the answer that names its task"
    following = items[submit + 1].request
    target = poll_target(context, cassette, task_id) or (
        following.method.upper(),
        normalize_url(following.url),
    )
    found = [
        index
        for index in range(submit + 1, len(items))
        if (items[index].request.method.upper(), normalize_url(items[index].request.url)) == target
    ]
    if not found:
        return "it polls no task"
    return Base(cassette, task_id, submit, found)


def unfinished_poll(base: Base) -> int | None:
    """The last poll answered normally before the one that finished the task."""
    answered = [i for i in base.polls[:-1] if base.cassette.interactions[i].response.status < 400]
    return answered[-1] if answered else None


def downloads_last(base: Base) -> bool:
    last = len(base.cassette.interactions) - 1
    item = base.cassette.interactions[last]
    body = item.response.body
    kind = body.kind if body is not None else None
    return last not in base.polls and item.request.method == "GET" and kind in ("asset", "base64")


def sample_answer(folder: Path, name: str, statuses: tuple[int, ...]) -> RecordedResponse | None:
    """The provider's own last answer of a recorded error scenario (JSON or text only)."""
    path = folder / f"{name}.json"
    if not path.is_file():
        return None
    cassette = load_cassette(path)
    if cassette.not_applicable or not cassette.interactions:
        return None
    answer = cassette.interactions[-1].response
    body = answer.body
    plain = (
        body is None
        or isinstance(body, TextBody)
        or (isinstance(body, JsonBody) and not body.assets)
    )
    return answer.model_copy(deep=True) if answer.status in statuses and plain else None


def text_answer(status: int, text: str, headers: dict[str, str] | None = None) -> RecordedResponse:
    return RecordedResponse(
        status=status,
        headers={"content-type": "text/plain; charset=utf-8", **(headers or {})},
        body=TextBody(text=text),
    )


def poll_bounds(context: ProviderContext) -> tuple[float, float]:
    """The policy's shortest and longest wait between two polls."""
    policy = context.adapter.poll_policy
    return policy.floor, max(policy.interval, policy.max_interval, policy.floor)


# -- replaying a derived cassette ------------------------------------------------------------------
@dataclass(frozen=True)
class Derivation:
    """What a guarantee's check gets: the base, where it came from and how to replay."""

    base: Base
    folder: Path
    mode: Mode
    context: ProviderContext
    delays: bool

    def run(self, cassette: Cassette, **options: object) -> WatchedRun:
        resume = bool(options.pop("resume", False))
        return run_watched(
            cassette, self.mode, self.context, delays=self.delays, options=options, resume=resume
        )


def fail(run: WatchedRun, *problems: str | None) -> None:
    found = [problem for problem in problems if problem]
    if found:
        where = run.cassette.source.name if run.cassette.source else run.cassette.name
        raise GuaranteeError("\n".join(f"derived from {where}: {p}" for p in found))


def settle(run: WatchedRun, derivation: Derivation, *, intervals: bool = True) -> list[str]:
    """What every derived replay must also do: no key elsewhere and a replay that follows
    the call (else raise); the invariants it broke are returned, to be reported after the
    guarantee's own problems."""
    fail(run, credentials_problem(run.watch.sent, run.api_origin))
    if run.transport.mismatches:
        raise run.transport.mismatches[0]
    if run.failure is not None:
        raise run.failure
    return invariant_problems(run, derivation.context, intervals=intervals)


def journal_problem(
    run: WatchedRun, task_id: str, after: str, states: tuple[str, ...]
) -> str | None:
    entry = next((e for e in run.journal if e.task.task_id == task_id), None)
    if entry is None:
        return broken(
            "the task journaled",
            f"after {after}, task {task_id} is not in the client's task journal, so nothing"
            " can resume it",
            "Yield Accepted(task) in submit() as soon as the provider returns the task id",
        )
    if entry.state not in states:
        return broken(
            "the task journaled",
            f"after {after}, the journal has task {task_id} as {entry.state!r}, not"
            f" {' or '.join(states)}: it is still running at the provider and must stay"
            " resumable",
            "Raise the error of a failed request (self.error(response, task_id=...)); only a"
            " task the provider reports as failed is a TaskState with phase 'failed'",
        )
    return None


def error_problem(run: WatchedRun, task_id: str, what: str, fix: str) -> str | None:
    """The error the call had to end with must carry the task id."""
    assert run.expected is not None
    error = run.expected.error
    if error is None:
        return broken("the task id on later errors", f"{what} and the call succeeded", fix)
    if error.task_id != task_id:
        got = "no task id" if error.task_id is None else f"task id {error.task_id!r}"
        return broken(
            "the task id on later errors", f"{what} and raised {error.type} with {got}", fix
        )
    return None
