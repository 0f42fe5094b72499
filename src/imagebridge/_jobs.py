"""One running job and what it does with its task: the same for every operation.

A :class:`Job` is what a driver runs one flow under (generate, edit, submit, wait, check, a
batch item, a download): its deadline, retry policy and progress callback, and the task it
is about once the provider accepted one. The driver only sends, sleeps and reports; the job
decides what acceptance, a result and a failure mean for the task:

* :meth:`Job.accepted`: the task is written to the journal (under the job's label) before
  anything waits on it;
* :meth:`Job.finished`: the task is attached to the result, inline images are counted
  against ``max_download_bytes`` like downloads, and the task is marked fetched;
* :meth:`Job.partial`: a streamed partial image is counted against ``max_download_bytes``
  and kept (the last one only: each is more complete than the one before) for the error of
  a stream that breaks later;
* :meth:`Job.failed`: the task goes on the error (so it stays resumable), a task that itself
  failed is marked failed, the last partial image goes on it, and no secret is left in it.

:class:`TaskRecorder` is the only writer of the task journal; the client owns it and every
job of that client shares it (:class:`JobSettings`). No I/O here but the journal's own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ._errors import (
    ContentPolicyError,
    ImageBridgeError,
    InsufficientBalanceError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from ._flow import Accepted, PartialImage, Progress, ProgressCallback
from ._journal import JournalEntry, JournalState, TaskJournal
from ._ledger import SpendCall
from ._reading import too_large
from ._redact import Redactor
from ._result import ImageResult
from ._retry import RetryPolicy
from ._tasks import TaskHandle
from ._telemetry import Telemetry
from ._warnings import ImageWarning

if TYPE_CHECKING:
    from ._budget import CallCost
    from ._prices import Cost

__all__ = ["Job", "JobSettings", "Limits", "Note", "TaskRecorder"]

T = TypeVar("T")
#: What a running flow tells its consumer (the effects that need no I/O).
Note = Progress | Accepted | PartialImage
logger = logging.getLogger("imagebridge")
#: The telemetry of settings made without any: spans, but never the prompt.
_NO_PROMPT = Telemetry()


class TaskRecorder:
    """Writes accepted tasks and what became of them to a :class:`TaskJournal`, if any.

    A journal that cannot be written is logged, never a reason to abandon a paid task.
    """

    def __init__(self, journal: TaskJournal | None, redactor: Redactor, *, owned: bool) -> None:
        self.journal = journal
        self._redactor = redactor
        # A journal the client opened itself is closed with it; one passed in is the caller's.
        self._owned = owned
        if journal is not None:
            journal.scrub_with(redactor)

    def accepted(
        self, task: TaskHandle, label: str | None = None, cost: CallCost | None = None
    ) -> None:
        """Journal an accepted task; with ``cost``, its call goes to the ledger in the same
        commit (two writes, one commit: a commit is most of what journaling costs)."""
        if self.journal is None:
            return
        if cost is None or cost.row is not None:
            try:
                self.journal.record(task, label=label)
            except Exception as exc:
                self._warn(task, exc)
            return
        spend = SpendCall(cost.plan.provider, cost.plan.model, cost.estimate.usd)
        try:
            cost.row = self.journal.record(task, label=label, spend=spend)
        except Exception:
            # Each write on its own: a ledger that cannot be written never costs the task
            # its record (nor the reverse).
            self.accepted(task, label)
            self.spent(cost, task, label, None)

    def mark(
        self,
        task: TaskHandle,
        state: JournalState,
        *,
        paths: Sequence[str | os.PathLike[str]] = (),
        error: str | None = None,
    ) -> None:
        if self.journal is not None:
            try:
                self.journal.mark(task, state, paths=paths, error=error)
            except Exception as exc:
                self._warn(task, exc)

    def answered(
        self,
        task: TaskHandle | None,
        label: str | None,
        cost: CallCost | None,
        paid: Cost | None,
    ) -> None:
        """A call was answered: its ledger row gets ``paid`` (written now if it was not at
        acceptance) and its task, if any, is marked fetched; in one commit when both go."""
        if self.journal is None:
            return
        if task is not None and cost is not None and cost.row is not None and paid is not None:
            try:
                self.journal.mark(task, "fetched", spend_row=cost.row, actual=paid.usd)
            except Exception:  # noqa: S110 (each on its own below, as in accepted)
                pass
            else:
                return
        if cost is not None:
            self.spent(cost, task, label, paid)
        if task is not None:
            self.mark(task, "fetched")

    def saved(self, task: TaskHandle, paths: Sequence[str | os.PathLike[str]]) -> None:
        self.mark(task, "saved", paths=paths)

    def spent(
        self, cost: CallCost, task: TaskHandle | None, label: str | None, actual: Cost | None
    ) -> None:
        """Write a call to the spend ledger when it is accepted or answered (with its
        estimate, so a crash loses nothing), and its actual cost once known."""
        if self.journal is None:
            return
        try:
            if cost.row is None:
                cost.row = self.journal.record_spend(
                    provider=cost.plan.provider,
                    model=cost.plan.model,
                    task_id=None if task is None else task.task_id,
                    label=label or cost.label,
                    estimate=cost.estimate.usd,
                    actual=None if actual is None else actual.usd,
                )
            elif actual is not None:
                self.journal.update_spend(cost.row, actual=actual.usd)
        except Exception as exc:
            logger.warning("could not write the spend ledger: %s", exc)

    def entries(self, label: str) -> list[JournalEntry]:
        """The journaled tasks under ``label``, oldest first (none without a journal)."""
        if self.journal is None or not self.journal.exists():
            return []
        return self.journal.entries(label=label)

    def close(self) -> None:
        if self.journal is not None and self._owned:
            self.journal.close()

    def _warn(self, task: TaskHandle, exc: Exception) -> None:
        logger.warning("could not journal task %s: %s", self._redactor.text(task.task_id), exc)


@dataclass(frozen=True, slots=True)
class JobSettings:
    """What every job of one client shares."""

    provider: str
    recorder: TaskRecorder
    redactor: Redactor
    retry: RetryPolicy
    on_progress: ProgressCallback | None
    max_download_bytes: int | None
    #: Spans of every job (:mod:`imagebridge._telemetry`); no-ops without OpenTelemetry.
    telemetry: Telemetry = _NO_PROMPT


class Limits:
    """How long a run of exchanges may take (a flow, or a download) and how its failed
    requests are retried."""

    __slots__ = ("deadline", "retry", "timeout")

    def __init__(self, *, timeout: float | None, now: float, retry: RetryPolicy) -> None:
        self.timeout = timeout
        #: On the client's clock (:meth:`~imagebridge._clock.Clock.monotonic`).
        self.deadline = None if timeout is None else now + timeout
        self.retry = retry


class Job(Limits):
    """One running flow: its limits, its progress callback and, once accepted, its task."""

    __slots__ = ("cost", "label", "last_partial", "on_progress", "settings", "task", "trace")

    def __init__(
        self,
        settings: JobSettings,
        *,
        timeout: float | None,
        now: float,
        retry: RetryPolicy | None = None,
        on_progress: ProgressCallback | None = None,
        task: TaskHandle | None = None,
        label: str | None = None,
        cost: CallCost | None = None,
    ) -> None:
        super().__init__(timeout=timeout, now=now, retry=retry or settings.retry)
        self.settings = settings
        self.on_progress = on_progress or settings.on_progress
        self.task = task
        #: The journal label of a task this job will submit (batch items).
        self.label = label
        self.last_partial: PartialImage | None = None
        #: This call's estimate, budget reservation and ledger row (None: not counted).
        self.cost = cost
        #: The job's span (:mod:`imagebridge._telemetry`): the driver starts and ends it.
        self.trace = settings.telemetry.job(settings.redactor)

    def note(self, effect: Note) -> Note:
        """What the flow reported, once the job has done its part (journal, bounds)."""
        if isinstance(effect, Accepted):
            self.accepted(effect.task)
        elif isinstance(effect, PartialImage):
            self.partial(effect)
        return effect

    def accepted(self, task: TaskHandle) -> None:
        """The provider accepted ``task``: journal it now, before anything waits on it."""
        self.task = task
        if self.cost is not None:
            self.cost.keep()  # accepted: the task may be paid, whatever happens next
        self.settings.recorder.accepted(task, self.label, self.cost)
        self.trace.accepted(task)

    def partial(self, event: PartialImage) -> PartialImage:
        """A partial image arrived: bounded like a result image, and kept for errors."""
        self._check_size(event.image.inline_size(), f"partial image {event.index}")
        self.last_partial = event
        return event

    def finished(self, value: T) -> T:
        """A flow's result, with its task attached and journaled as fetched."""
        if isinstance(value, ImageResult):
            paid = None
            if self.cost is not None:
                # The call was answered, so it is paid, whatever fails next.
                paid = self.cost.actual(value.usage)
                self.cost.settle(paid)
                value.cost = paid if paid.usd is not None else self.cost.estimate
                if value.cost.usd is None and self.cost.budget is not None:
                    value.warnings.append(
                        ImageWarning(
                            "price_unknown",
                            f"the cost of this call is unknown ({value.cost.basis}): the"
                            " budget counted it as $0",
                        )
                    )
            recorder, task = self.settings.recorder, self.task
            try:
                self.check_inline(value)
            except BaseException:
                if self.cost is not None:
                    recorder.spent(self.cost, task, self.label, paid)
                raise
            if task is not None:
                if task not in value.tasks:
                    value.tasks.append(task)
                if task.task_id not in value.task_ids:
                    value.task_ids.append(task.task_id)
            recorder.answered(task, self.label, self.cost, paid)
        self.trace.finished(value)
        return value

    def failed(self, error: ImageBridgeError) -> ImageBridgeError:
        """Keep the task on the error and make sure no secret is in it."""
        redactor = self.settings.redactor
        if error.last_partial is None:
            error.last_partial = self.last_partial
        task = self.task
        if self.cost is not None:
            if task is None and not isinstance(error, SubmitOutcomeUnknownError):
                self.cost.release()  # never accepted nor answered: nothing to pay
            else:
                self.cost.keep()
        if task is not None:
            error.task = task
            if error.task_id is None:
                error.task_id = task.task_id
            if _task_ended(error):
                # The task itself ended as failed: it is finished, not resumable. Errors the
                # library raises about a reply (too large, a bad URL) leave it resumable.
                self.settings.recorder.mark(task, "failed", error=redactor.text(error.message))
        self.trace.failed(error.scrub(redactor))
        return error

    def check_inline(self, result: ImageResult) -> None:
        """Count each inline image (base64, ``data:`` URLs, bytes) against
        ``max_download_bytes`` as a download would be, without decoding it."""
        for index, image in enumerate(result.images):
            self._check_size(image.inline_size(), f"inline image {index}")

    def _check_size(self, size: int | None, what: str) -> None:
        limit = self.settings.max_download_bytes
        if limit is not None and size is not None and size > limit:
            raise too_large(self.settings.provider, what, limit, "download")


def _task_ended(error: ImageBridgeError) -> bool:
    """Whether ``error`` is the task's own failure (as :func:`error_from_task` makes it):
    no HTTP status, and one of the classes a failed task ends with."""
    failed = TaskFailedError | ContentPolicyError | InsufficientBalanceError
    return isinstance(error, failed) and error.status_code is None
