"""The task guarantees that need a scenario of their own, derived from the recorded cassettes.

Every adapter whose models declare ``async_tasks`` is also put through these. None needs a
recording of its own: each is one of the provider's recorded task cassettes (``task_statuses``,
``text_to_image``...) changed in memory the way the world changes a task, and replayed
through the real client with a task journal, every request watched (:mod:`._observed`):

* ``task_resumed``: ``submit()`` in one client, the handle serialised, ``wait()`` on it in a
  new client: that one polls only, it never submits again;
* ``task_deadline``: a task that never finishes (its last unfinished poll answer, again and
  again) stops at the client's timeout with :class:`~imagebridge.ImageTimeoutError` carrying
  the task id, and stays in the journal to be resumed;
* ``task_poll_rate_limited``: the first poll is answered 429 with ``Retry-After`` (the
  provider's own 429, from ``rate_limited``); with the client's retries off, the next poll
  waits at least that long on the kit's fake clock;
* ``task_poll_failed``: a poll is refused (the provider's own 401, from ``auth_invalid``): the
  error carries the task id and the task stays resumable;
* ``task_download_failed``: a result image's download is answered 403: reading it raises an
  error carrying the task id.

The guarantees checked on every replay (accepted before the first poll, statuses -> phases,
poll intervals, credentials) are :mod:`._invariants`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._retry import RetryPolicy
from ._cassette import load_cassette
from ._context import ProviderContext
from ._derive import (
    MAX_POLLS,
    Base,
    Derivation,
    downloads_last,
    error_problem,
    fail,
    journal_problem,
    poll_bounds,
    sample_answer,
    settle,
    take_apart,
    text_answer,
    unfinished_poll,
)
from ._invariants import GuaranteeError, broken, credentials_problem
from ._match import normalize_url
from ._observed import Mode, WatchedRun, outcome_difference
from ._watch import Sent

__all__ = [
    "GUARANTEES",
    "GUARANTEE_NAMES",
    "Guarantee",
    "guarantee_skip",
    "run_guarantee",
    "with_guarantees",
]


def _resubmit(run: WatchedRun) -> Sent | None:
    """A request of the resuming client to the submit's method and URL."""
    submit = run.watch.submit
    if submit is None:
        return None
    target = (submit.method, normalize_url(submit.url))
    return next(
        (s for s in run.watch.sent if s.client == 2 and (s.method, normalize_url(s.url)) == target),
        None,
    )


def check_resumed(derivation: Derivation) -> None:
    base = derivation.base
    fix = (
        "Keep what polling needs in the TaskHandle (task_id, adapter_state), never on the"
        " adapter instance: another process resumes the task from the handle alone"
    )
    run = derivation.run(base.copy(), resume=True)
    error = run.resume_error
    if error is not None:
        raise GuaranteeError(
            broken(
                "resume from a handle",
                "a new client's wait() on the serialised TaskHandle raised"
                f" {type(error).__name__}: {error}",
                fix,
            )
        ) from error
    again = _resubmit(run)
    leaked = run.handle_json is not None and any(s in run.handle_json for s in run.watch.secrets)
    fail(
        run,
        credentials_problem(run.watch.sent, run.api_origin),
        None
        if again is None
        else broken(
            "resume from a handle",
            f"wait() on the handle in a new client sent {again.label}, the submit, again",
            "A resumed task is polled only, never submitted again (that pays twice): wait()"
            " starts from the handle (poll_request(task), read_task, collect)",
        ),
        None
        if not leaked
        else broken(
            "resume from a handle",
            "the TaskHandle serialised for resuming holds the API key",
            "Never put a secret in TaskHandle.adapter_state",
        ),
    )
    invariants = settle(run, derivation)
    assert run.expected is not None
    difference = outcome_difference(run.cassette, run.expected)
    fail(
        run,
        None
        if difference is None
        else broken(
            "resume from a handle",
            "wait() on the handle in a new client did not end as in the client that"
            " submitted it (the diff below)",
            fix,
        )
        + f"\n{difference}",
        *invariants,
    )
    run.transport.assert_all_played()


def check_deadline(derivation: Derivation) -> None:
    base = derivation.base
    unfinished = unfinished_poll(base)
    assert unfinished is not None
    floor, longest = poll_bounds(derivation.context)
    timeout = min(120.0, max(5.0, 10 * longest))
    copies = min(MAX_POLLS, math.ceil(timeout / max(floor, 0.05)) + 5)
    cassette = base.copy()
    cassette.interactions[base.polls[0] :] = [base.poll(unfinished) for _ in range(copies)]
    run = derivation.run(cassette, timeout=timeout)
    sent = [s for s in run.watch.after_submit() if s.during_call]
    statuses = [report.status for report in run.observation.reports if report.status]
    answer = base.cassette.interactions[unfinished].response
    status = repr(statuses[-1]) if statuses else f"HTTP {answer.status}"
    start = run.watch.submit.at if run.watch.submit is not None else 0.0
    elapsed = sent[-1].at - start if sent else 0.0
    guarantee = "the deadline respected"
    if run.transport.mismatches and not run.transport.unused():
        fail(
            run,
            credentials_problem(run.watch.sent, run.api_origin),
            broken(
                guarantee,
                f"a task that never finishes (every poll answered {status}) was polled"
                f" {len(sent)} times while the client's clock advanced {elapsed:g} s of its"
                f" {timeout:g} s timeout: the polls do not wait, so the deadline never ends"
                " them (a live API is flooded with polls until it does)",
                "Wait between polls: the shared engine does, by poll_policy (an interval"
                " > 0); an own wait() must yield Sleep(seconds) between its polls",
            ),
        )
    invariants = settle(run, derivation, intervals=False)
    assert run.expected is not None
    error = run.expected.error
    if error is None or error.type != "ImageTimeoutError":
        got = "returned a result" if error is None else f"raised {error.type} ({error.code or '-'})"
        fail(
            run,
            broken(
                guarantee,
                f"a task that never finishes (every poll answered {status}) {got} after"
                f" {elapsed:g} s, where the client's {timeout:g} s timeout must end it with"
                " ImageTimeoutError",
                "Keep polling an unfinished task (its statuses 'queued' or 'running', no"
                " limit of your own): the client's timeout ends it, with the task id",
            ),
            *invariants,
        )
    fix = "Yield Accepted(task) in submit(), and let the client's timeout end the polling"
    what = f"a task that never finished was stopped by the {timeout:g} s timeout"
    fail(
        run,
        error_problem(run, base.task_id, what, fix),
        journal_problem(run, base.task_id, "the timeout", ("accepted", "fetched")),
        *invariants,
    )


def check_rate_limited(derivation: Derivation) -> None:
    base = derivation.base
    _, longest = poll_bounds(derivation.context)
    seconds = float(min(50, math.ceil(2 * longest + 3)))
    limited = sample_answer(derivation.folder, "rate_limited", (429,))
    limited = limited or text_answer(429, "Too Many Requests")
    limited.headers = {
        name: value
        for name, value in limited.headers.items()
        if name.lower() not in ("retry-after", "retry-after-ms")
    }
    limited.headers["retry-after"] = f"{seconds:g}"
    cassette = base.copy()
    first = base.polls[0]
    cassette.interactions.insert(first, base.poll(first))
    cassette.interactions[first].response = limited
    run = derivation.run(cassette, retry=RetryPolicy(max_retries=0))
    invariants = settle(run, derivation)
    assert run.expected is not None
    guarantee = "Retry-After honoured on polls"
    sent = [s for s in run.watch.after_submit() if s.during_call]
    refused = next((i for i, s in enumerate(sent) if s.status == 429), None)
    problems: list[str | None] = []
    if refused is not None and refused + 1 < len(sent):
        gap = sent[refused + 1].at - sent[refused].at
        if gap + 1e-6 < seconds:
            problems.append(
                broken(
                    guarantee,
                    f"poll {sent[refused].label} was answered 429 with Retry-After:"
                    f" {seconds:g} and the next poll came {gap:g} s later (the client's"
                    " retries off, so the polling decides)",
                    "Wait at least Retry-After before polling again: the shared engine does"
                    " (Adapter.poll); an own wait() reads parse_retry_after(response.headers)",
                )
            )
    if run.expected.error is not None:
        problems.append(
            broken(
                guarantee,
                "a poll answered 429 with Retry-After ended the call with"
                f" {run.expected.error.type}",
                "A rate-limited poll is retried after Retry-After (error() must make the"
                " provider's 429 a RateLimitError): the task is still running",
            )
        )
    fail(run, *problems, *invariants)
    difference = outcome_difference(run.cassette, run.expected)
    if difference is not None:
        fail(
            run,
            broken(
                guarantee,
                "after a poll answered 429 the call did not end as recorded (the diff below)",
                "Retry the poll after Retry-After and go on polling as before",
            )
            + f"\n{difference}",
        )
    run.transport.assert_all_played()


def check_poll_failed(derivation: Derivation) -> None:
    base = derivation.base
    refused = sample_answer(derivation.folder, "auth_invalid", (401, 403))
    refused = refused or text_answer(401, "Unauthorized")
    cassette = base.copy()
    first = base.polls[0]
    cassette.interactions[first:] = [base.poll(first)]
    cassette.interactions[first].response = refused
    run = derivation.run(cassette)
    invariants = settle(run, derivation)
    what = f"a poll of task {base.task_id} was answered HTTP {refused.status}"
    fix = (
        "Yield Accepted(task) in submit(): the client then puts the task on every later"
        " error; pass task_id=task.task_id to the errors you raise while polling"
    )
    fail(
        run,
        error_problem(run, base.task_id, what, fix),
        journal_problem(run, base.task_id, "a failed poll", ("accepted", "fetched")),
        *invariants,
    )


def check_download_failed(derivation: Derivation) -> None:
    base = derivation.base
    cassette = base.copy()
    cassette.interactions[-1].response = text_answer(403, "AccessDenied: the link has expired")
    run = derivation.run(cassette)
    invariants = settle(run, derivation)
    what = f"the download of an image of task {base.task_id} was answered HTTP 403"
    fix = (
        "Yield Accepted(task) in submit(): the client attaches the accepted task to the"
        " result, and an image whose download fails names its task, to be fetched again"
    )
    fail(
        run,
        error_problem(run, base.task_id, what, fix),
        journal_problem(run, base.task_id, "a failed download", ("fetched",)),
        *invariants,
    )
    run.transport.assert_all_played()


# -- the catalogue -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Guarantee:
    """A task guarantee checked by a scenario of its own, derived from ``bases``."""

    name: str
    description: str
    bases: tuple[str, ...]
    check: Callable[[Derivation], None]
    #: Why a base cannot be used (None: it can).
    unfit: Callable[[Base], str | None] = lambda base: None


GUARANTEES: tuple[Guarantee, ...] = (
    Guarantee(
        "task_resumed",
        "submit() in one client, the handle serialised, wait() on it in a new client: polls"
        " only, never a second submit, and the same images.",
        ("task_statuses",),
        check_resumed,
        lambda base: (
            None
            if base.cassette.call and base.cassette.call.method == "submit"
            else "it is not a submit() call"
        ),
    ),
    Guarantee(
        "task_deadline",
        "A task that never finishes stops at the client's timeout with ImageTimeoutError"
        " carrying its id, and stays journaled to be resumed.",
        ("task_statuses",),
        check_deadline,
        lambda base: (
            None
            if unfinished_poll(base) is not None
            else "it polls no unfinished status (record it with a task that takes several polls)"
        ),
    ),
    Guarantee(
        "task_poll_rate_limited",
        "The first poll answered 429 with Retry-After (the provider's own 429): with the"
        " client's retries off, the next poll waits at least that long.",
        ("task_statuses",),
        check_rate_limited,
    ),
    Guarantee(
        "task_poll_failed",
        "A poll refused with the provider's 401: the error carries the task id and the task"
        " stays resumable.",
        ("text_to_image", "task_statuses"),
        check_poll_failed,
    ),
    Guarantee(
        "task_download_failed",
        "A result image whose download is answered 403: reading it raises an error carrying"
        " the task id.",
        ("text_to_image", "result_url", "task_statuses"),
        check_download_failed,
        lambda base: None if downloads_last(base) else "its last request downloads no image",
    ),
)

GUARANTEE_NAMES = tuple(guarantee.name for guarantee in GUARANTEES)


def with_guarantees(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` (the shared scenarios) with the guarantees' own after the task scenarios."""
    tasks = [i for i, name in enumerate(names) if name.startswith("task_")]
    at = tasks[-1] + 1 if tasks else len(names)
    return (*names[:at], *GUARANTEE_NAMES, *names[at:])


def _base(guarantee: Guarantee, folder: Path, context: ProviderContext) -> Base | str:
    """The first of the guarantee's bases it can be derived from, or why none."""
    reasons = []
    for name in guarantee.bases:
        path = folder / f"{name}.json"
        if not path.is_file():
            reasons.append(f"{name}.json is missing")
            continue
        cassette = load_cassette(path)
        if cassette.not_applicable is not None:
            reasons.append(f"{name} is not applicable ({cassette.not_applicable})")
            continue
        found = take_apart(cassette, context)
        reason = found if isinstance(found, str) else guarantee.unfit(found)
        if reason is None and not isinstance(found, str):
            return found
        reasons.append(f"{name}: {reason}")
    return f"derived from a recorded task scenario, but {'; '.join(reasons)}"


def guarantee_skip(name: str, folder: Path, context: ProviderContext) -> str | None:
    """Why the guarantee ``name`` is not checked for this provider (None: it is)."""
    guarantee = next(g for g in GUARANTEES if g.name == name)
    reason = context.choose_model(("async_tasks",))[1]
    if reason is not None:
        return reason
    found = _base(guarantee, folder, context)
    return found if isinstance(found, str) else None


def run_guarantee(
    name: str, mode: Mode, folder: Path, context: ProviderContext, *, delays: bool = False
) -> None:
    """Check one guarantee; raise :class:`GuaranteeError` (or the replay's own error)."""
    guarantee = next(g for g in GUARANTEES if g.name == name)
    found = _base(guarantee, folder, context)
    if isinstance(found, str):
        raise ValueError(found)
    guarantee.check(Derivation(found, folder, mode, context, delays))
