"""One watched replay: a cassette's call through the real client, every request kept.

:func:`run_watched` makes the call the way :func:`~._runner.replay` does (a
:class:`~._replay.ReplayTransport`, the kit's fake clock) with two more things a user has: a
task journal (a file in a temporary folder, read back after the call) and a
:class:`~._watch.Watch` in front of the transport. :func:`invariant_problems` then reads
the task guarantees of :mod:`._invariants` off it.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._journal import JournalEntry, TaskJournal
from .._tasks import TaskHandle
from ._cassette import Cassette, Expected
from ._context import ProviderContext
from ._execute import REPLAY_KEY, WRONG_KEY, Observation, Runner
from ._invariants import accepted_problem, interval_problem, phase_problem
from ._match import diff_views, normalize_url
from ._replay import ReplayTransport
from ._support import FakeClock
from ._watch import Sent, Watch, origin_of

__all__ = [
    "WatchedRun",
    "accepted_task",
    "invariant_problems",
    "outcome_difference",
    "poll_target",
    "polls",
    "run_watched",
]

Mode = Literal["sync", "async"]


def accepted_task(cassette: Cassette) -> str | None:
    """The id of the task the cassette's call had accepted (None: no task, or ``wait`` on an
    id, which accepts nothing)."""
    expected, call = cassette.expected, cassette.call
    if expected is None or call is None or call.method == "wait":
        return None
    if expected.result is not None:
        return expected.result.task_id
    return expected.error.task_id if expected.error is not None else None


def _secrets(context: ProviderContext) -> list[str]:
    """The keys replays use, and the header values that carry them."""
    found = [REPLAY_KEY, WRONG_KEY]
    for key in (REPLAY_KEY, WRONG_KEY):
        found.extend(context.adapter.auth_headers(key).values())
    return found


@dataclass
class WatchedRun:
    """What one watched call did: its observed outcome (None when the replay could not
    follow it: ``failure``), every request, the journal after it and the handle JSON of a
    resumed task."""

    cassette: Cassette
    transport: ReplayTransport
    watch: Watch
    observation: Observation
    expected: Expected | None
    failure: AssertionError | None
    journal: list[JournalEntry] = field(default_factory=list)
    handle_json: str | None = None
    #: What the resuming client's wait() raised that is not a library error (an adapter
    #: that kept what it needs on the instance: a KeyError...).
    resume_error: Exception | None = None

    @property
    def api_origin(self) -> str:
        """The origin of the API the call was made to (credentials go there only)."""
        assert self.cassette.call is not None
        return origin_of(self.cassette.call.client.base_url)


def run_watched(
    cassette: Cassette,
    mode: Mode,
    context: ProviderContext,
    *,
    delays: bool = False,
    options: Mapping[str, Any] | None = None,
    resume: bool = False,
) -> WatchedRun:
    """Replay the cassette's call (with ``resume``: submit in one client, wait in another)
    with a task journal and every request watched; never raises for a replay that could
    not follow the call (see :attr:`WatchedRun.failure` and the transport's mismatches)."""
    call = cassette.call
    assert call is not None
    assert cassette.expected is not None
    expected = cassette.expected
    clock = FakeClock()
    transport = ReplayTransport(
        cassette, credential_headers=context.credential_headers(), delays=delays
    )
    observation = Observation(
        keep_progress=expected.result is not None and expected.result.progress is not None,
        keep_message=expected.error is not None and expected.error.message is not None,
        keep_stream=call.stream,
    )
    task_id = accepted_task(cassette)
    with contextlib.ExitStack() as stack:
        journal: TaskJournal | None = None
        if task_id:  # only a call that accepts a task writes to a journal
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="imagebridge-kit-"))
            journal = TaskJournal(Path(folder) / "journal.sqlite3")
            stack.callback(journal.close)
        watch = Watch(
            transport, clock=clock, secrets=_secrets(context), task_id=task_id, journal=journal
        )
        run = WatchedRun(cassette, transport, watch, observation, None, None)

        def returned() -> None:
            watch.calling = False

        def resumed(text: str) -> None:
            run.handle_json = text
            watch.client = 2

        runner = Runner(
            context.provider,
            call,
            context.registry,
            clock,
            cassette,
            client_options={"journal": False if journal is None else journal, **(options or {})},
            after_call=returned,
        )
        try:
            if resume and mode == "sync":
                run.expected = runner.resume_sync(watch, observation, resumed)
            elif resume:
                run.expected = asyncio.run(runner.resume_async(watch, observation, resumed))
            elif mode == "sync":
                run.expected = runner.run_sync(watch, observation)
            else:
                run.expected = asyncio.run(runner.run_async(watch, observation))
        except AssertionError as error:  # the replay could not follow the call
            run.failure = error
        except Exception as error:
            if watch.client != 2:
                raise
            run.resume_error = error
        run.journal = journal.entries() if journal is not None else []
    return run


def poll_target(
    context: ProviderContext, cassette: Cassette, task_id: str
) -> tuple[str, str] | None:
    """The method and URL the adapter polls the task with (its ``poll_request``), or None
    for an adapter that polls some other way."""
    assert cassette.call is not None
    base_url = cassette.call.client.base_url
    model = cassette.call.fields.get("model")
    handle = TaskHandle(
        provider=context.provider,
        base_url=base_url,
        task_id=task_id,
        model=model if isinstance(model, str) else None,
    )
    try:
        request = context.adapter_cls(base_url).poll_request(handle)
    except Exception:  # an adapter with its own wait(): nothing to compare it with
        return None
    return request.method.upper(), normalize_url(request.url)


def polls(run: WatchedRun, context: ProviderContext) -> list[Sent]:
    """The polls of the accepted task the call sent (requests to its poll URL)."""
    task_id = run.watch.task_id
    if task_id is None:
        return []
    target = poll_target(context, run.cassette, task_id)
    if target is None:
        return []
    return [
        sent
        for sent in run.watch.after_submit()
        if sent.during_call and (sent.method.upper(), normalize_url(sent.url)) == target
    ]


def _takes_tasks(run: WatchedRun, context: ProviderContext) -> bool:
    """Whether the model of the call declares asynchronous tasks."""
    assert run.cassette.call is not None
    model = run.cassette.call.fields.get("model")
    return context.capabilities(model if isinstance(model, str) else None).async_tasks


def invariant_problems(
    run: WatchedRun, context: ProviderContext, *, intervals: bool = True
) -> list[str]:
    """The task guarantees the watched call broke, one line each, for a model that declares
    asynchronous tasks: accepted (journaled) before any other request about its task,
    statuses mapped to the right phases and, with ``intervals``, polls within the adapter's
    ``poll_policy``."""
    if not _takes_tasks(run, context):
        return []
    problems: list[str | None] = []
    task_id = run.watch.task_id
    if task_id is not None:
        problems.append(accepted_problem(run.watch.after_submit(), task_id))
    problems.append(phase_problem(run.observation.reports))
    if intervals:
        policy = context.adapter.poll_policy
        problems.append(interval_problem(polls(run, context), policy, context.provider))
    return [problem for problem in problems if problem is not None]


def outcome_difference(cassette: Cassette, observed: Expected) -> str | None:
    """How ``observed`` differs from the cassette's recorded outcome (a diff), or None."""
    if observed == cassette.expected:
        return None
    assert cassette.expected is not None
    recorded = cassette.expected.model_dump(mode="json", exclude_none=True)
    got = observed.model_dump(mode="json", exclude_none=True)
    return (
        f"cassette {cassette.source or cassette.name}: the outcome differs from the"
        " recorded one; diff recorded -> observed:\n"
        + diff_views(recorded, got, "recorded outcome").replace("request sent", "observed")
    )
