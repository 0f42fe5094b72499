"""Task statuses and failure bodies, read the same way by every task dialect built in here.

Dialects name the same states differently (dimilinks ``queued|in_progress|succeeded``,
APIMart ``pending|processing|completed|cancelled``, legacy ``success|dispatched|running``);
the sets below accept all of them. An unknown status is treated as not finished: the
overall deadline bounds the wait.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from imagebridge.adapter import (
    Adapter,
    ErrorCodes,
    GeneratedImage,
    ImageResult,
    ServerError,
    TaskHandle,
    TaskPhase,
    TaskState,
    cut,
    error_from_task,
)

QUEUED = frozenset({"queued", "pending", "submitted", "waiting"})
RUNNING = frozenset({"in_progress", "running", "processing", "dispatched", "generating"})
SUCCEEDED = frozenset({"succeeded", "success", "completed", "complete", "done"})
FAILED = frozenset({"failed", "failure", "error", "cancelled", "canceled", "expired"})


def phase_of(status: str) -> TaskPhase:
    if status in SUCCEEDED:
        return "succeeded"
    if status in FAILED:
        return "failed"
    return "queued" if status in QUEUED else "running"


def percent_of(value: Any) -> float | None:
    """A progress percentage in 0-100, or None for anything that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        percent = float(value)
    except (ValueError, OverflowError):  # OverflowError: an integer of 400 digits
        return None
    return max(0.0, min(100.0, percent)) if math.isfinite(percent) else None


def failed_state(
    *,
    provider: str,
    task_id: str,
    status: str,
    body: Mapping[str, Any],
    percent: float | None,
    codes: ErrorCodes | None,
) -> TaskState:
    """A failed :class:`TaskState` from ``error`` as an object or a string, or flat fields."""
    error = body.get("error")
    # The dimilinks backend puts the code in error_code and a human text in fail_reason.
    code: Any = body.get("error_code") or status
    message: Any = body.get("error_message") or body.get("fail_reason") or body.get("message")
    if isinstance(error, Mapping):
        code = error.get("code") or code
        message = error.get("message") or error.get("detail") or message
    elif isinstance(error, str) and error:
        message = error
    return TaskState(
        status,
        "failed",
        percent,
        error=error_from_task(
            provider=provider,
            task_id=task_id,
            code=code,
            message=message,
            codes=codes,
            body=dict(body),
        ),
    )


def task_state(
    body: Mapping[str, Any],
    *,
    provider: str,
    task_id: str,
    codes: ErrorCodes | None,
    payload: Any,
) -> TaskState:
    """One poll's task object as a :class:`TaskState`; ``payload`` is kept on success."""
    status = str(body.get("status") or "unknown").lower()
    percent = percent_of(body.get("progress"))
    phase = phase_of(status)
    if phase == "succeeded":
        return TaskState(status, "succeeded", 100.0, payload)
    if phase == "failed":
        return failed_state(
            provider=provider,
            task_id=task_id,
            status=status,
            body=body,
            percent=percent,
            codes=codes,
        )
    return TaskState(status, phase, percent)


def submitted_id(adapter: Adapter, response: httpx.Response, value: Any) -> str:
    """The task id of a submit answer; a ServerError when there is none, or when it cannot
    name a task in a poll URL (``..``, a path, a query, control characters)."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise adapter.unexpected(response, "the submit answer has no task id")
    task_id = str(value)
    reason = TaskHandle.id_problem(task_id)
    if reason is not None:
        shown = cut(task_id, 80)
        raise adapter.unexpected(
            response, f"the task id {shown!r} {reason}; the task cannot be polled"
        )
    return task_id


def task_result(
    provider: str, task: TaskHandle, images: list[GeneratedImage], payload: Mapping[str, Any]
) -> ImageResult:
    """The result of a succeeded task; a success without usable images is a ServerError."""
    if not images:
        raise ServerError(
            "the task succeeded but its result has no usable images",
            provider=provider,
            code="empty_result",
            task_id=task.task_id,
            body=dict(payload),
        )
    created = payload.get("created")
    return ImageResult(
        images=images,
        provider=provider,
        model=task.model,
        task_ids=[task.task_id],
        created=created if isinstance(created, int) else None,
        raw=[payload],
    )
